#include "controller/admin/status_view.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

namespace routelet::admin {
namespace {

bool hasSuffix(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string baseName(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// "deleting": the Node is going away, so its route going away is what should happen.
bool peerStateOk(const std::string& state) {
  return state == "programmed" || state == "deleting";
}

// Checks a peer the agent believes programmed against the kernel's main table.
void verifyProgrammed(PeerView& peer, const PeerRecord& rec, const StatusFacts& facts) {
  if (!rec.podCIDR) return;
  const netlink::Route* ours = nullptr;
  const netlink::Route* foreign = nullptr;
  for (const auto& r : facts.routes) {
    if (r.dst.network() != rec.podCIDR->network()) continue;
    if (r.protocol == facts.routeProtocol) {
      if (!ours || (rec.nodeIP && r.gateway == rec.nodeIP)) ours = &r;
    } else if (!foreign) {
      foreign = &r;
    }
  }
  if (ours && rec.nodeIP && ours->gateway == rec.nodeIP) return;
  if (ours) {
    peer.state = "stale";
    peer.detail = "the kernel's route goes " +
                  (ours->gateway ? "via " + ours->gateway->str() : std::string("nowhere")) +
                  ", the peer's node IP is " + peer.nodeIP;
  } else if (foreign) {
    peer.state = "conflict";
    peer.detail = "no routelet route; held by " + netlink::describe(*foreign);
  } else {
    peer.state = "missing";
    peer.detail = "no route with proto " + std::to_string(facts.routeProtocol) +
                  " in the main table; the agent puts it back on its next pass";
  }
}

std::string answerLine(const HttpAnswer& a) {
  if (a.status == 0) return "no answer (" + a.body + ")";
  return std::to_string(a.status) + (a.body.empty() ? "" : " " + a.body);
}

std::string join(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : sep) + i;
  return out;
}

}  // namespace

std::string firstCniConfig(std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  for (const auto& n : names) {
    if (hasSuffix(n, ".conf") || hasSuffix(n, ".conflist") || hasSuffix(n, ".json")) return n;
  }
  return "";
}

StatusView assessStatus(const StatusFacts& facts) {
  StatusView v;
  v.statusPath = facts.statusPath;
  v.routeProtocol = facts.routeProtocol;
  v.listen = facts.listen;
  v.healthz = facts.healthz;
  v.readyz = facts.readyz;
  v.bridgeName = facts.bridgeName;
  v.cniConfigPath = facts.cniConfigPath;
  v.cniConfigPresent = facts.cniConfigPresent;
  v.cniConfigFirst = firstCniConfig(facts.cniConfDirFiles);
  auto& problems = v.problems;

  if (facts.healthz.status == 0) {
    problems.push_back("the agent does not answer on " + facts.listen + ": " + facts.healthz.body);
  } else if (facts.healthz.status != 200) {
    problems.push_back("the agent's /healthz says " + answerLine(facts.healthz));
  }

  std::map<std::pair<std::string, ip::Family>, bool> accounted;  // podCIDR network, family
  if (!facts.agent) {
    problems.push_back("no agent status in " + facts.statusPath + ": " + facts.agentError);
  } else {
    const AgentStatus& a = *facts.agent;
    v.node = a.node;
    v.ready = a.ready;
    v.agentState = a.state;
    v.notReadyReason = a.notReadyReason;
    for (const auto& c : a.podCIDRs) v.podCIDRs.push_back(c.str());
    for (const auto& ip : a.nodeIPs) v.nodeIPs.push_back(ip.str());
    if (!a.ready) {
      problems.push_back("the agent is not ready" +
                         (a.notReadyReason.empty() ? "" : ": " + a.notReadyReason));
    } else if (a.state != "ready") {
      problems.push_back("the agent reports " + a.state);
    }
    for (const auto& rec : a.peers) {
      PeerView p{rec.node,
                 ip::familyName(rec.family),
                 rec.nodeIP ? rec.nodeIP->str() : "",
                 rec.podCIDR ? rec.podCIDR->str() : "",
                 rec.state,
                 rec.detail,
                 false};
      if (rec.podCIDR) accounted[{rec.podCIDR->network().str(), rec.family}] = true;
      if (rec.state == "programmed" && facts.routesError.empty()) verifyProgrammed(p, rec, facts);
      p.ok = peerStateOk(p.state);
      v.peers.push_back(std::move(p));
    }
  }
  size_t bad =
      std::count_if(v.peers.begin(), v.peers.end(), [](const PeerView& p) { return !p.ok; });
  if (bad > 0) {
    problems.push_back(std::to_string(bad) + " of " + std::to_string(v.peers.size()) +
                       " peer routes not programmed");
  }

  if (!facts.routesError.empty()) {
    problems.push_back("cannot read the kernel's routes: " + facts.routesError);
  }
  for (const auto& r : facts.routes) {
    if (r.protocol != facts.routeProtocol) continue;
    if (!accounted.count({r.dst.network().str(), r.dst.family()}))
      v.extraRoutes.push_back(netlink::describe(r));
  }

  if (facts.bridge) {
    v.bridgePresent = true;
    v.bridgeUp = facts.bridge->up;
    v.bridgeMtu = facts.bridge->mtu;
    if (!facts.bridge->up) problems.push_back("bridge " + facts.bridgeName + " is down");
  } else {
    problems.push_back("bridge " + facts.bridgeName + " does not exist");
  }

  if (!facts.cniConfigPresent) {
    problems.push_back("CNI config " + facts.cniConfigPath + " does not exist");
  } else if (!v.cniConfigFirst.empty() && v.cniConfigFirst != baseName(facts.cniConfigPath)) {
    problems.push_back("the container runtime loads " + v.cniConfigFirst + ", which sorts before " +
                       baseName(facts.cniConfigPath) + " in the same directory");
  }
  return v;
}

std::string describeState(const std::string& state) {
  if (state == "conflict") return "foreign route in the way";
  if (state == "not-on-link") return "not on-link";
  if (state == "stale") return "wrong gateway";
  std::string s = state;
  std::replace(s.begin(), s.end(), '-', ' ');
  return s;
}

std::string renderStatusText(const StatusView& v) {
  std::string out;
  auto line = [&](const std::string& key, const std::string& value) {
    std::string k = key;
    k.resize(12, ' ');
    out += k + value + "\n";
  };
  line("node", v.node.empty() ? "(unknown: no status file)" : v.node);
  std::string state = v.agentState.empty() ? "unknown" : v.agentState;
  if (!v.ready && !v.node.empty()) {
    state += ", not ready" + (v.notReadyReason.empty() ? "" : " (" + v.notReadyReason + ")");
  }
  line("state", state);
  line("agent", v.healthz.status == 0 ? "not answering on " + v.listen + " (" + v.healthz.body + ")"
                                      : "/healthz " + answerLine(v.healthz) + ", /readyz " +
                                            answerLine(v.readyz) + " on " + v.listen);
  line("bridge",
       v.bridgeName + (v.bridgePresent ? (v.bridgeUp ? " up" : " DOWN") + std::string(", mtu ") +
                                             std::to_string(v.bridgeMtu)
                                       : " MISSING"));
  line("cni config",
       v.cniConfigPath + (v.cniConfigPresent ? "" : " MISSING") +
           (v.cniConfigFirst.empty() || v.cniConfigPath.ends_with("/" + v.cniConfigFirst)
                ? ""
                : " (runtime loads " + v.cniConfigFirst + " first)"));
  line("pod CIDRs", v.podCIDRs.empty() ? "-" : join(v.podCIDRs, ", "));
  line("node IPs", v.nodeIPs.empty() ? "-" : join(v.nodeIPs, ", "));
  line("routes", "proto " + std::to_string(v.routeProtocol));

  if (!v.peers.empty()) {
    std::vector<std::vector<std::string>> rows = {{"PEER", "IPV", "NODE IP", "POD CIDR", "ROUTE"}};
    for (const auto& p : v.peers) {
      std::string route = describeState(p.state) + (p.detail.empty() ? "" : ": " + p.detail);
      rows.push_back({p.node, p.family, p.nodeIP.empty() ? "-" : p.nodeIP,
                      p.podCIDR.empty() ? "-" : p.podCIDR, route});
    }
    std::vector<size_t> width(4, 0);
    for (const auto& r : rows)
      for (size_t i = 0; i < 4; ++i) width[i] = std::max(width[i], r[i].size());
    out += "\n";
    for (const auto& r : rows) {
      std::string l;
      for (size_t i = 0; i < 4; ++i) {
        std::string cell = r[i];
        cell.resize(width[i] + 2, ' ');
        l += cell;
      }
      out += l + r[4] + "\n";
    }
  } else if (!v.node.empty()) {
    out += "\nno peers\n";
  }
  if (!v.extraRoutes.empty()) {
    out += "\nroutes with proto " + std::to_string(v.routeProtocol) +
           " that no peer accounts for (the agent removes them on its next pass):\n";
    for (const auto& r : v.extraRoutes) out += "  " + r + "\n";
  }
  out += "\n";
  if (v.problems.empty()) {
    out += "healthy\n";
  } else {
    out += "DEGRADED:\n";
    for (const auto& p : v.problems) out += "  - " + p + "\n";
  }
  return out;
}

std::string renderStatusJson(const StatusView& v) {
  using nlohmann::json;
  auto answer = [](const HttpAnswer& a) { return json{{"status", a.status}, {"body", a.body}}; };
  json peers = json::array();
  for (const auto& p : v.peers) {
    json j = {{"node", p.node}, {"family", p.family}, {"state", p.state}, {"ok", p.ok}};
    if (!p.nodeIP.empty()) j["nodeIP"] = p.nodeIP;
    if (!p.podCIDR.empty()) j["podCIDR"] = p.podCIDR;
    if (!p.detail.empty()) j["detail"] = p.detail;
    peers.push_back(std::move(j));
  }
  json doc = {
      {"healthy", v.problems.empty()},
      {"problems", v.problems},
      {"node", v.node},
      {"ready", v.ready},
      {"state", v.agentState},
      {"statusFile", v.statusPath},
      {"agent",
       {{"listen", v.listen}, {"healthz", answer(v.healthz)}, {"readyz", answer(v.readyz)}}},
      {"bridge",
       {{"name", v.bridgeName},
        {"present", v.bridgePresent},
        {"up", v.bridgeUp},
        {"mtu", v.bridgeMtu}}},
      {"cniConfig",
       {{"path", v.cniConfigPath},
        {"present", v.cniConfigPresent},
        {"runtimeLoads", v.cniConfigFirst}}},
      {"podCIDRs", v.podCIDRs},
      {"nodeIPs", v.nodeIPs},
      {"routeProtocol", v.routeProtocol},
      {"peers", peers},
      {"extraRoutes", v.extraRoutes},
  };
  if (!v.notReadyReason.empty()) doc["notReadyReason"] = v.notReadyReason;
  return doc.dump(2) + "\n";
}

}  // namespace routelet::admin
