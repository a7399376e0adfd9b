#include "controller/policy/desired.h"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <set>
#include <tuple>

namespace routelet::policy {
namespace {

constexpr size_t kMaxProblems = 32;
constexpr ip::Family kFamilies[] = {ip::Family::kV4, ip::Family::kV6};

// Names of sets and chains: a prefix and 16 hex digits of FNV-1a over what they stand for.
std::string hashed(const char* prefix, const std::string& what, const char* suffix = "") {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : what) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  char buf[40];
  std::snprintf(buf, sizeof buf, "%s%016llx%s", prefix, static_cast<unsigned long long>(h), suffix);
  return buf;
}

const char* fam(ip::Family f) {
  return f == ip::Family::kV4 ? "4" : "6";
}
const char* match(ip::Family f) {
  return f == ip::Family::kV4 ? "ip" : "ip6";
}
std::string policyName(const model::NetworkPolicyObject& p) {
  return p.ns + "/" + p.name;
}

// One match of a rule, for one family or for both.
struct Match {
  std::optional<ip::Family> family;
  std::string text;
};

// Computes the table for one node: what the sets hold is looked up once per selection.
class Builder {
 public:
  explicit Builder(const Cluster& cluster) : c_(cluster) {}

  Desired build() {
    localPods();
    // A policy whose podSelector cannot be read selects no pod: say so, wherever it is.
    for (const auto& [key, policy] : c_.policies())
      if (!policy.podSelector) report(policy);
    for (auto& [key, isolation] : isolated_) {
      (void)key;
      for (bool in : {true, false}) {
        auto& chains = in ? isolation.ingress : isolation.egress;
        if (chains.empty()) continue;
        std::string sig;
        for (const auto& ch : chains) sig += ch + ",";
        std::string iso = hashed(in ? "ii_" : "ie_", sig);
        if (!out_.chains.contains(iso)) {
          std::vector<std::string> rules;
          for (const auto& ch : chains) rules.push_back("jump " + ch);
          rules.push_back("drop");
          out_.chains[iso] = std::move(rules);
        }
        for (const auto& a : isolation.ips) (in ? out_.ingress : out_.egress)[a] = iso;
      }
    }
    portSets();
    return std::move(out_);
  }

 private:
  struct Isolation {
    std::vector<ip::Address> ips;
    std::set<std::string> ingress, egress;  // policy chain names
  };

  // Every local pod, the policies that select it, and their chains.
  void localPods() {
    // An address two local pods claim (one terminating, its successor starting) belongs to
    // the one not being deleted; between equals, the first by namespace and name.
    std::map<ip::Address, std::pair<bool, Cluster::PolicyKey>> owner;
    for (const auto& [key, pod] : c_.localPods())
      for (const auto& a : pod->ips) {
        auto [it, added] = owner.try_emplace(a, pod->deleting, key);
        if (!added && it->second.first && !pod->deleting) it->second = {false, key};
      }
    for (const auto& [key, pod] : c_.localPods()) {
      const auto& [ns, name] = key;
      LocalPod report{ns, name, {}, {}, {}};
      Isolation iso;
      for (const auto& a : pod->ips)
        if (owner[a].second == key) iso.ips.push_back(a);
      report.ips = iso.ips;
      for (auto it = c_.policies().lower_bound({ns, ""});
           it != c_.policies().end() && it->first.first == ns; ++it) {
        const auto& policy = it->second;
        if (!policy.podSelector || !policy.podSelector->matches(*pod->labels)) continue;
        if (policy.ingress) {
          iso.ingress.insert(policyChain(policy, true));
          report.ingress.push_back(policyName(policy));
        }
        if (policy.egress) {
          iso.egress.insert(policyChain(policy, false));
          report.egress.push_back(policyName(policy));
        }
      }
      out_.pods.push_back(std::move(report));
      if (!iso.ips.empty() && (!iso.ingress.empty() || !iso.egress.empty()))
        isolated_[key] = std::move(iso);
    }
  }

  // Whether the pod's address is its own: a terminating pod's address that a pod not being
  // deleted holds (its successor at the same IP) is the successor's, with its labels.
  bool heldBy(const Pod& pod, const ip::Address& a) const {
    return !pod.deleting || !c_.heldByLivePod(a);
  }

