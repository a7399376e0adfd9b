#include "controller/kube/policy_decode.h"

#include <algorithm>
#include <initializer_list>
#include <string>
#include <vector>

#include "common/base/text.h"

namespace routelet::kube {
namespace {

using json = nlohmann::json;
using Path = std::vector<std::string>;

// Labels past these are hostile (the API server refuses keys over 317 and values over 63
// characters): dropped, with a problem line.
constexpr size_t kMaxLabels = 256;
constexpr size_t kMaxLabelKey = 317;
constexpr size_t kMaxLabelValue = 63;
constexpr size_t kMaxProblems = 16;
// A Pod's named ports and a policy's rules, peers, ports and selector terms.
constexpr size_t kMaxPorts = 128;
constexpr size_t kMaxEntries = 1024;

// A path is kept when it leads to one of `paths` or lies inside one.
KeepField keepPaths(std::initializer_list<Path> paths) {
  std::vector<Path> list(paths);
  return [list](const Path& p) {
    for (const auto& k : list) {
      size_t n = std::min(k.size(), p.size());
      if (std::equal(k.begin(), k.begin() + static_cast<std::ptrdiff_t>(n), p.begin())) return true;
    }
    return false;
  };
}

class Problems {
 public:
  explicit Problems(std::vector<std::string>* out) : out_(out) {}
  void add(const std::string& path, const std::string& what) {
    if (out_->size() < kMaxProblems) out_->push_back(path + ": " + what);
  }
  void bad(const std::string& path, const json& value, const std::string& why) {
    add(path, (value.is_string() ? quote(value.get<std::string>()) : quote(value.dump(), 64)) +
                  ": " + why);
  }