  // What a policy could not say, once.
  void report(const model::NetworkPolicyObject& p) {
    if (reported_.insert(policyName(p)).second)
      for (const auto& problem : p.problems)
        if (out_.problems.size() < kMaxProblems)
          out_.problems.push_back(policyName(p) + ": " + problem);
  }

  // The chain of one policy in one direction, made the first time it is asked for.
  std::string policyChain(const model::NetworkPolicyObject& p, bool in) {
    std::string name = hashed(in ? "pi_" : "pe_", p.ns + "/" + p.name);
    if (out_.chains.contains(name)) return name;
    report(p);
    std::vector<std::string> rules;
    for (const auto& rule : in ? p.ingressRules : p.egressRules) {
      auto peers = peerMatches(p, rule, in);
      auto ports = portMatches(rule, in);
      for (const auto& peer : peers)
        for (const auto& port : ports) {
          if (peer.family && port.family && *peer.family != *port.family) continue;
          std::string text = peer.text;
          if (!port.text.empty()) text += (text.empty() ? "" : " ") + port.text;
          text += (text.empty() ? "" : " ") + std::string("accept");
          if (std::find(rules.begin(), rules.end(), text) == rules.end())
            rules.push_back(std::move(text));
        }
    }
    out_.chains[name] = std::move(rules);
    return name;
  }

  std::vector<Match> peerMatches(const model::NetworkPolicyObject& p, const model::PolicyRule& rule,
                                 bool in) {
    const char* dir = in ? "saddr" : "daddr";
    if (rule.anyPeer) return {Match{std::nullopt, ""}};
    std::vector<Match> out;
    for (const auto& peer : rule.peers) {
      if (peer.cidr) {
        ip::Family f = peer.cidr->family();
        std::string text = std::string(match(f)) + " " + dir + " " + peer.cidr->str();
        if (!peer.except.empty()) {
          text += std::string(" ") + match(f) + " " + dir + " != {";
          for (size_t i = 0; i < peer.except.size(); ++i)
            text += (i ? ", " : " ") + peer.except[i].str();
          text += " }";
        }
        out.push_back({f, std::move(text)});
        continue;
      }
      std::string key = selection(p.ns, peer);
      for (ip::Family f : kFamilies)
        out.push_back({f, std::string(match(f)) + " " + dir + " @" + hashed("s", key, fam(f))});
    }
    return out;
  }

  std::vector<Match> portMatches(const model::PolicyRule& rule, bool in) {
    if (rule.anyPort) return {Match{std::nullopt, ""}};
    std::vector<Match> out;
    for (const auto& port : rule.ports) {
      if (!port.name.empty()) {
        auto& need = named_[port.name];
        if (!in) {
          // Egress: the destination is a peer, whose named port must be in the set: every
          // pod's when the peer is any address or a block.
          need.all =
              need.all || rule.anyPeer ||
              std::any_of(rule.peers.begin(), rule.peers.end(),
                          [](const model::PolicyPeer& peer) { return peer.cidr.has_value(); });
          need.selections.insert(lastSelections_.begin(), lastSelections_.end());
        }
        for (ip::Family f : kFamilies)
          out.push_back({f, std::string(match(f)) + " daddr . meta l4proto . th dport @" +
                                hashed("n", port.name, fam(f))});
        continue;
      }
      std::string text = std::string("meta l4proto ") + nftProtocol(port.protocol);
      if (port.port) text += " th dport " + std::to_string(port.port);
      if (port.endPort) text += "-" + std::to_string(port.endPort);
      out.push_back({std::nullopt, std::move(text)});
    }
    lastSelections_.clear();
    return out;
  }

  // The address sets of one peer selection, filled the first time; returns its key.
  std::string selection(const std::string& policyNs, const model::PolicyPeer& peer) {
    std::string key = (peer.namespaces ? "*|" + peer.namespaces->text() : policyNs + "|-") + "|" +
                      (peer.pods ? peer.pods->text() : "-");
    lastSelections_.insert(key);
    if (selected_.contains(key)) return key;
    out_.selections.push_back({peer.namespaces ? "" : policyNs, peer.namespaces, peer.pods});
    auto& pods = selected_[key];
    auto take = [&](const std::map<std::string, Pod>& byName) {
      for (const auto& [name, pod] : byName)
        if (!peer.pods || peer.pods->matches(*pod.labels)) pods.push_back(&pod);
    };
    if (peer.namespaces) {
      for (const auto& [ns, labels] : c_.namespaces()) {
        if (!peer.namespaces->matches(*labels)) continue;
        auto it = c_.pods().find(ns);
        if (it != c_.pods().end()) take(it->second);
      }
    } else {
      auto it = c_.pods().find(policyNs);
      if (it != c_.pods().end()) take(it->second);
    }
    for (ip::Family f : kFamilies) {
      auto& set = out_.addressSets[hashed("s", key, fam(f))];
      for (const Pod* pod : pods)
        for (const auto& a : pod->ips)
          if (a.family() == f && heldBy(*pod, a)) set.push_back(a);
      std::sort(set.begin(), set.end());
      set.erase(std::unique(set.begin(), set.end()), set.end());
    }
    return key;
  }

  // Named ports: local pods' (ingress) and the egress peers' entries, per name.
  void portSets() {
    for (const auto& [name, need] : named_) {
      out_.portNames.push_back(name);
      out_.everyPodsPorts = out_.everyPodsPorts || need.all;
      std::set<const Pod*> pods;
      for (const auto& [key, pod] : c_.localPods()) pods.insert(pod);
      if (need.all)
        for (const auto& [ns, byName] : c_.pods())
          for (const auto& [podName, pod] : byName) pods.insert(&pod);
      for (const auto& key : need.selections)
        for (const Pod* pod : selected_[key]) pods.insert(pod);
      for (ip::Family f : kFamilies) {
        auto& set = out_.portSets[hashed("n", name, fam(f))];
        for (const Pod* pod : pods) {
          if (!pod->ports) continue;
          for (const auto& port : *pod->ports) {
            if (port.name != name) continue;
            for (const auto& a : pod->ips)
              if (a.family() == f && heldBy(*pod, a)) set.push_back({a, port.protocol, port.port});
          }
        }
        std::sort(set.begin(), set.end());
        set.erase(std::unique(set.begin(), set.end()), set.end());
      }
    }
  }

  struct NamedNeed {
    bool all = false;
    std::set<std::string> selections;
  };

  const Cluster& c_;
  Desired out_;
  std::map<std::pair<std::string, std::string>, Isolation> isolated_;
  std::map<std::string, std::vector<const Pod*>> selected_;
  std::map<std::string, NamedNeed> named_;
  std::set<std::string> lastSelections_;  // of the rule being rendered
  std::set<std::string> reported_;        // policies whose problems are in out_
};

}  // namespace

const char* nftProtocol(model::Protocol p) {
  switch (p) {
    case model::Protocol::kTCP:
      return "tcp";
    case model::Protocol::kUDP:
      return "udp";
    case model::Protocol::kSCTP:
      return "sctp";
  }
  return "tcp";
}

ip::Family familyOfSet(const std::string& name) {
  return !name.empty() && name.back() == '6' ? ip::Family::kV6 : ip::Family::kV4;
}

Desired desired(const Cluster& cluster) {
  return Builder(cluster).build();
}

bool affects(const Desired& d, const Cluster& cluster, const std::string& ns,
             const model::Labels& labels, const Ports* ports) {
  // A port set holds another node's pod when a selection takes it (below), or when it
  // holds every pod's entries of its name.
  if (ports && d.everyPodsPorts)
    for (const auto& port : *ports)
      if (std::binary_search(d.portNames.begin(), d.portNames.end(), port.name)) return true;
  const model::Labels* nsLabels = cluster.namespaceLabels(ns);
  for (const auto& s : d.selections) {
    if (s.namespaces ? !nsLabels || !s.namespaces->matches(*nsLabels) : s.ns != ns) continue;
    if (!s.pods || s.pods->matches(labels)) return true;
  }
  return false;
}

}  // namespace routelet::policy