 private:
  std::vector<std::string>* out_;
};

const json* field(const json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  const auto& members = j.get_ref<const json::object_t&>();
  auto it = members.find(key);
  return it == members.end() || it->second.is_null() ? nullptr : &it->second;
}

std::string stringField(const json& j, const char* key) {
  const json* v = field(j, key);
  return v && v->is_string() ? v->get<std::string>() : "";
}

// metadata.labels or matchLabels: a map of strings. False when it cannot be read.
bool decodeLabels(const json* j, const std::string& path, model::Labels* out, Problems& problems) {
  if (!j) return true;
  if (!j->is_object()) {
    problems.bad(path, *j, "expected an object");
    return false;
  }
  bool ok = true;
  for (const auto& [k, v] : j->items()) {
    if (out->size() == kMaxLabels) {
      problems.add(path, "more than " + std::to_string(kMaxLabels) + " labels");
      return false;
    }
    std::string at = path + "[" + quote(k) + "]";
    if (!v.is_string()) {
      problems.bad(at, v, "expected a string");
      ok = false;
      continue;
    }
    const auto& value = v.get_ref<const std::string&>();
    if (k.empty() || k.size() > kMaxLabelKey || value.size() > kMaxLabelValue) {
      problems.bad(at, v, "not a valid label");
      ok = false;
      continue;
    }
    out->emplace_back(k, value);
  }
  std::sort(out->begin(), out->end());
  return ok;
}

std::optional<model::Protocol> protocolOf(const json* j) {
  if (!j) return model::Protocol::kTCP;  // the API's default
  if (!j->is_string()) return std::nullopt;
  for (auto p : {model::Protocol::kTCP, model::Protocol::kUDP, model::Protocol::kSCTP})
    if (*j == model::protocolName(p)) return p;
  return std::nullopt;
}

std::optional<uint16_t> portNumber(const json& j) {
  if (!j.is_number_integer()) return std::nullopt;
  auto v = j.get<int64_t>();
  if (v < 1 || v > 65535) return std::nullopt;
  return static_cast<uint16_t>(v);
}

// A metav1.LabelSelector; nullopt (with a problem) when any part of it cannot be read: a
// selector read in part would select more than it says.
std::optional<model::LabelSelector> decodeSelector(const json& j, const std::string& path,
                                                   Problems& problems) {
  if (!j.is_object()) {
    problems.bad(path, j, "expected an object");
    return std::nullopt;
  }
  model::LabelSelector sel;
  model::Labels labels;
  if (!decodeLabels(field(j, "matchLabels"), path + ".matchLabels", &labels, problems))
    return std::nullopt;
  for (auto& [k, v] : labels)
    sel.requirements.push_back({k, model::LabelRequirement::Op::kIn, {v}});
  if (const json* exprs = field(j, "matchExpressions")) {
    if (!exprs->is_array() || exprs->size() > kMaxEntries) {
      problems.bad(path + ".matchExpressions", *exprs, "expected an array");
      return std::nullopt;
    }
    for (size_t i = 0; i < exprs->size(); ++i) {
      const json& e = (*exprs)[i];
      std::string at = path + ".matchExpressions[" + std::to_string(i) + "]";
      model::LabelRequirement r;
      r.key = stringField(e, "key");
      std::string op = stringField(e, "operator");
      using Op = model::LabelRequirement::Op;
      if (op == "In") {
        r.op = Op::kIn;
      } else if (op == "NotIn") {
        r.op = Op::kNotIn;
      } else if (op == "Exists") {
        r.op = Op::kExists;
      } else if (op == "DoesNotExist") {
        r.op = Op::kDoesNotExist;
      } else {
        problems.bad(at + ".operator", field(e, "operator") ? *field(e, "operator") : json(""),
                     "unknown operator");
        return std::nullopt;
      }
      if (r.key.empty()) {
        problems.add(at + ".key", "missing");
        return std::nullopt;
      }
      if (const json* values = field(e, "values")) {
        if (!values->is_array() || values->size() > kMaxEntries) {
          problems.bad(at + ".values", *values, "expected an array");
          return std::nullopt;
        }
        for (const auto& v : *values) {
          if (!v.is_string()) {
            problems.bad(at + ".values", v, "expected a string");
            return std::nullopt;
          }
          r.values.push_back(v.get<std::string>());
        }
      }
      bool set = r.op == Op::kIn || r.op == Op::kNotIn;
      if (set == r.values.empty()) {
        problems.add(at + ".values", set ? "In and NotIn need values" : "must be empty for " + op);
        return std::nullopt;
      }
      std::sort(r.values.begin(), r.values.end());
      r.values.erase(std::unique(r.values.begin(), r.values.end()), r.values.end());
      sel.requirements.push_back(std::move(r));
    }
  }
  std::sort(sel.requirements.begin(), sel.requirements.end(), [](const auto& a, const auto& b) {
    return std::tie(a.key, a.op, a.values) < std::tie(b.key, b.op, b.values);
  });
  return sel;
}

std::optional<model::PolicyPeer> decodePeer(const json& j, const std::string& path,
                                            Problems& problems) {
  model::PolicyPeer peer;
  const json* pods = field(j, "podSelector");
  const json* namespaces = field(j, "namespaceSelector");
  const json* block = field(j, "ipBlock");
  if (block && (pods || namespaces)) {
    problems.add(path, "ipBlock together with a selector");
    return std::nullopt;
  }
  if (block) {
    std::string cidr = stringField(*block, "cidr");
    auto parsed = ip::Prefix::parse(cidr, false);
    if (!parsed) {
      problems.add(path + ".ipBlock.cidr", quote(cidr) + ": not a CIDR");
      return std::nullopt;
    }
    peer.cidr = parsed->network();
    if (const json* except = field(*block, "except")) {
      if (!except->is_array() || except->size() > kMaxEntries) {
        problems.bad(path + ".ipBlock.except", *except, "expected an array");
        return std::nullopt;
      }
      for (size_t i = 0; i < except->size(); ++i) {
        const json& e = (*except)[i];
        auto p = e.is_string() ? ip::Prefix::parse(e.get<std::string>(), false)
                               : Result<ip::Prefix>(makeError("not a string"));
        std::string at = path + ".ipBlock.except[" + std::to_string(i) + "]";
        if (!p || p->family() != peer.cidr->family() || !peer.cidr->contains(p->address()) ||
            p->length() < peer.cidr->length()) {
          // An exception that cannot be read would widen the block: drop the peer.
          problems.bad(at, e, "not a CIDR inside " + peer.cidr->str());
          return std::nullopt;
        }
        peer.except.push_back(p->network());
      }
      std::sort(peer.except.begin(), peer.except.end());
    }
    return peer;
  }
  if (!pods && !namespaces) {
    problems.add(path, "no podSelector, namespaceSelector or ipBlock");
    return std::nullopt;
  }
  if (pods) {
    peer.pods = decodeSelector(*pods, path + ".podSelector", problems);
    if (!peer.pods) return std::nullopt;
  }
  if (namespaces) {
    peer.namespaces = decodeSelector(*namespaces, path + ".namespaceSelector", problems);
    if (!peer.namespaces) return std::nullopt;
  }
  return peer;
}

std::optional<model::PolicyPort> decodePolicyPort(const json& j, const std::string& path,
                                                  Problems& problems) {
  model::PolicyPort port;
  auto protocol = protocolOf(field(j, "protocol"));
  if (!protocol) {
    problems.bad(path + ".protocol", *field(j, "protocol"), "not TCP, UDP or SCTP");
    return std::nullopt;
  }
  port.protocol = *protocol;
  if (const json* p = field(j, "port")) {
    if (p->is_string()) {
      port.name = p->get<std::string>();
      if (port.name.empty() || port.name.size() > 15) {
        problems.bad(path + ".port", *p, "not a port name");
        return std::nullopt;
      }
    } else if (auto n = portNumber(*p)) {
      port.port = *n;
    } else {
      problems.bad(path + ".port", *p, "not a port number or name");
      return std::nullopt;
    }
  }
  if (const json* e = field(j, "endPort")) {
    auto n = portNumber(*e);
    if (!n || port.port == 0 || *n < port.port) {
      problems.bad(path + ".endPort", *e, "needs a numeric port at or below it");
      return std::nullopt;
    }
    port.endPort = *n == port.port ? 0 : *n;
  }
  return port;
}

// from[]/to[] and ports[] of one rule. What cannot be read is dropped; a list that had
// entries and lost them all allows nothing (it is not "every peer").
model::PolicyRule decodeRule(const json& j, const char* peersKey, const std::string& path,
                             Problems& problems) {
  model::PolicyRule rule;
  const json* peers = field(j, peersKey);
  if (peers && (!peers->is_array() || peers->size() > kMaxEntries)) {
    problems.bad(path + "." + peersKey, *peers, "expected an array");
  } else if (!peers || peers->empty()) {
    rule.anyPeer = true;
  } else {
    for (size_t i = 0; i < peers->size(); ++i)
      if (auto peer = decodePeer((*peers)[i], path + "." + peersKey + "[" + std::to_string(i) + "]",
                                 problems))
        rule.peers.push_back(std::move(*peer));
  }
  const json* ports = field(j, "ports");
  if (ports && (!ports->is_array() || ports->size() > kMaxEntries)) {
    problems.bad(path + ".ports", *ports, "expected an array");
  } else if (!ports || ports->empty()) {
    rule.anyPort = true;
  } else {
    for (size_t i = 0; i < ports->size(); ++i)
      if (auto port =
              decodePolicyPort((*ports)[i], path + ".ports[" + std::to_string(i) + "]", problems))
        rule.ports.push_back(std::move(*port));
  }
  return rule;
}

std::vector<model::PolicyRule> decodeRules(const json* j, const char* peersKey,
                                           const std::string& path, Problems& problems) {
  std::vector<model::PolicyRule> rules;
  if (!j) return rules;
  if (!j->is_array() || j->size() > kMaxEntries) {
    problems.bad(path, *j, "expected an array");
    // Kept as one rule that allows nothing: the policy still isolates.
    return {model::PolicyRule{}};
  }
  for (size_t i = 0; i < j->size(); ++i)
    rules.push_back(decodeRule((*j)[i], peersKey, path + "[" + std::to_string(i) + "]", problems));
  return rules;
}

}  // namespace

ObjectQuery podsQuery(size_t maxItems) {
  return {"pods", "/api/v1/pods",
          keepPaths({{"metadata", "name"},
                     {"metadata", "namespace"},
                     {"metadata", "resourceVersion"},
                     {"metadata", "deletionTimestamp"},
                     {"metadata", "labels"},
                     {"spec", "nodeName"},
                     {"spec", "hostNetwork"},
                     {"spec", "containers", "ports", "name"},
                     {"spec", "containers", "ports", "containerPort"},
                     {"spec", "containers", "ports", "protocol"},
                     {"status", "phase"},
                     {"status", "podIP"},
                     {"status", "podIPs", "ip"}}),
          maxItems};
}

ObjectQuery namespacesQuery(size_t maxItems) {
  return {
      "namespaces", "/api/v1/namespaces",
      keepPaths({{"metadata", "name"}, {"metadata", "resourceVersion"}, {"metadata", "labels"}}),
      maxItems};
}

ObjectQuery networkPoliciesQuery(size_t maxItems) {
  return {"networkpolicies", "/apis/networking.k8s.io/v1/networkpolicies",
          keepPaths({{"metadata", "name"},
                     {"metadata", "namespace"},
                     {"metadata", "resourceVersion"},
                     {"spec"}}),
          maxItems};
}

model::PodObject decodePod(const json& object) {
  model::PodObject pod;
  Problems problems(&pod.problems);
  const json* meta = field(object, "metadata");
  const json* spec = field(object, "spec");
  const json* status = field(object, "status");
  if (meta) {
    pod.name = stringField(*meta, "name");
    pod.ns = stringField(*meta, "namespace");
    pod.resourceVersion = stringField(*meta, "resourceVersion");
    pod.deleting = field(*meta, "deletionTimestamp") != nullptr;
    decodeLabels(field(*meta, "labels"), "metadata.labels", &pod.labels, problems);
  }
  if (spec) {
    pod.nodeName = stringField(*spec, "nodeName");
    const json* host = field(*spec, "hostNetwork");
    pod.hostNetwork = host && host->is_boolean() && host->get<bool>();
    const json* containers = field(*spec, "containers");
    for (size_t c = 0; containers && containers->is_array() && c < containers->size(); ++c) {
      const json* ports = field((*containers)[c], "ports");
      for (size_t i = 0; ports && ports->is_array() && i < ports->size(); ++i) {
        const json& p = (*ports)[i];
        std::string name = stringField(p, "name");
        if (name.empty()) continue;
        std::string at =
            "spec.containers[" + std::to_string(c) + "].ports[" + std::to_string(i) + "]";
        auto number =
            field(p, "containerPort") ? portNumber(*field(p, "containerPort")) : std::nullopt;
        auto protocol = protocolOf(field(p, "protocol"));
        if (!number || !protocol || name.size() > 15) {
          problems.add(at, "port " + quote(name) + " is not a valid named port");
          continue;
        }
        if (pod.ports.size() == kMaxPorts) {
          problems.add(at, "more than " + std::to_string(kMaxPorts) + " named ports");
          break;
        }
        pod.ports.push_back({name, *protocol, *number});
      }
    }
    std::sort(pod.ports.begin(), pod.ports.end(), [](const auto& a, const auto& b) {
      return std::tie(a.name, a.protocol, a.port) < std::tie(b.name, b.protocol, b.port);
    });
  }
  if (status) {
    std::string phase = stringField(*status, "phase");
    pod.finished = phase == "Succeeded" || phase == "Failed";
    std::vector<std::string> texts;
    const json* ips = field(*status, "podIPs");
    for (size_t i = 0; ips && ips->is_array() && i < ips->size() && i < 4; ++i)
      texts.push_back(stringField((*ips)[i], "ip"));
    if (texts.empty()) texts.push_back(stringField(*status, "podIP"));
    for (size_t i = 0; i < texts.size(); ++i) {
      if (texts[i].empty()) continue;
      auto a = ip::Address::parse(texts[i]);
      if (!a) {
        problems.add("status.podIPs[" + std::to_string(i) + "].ip",
                     quote(texts[i]) + ": not an IP address");
        continue;
      }
      bool seen = std::any_of(pod.ips.begin(), pod.ips.end(),
                              [&](const ip::Address& b) { return b.family() == a->family(); });
      if (seen) {
        problems.add("status.podIPs[" + std::to_string(i) + "].ip",
                     quote(texts[i]) + ": a second address of its family");
        continue;
      }
      pod.ips.push_back(*a);
    }
  }
  return pod;
}

model::NamespaceObject decodeNamespace(const json& object) {
  model::NamespaceObject ns;
  std::vector<std::string> ignored;
  Problems problems(&ignored);
  if (const json* meta = field(object, "metadata")) {
    ns.name = stringField(*meta, "name");
    ns.resourceVersion = stringField(*meta, "resourceVersion");
    decodeLabels(field(*meta, "labels"), "metadata.labels", &ns.labels, problems);
  }
  return ns;
}

model::NetworkPolicyObject decodeNetworkPolicy(const json& object) {
  model::NetworkPolicyObject policy;
  Problems problems(&policy.problems);
  if (const json* meta = field(object, "metadata")) {
    policy.name = stringField(*meta, "name");
    policy.ns = stringField(*meta, "namespace");
    policy.resourceVersion = stringField(*meta, "resourceVersion");
  }
  const json* spec = field(object, "spec");
  if (!spec || !spec->is_object()) {
    problems.add("spec", "missing");
    return policy;
  }
  const json* selector = field(*spec, "podSelector");
  policy.podSelector =
      selector ? decodeSelector(*selector, "spec.podSelector", problems) : model::LabelSelector{};
  const json* ingress = field(*spec, "ingress");
  const json* egress = field(*spec, "egress");
  policy.ingressRules = decodeRules(ingress, "from", "spec.ingress", problems);
  policy.egressRules = decodeRules(egress, "to", "spec.egress", problems);
  const json* types = field(*spec, "policyTypes");
  if (types && types->is_array() && !types->empty()) {
    for (size_t i = 0; i < types->size(); ++i) {
      const json& t = (*types)[i];
      if (t == "Ingress") {
        policy.ingress = true;
      } else if (t == "Egress") {
        policy.egress = true;
      } else {
        // Unknown: isolate both ways rather than guess which the writer meant.
        problems.bad("spec.policyTypes[" + std::to_string(i) + "]", t, "not Ingress or Egress");
        policy.ingress = policy.egress = true;
      }
    }
  } else {
    // As the API server defaults it: Ingress always, Egress when there are egress rules.
    policy.ingress = true;
    policy.egress = egress && egress->is_array() && !egress->empty();
  }
  return policy;
}

}  // namespace routelet::kube
