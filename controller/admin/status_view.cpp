#include "controller/admin/status_view.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "controller/routes/vxlan.h"

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

const netlink::Link* linkNamed(const std::vector<netlink::Link>& links, const std::string& name) {
  for (const auto& l : links)
    if (l.name == name) return &l;
  return nullptr;
}

// Checks a peer the agent believes programmed against the kernel's main table: a direct
// route goes via the peer's node IP; a VXLAN one via the peer's VTEP address, on
// routelet's VXLAN device of the family (reconcile/vxlan.h).
void verifyProgrammed(PeerView& peer, const status::PeerRecord& rec, const StatusFacts& facts) {
  if (!rec.podCIDR) return;
  const bool overVxlan = rec.path == "vxlan";
  std::optional<ip::Address> want = rec.nodeIP;
  std::string wantName = "node IP";
  int wantOif = 0;
  if (overVxlan) {
    want = routes::vtepAddress(*rec.podCIDR);
    wantName = "VTEP address";
    const char* device = routes::vxlanDeviceName(rec.family);
    if (const auto* l = linkNamed(facts.vxlanLinks, device)) wantOif = l->index;
  }
  const netlink::Route* ours = nullptr;
  const netlink::Route* foreign = nullptr;
  for (const auto& r : facts.routes) {
    if (r.dst.network() != rec.podCIDR->network()) continue;
    if (r.protocol == facts.routeProtocol) {
      if (!ours || (want && r.gateway == want)) ours = &r;
    } else if (!foreign) {
      foreign = &r;
    }
  }
  if (ours && want && ours->gateway == want && (wantOif == 0 || ours->oif == wantOif)) return;
  if (ours && want && ours->gateway == want) {
    peer.state = "stale";
    peer.detail = "the kernel's route goes through dev " + std::to_string(ours->oif) + ", not " +
                  routes::vxlanDeviceName(rec.family) + " (" + std::to_string(wantOif) + ")";
  } else if (ours) {
    peer.state = "stale";
    peer.detail = "the kernel's route goes " +
                  (ours->gateway ? "via " + ours->gateway->str() : std::string("nowhere")) +
                  ", the peer's " + wantName + " is " + (want ? want->str() : std::string("-"));
  } else if (foreign) {
    peer.state = "conflict";
    peer.detail = "no routelet route; held by " + netlink::describe(*foreign);
  } else {
    peer.state = "missing";
    peer.detail = "no route with proto " + std::to_string(facts.routeProtocol) +
                  " in the main table; the agent puts it back on its next pass";
  }
}

// The agent's VXLAN devices checked against the kernel. A mode that uses VXLAN needs each
// device it reports: without one, every peer of that family off this node's subnets
// (all of them in mode vxlan) is unreachable.
void assessVxlan(const StatusFacts& facts, StatusView& v) {
  auto& x = v.vxlan;
  auto fromKernel = [&](VxlanDeviceView& d) {
    const netlink::Link* l = linkNamed(facts.vxlanLinks, d.name);
    if (!l) return;
    d.present = true;
    d.kind = l->kind;
    d.up = l->up;
    d.mtu = l->mtu;
    d.info = l->vxlan;
  };
  if (facts.agent && facts.agent->vxlan) {
    const status::VxlanStatus& reported = *facts.agent->vxlan;
    x.reported = true;
    x.mode = reported.mode;
    x.direct = reported.direct;
    x.encapsulated = reported.encapsulated;
    x.entries = reported.entries;
    const bool usesVxlan = reported.mode != "host-gw";
    for (const auto& r : reported.devices) {
      VxlanDeviceView d;
      d.name = r.name;
      d.expected = usesVxlan;
      d.ready = r.ready;
      d.mac = r.mac;
      fromKernel(d);
      if (usesVxlan) {
        std::string what = "VXLAN device " + d.name + " (mode " + x.mode + ")";
        if (!d.present) {
          v.problems.push_back(what + " does not exist");
        } else if (d.kind != "vxlan") {
          v.problems.push_back(what + ": the link of that name is a " +
                               (d.kind.empty() ? std::string("device") : d.kind) +
                               ", not a VXLAN device");
        } else if (!d.up) {
          v.problems.push_back(what + " is down");
        } else if (!d.ready) {
          v.problems.push_back(what + ": the agent reports it not ready");
        }
      }
      x.devices.push_back(std::move(d));
    }
  }
  // Devices the agent does not report (host-gw, an older agent, no status file): shown, since
  // cleanup removes them, but nothing routes through them.
  for (const auto& l : facts.vxlanLinks) {
    bool listed = false;
    for (const auto& d : x.devices) listed = listed || d.name == l.name;
    if (listed) continue;
    VxlanDeviceView d;
    d.name = l.name;
    fromKernel(d);
    x.devices.push_back(std::move(d));
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

// Masquerade, bridge netfilter and hairpin: the agent's account and what the kernel holds.
// One table feature: the agent's account (when it gave one) against the kernel's tables.
void assessTable(const std::optional<status::FeatureStatus>& reported, const std::string& what,
                 TableFeatureView& t, std::vector<std::string>& problems) {
  if (!reported) return;
  t.reported = true;
  t.enabled = reported->enabled;
  t.detail = reported->detail;
  t.error = reported->error;
  if (!t.error.empty()) problems.push_back("the agent cannot program " + what + ": " + t.error);
  if (t.enabled && !t.nftablesError.empty()) {
    problems.push_back("cannot read the kernel's nftables tables: " + t.nftablesError);
  } else if (t.enabled && !t.tablePresent) {
    problems.push_back(what + " is on but nftables table " + t.table + " does not exist");
  }
}

void assessFeatures(const StatusFacts& facts, StatusView& v) {
  auto& m = v.masquerade;
  m.table = masqueradeTableName();
  m.tablePresent = facts.masqueradeTablePresent;
  m.nftablesError = facts.nftablesError;
  auto& n = v.networkPolicy;
  n.table = policy::policyTableName();
  n.tablePresent = facts.policyTablePresent;
  n.nftablesError = facts.nftablesError;
  auto& b = v.bridgeNetfilter;
  b.iptables = facts.bridgeNfCallIptables;
  b.ip6tables = facts.bridgeNfCallIp6tables;
  if (!facts.agent) return;
  auto& problems = v.problems;
  v.hairpin = facts.agent->hairpin;
  // Without masquerade, pods' traffic to outside the cluster leaves with pod addresses,
  // which nothing out there routes back; without the policy table, nothing is isolated.
  assessTable(facts.agent->masquerade, "masquerade", m, problems);
  assessTable(facts.agent->networkPolicy, "network policy", n, problems);
  v.policyPods = facts.agent->policyPods;
  v.policyProblems = facts.agent->policyProblems;
  for (const auto& p : v.policyProblems) problems.push_back("NetworkPolicy " + p);
  if (const auto& reported = facts.agent->bridgeNetfilter) {
    b.reported = true;
    b.enabled = reported->enabled;
    b.error = reported->error;
    if (!b.error.empty()) problems.push_back("the agent cannot set bridge netfilter: " + b.error);
    // At 0, packets between two pods of this bridge skip iptables, so kube-proxy's
    // Service rules never see a pod reaching a Service backed by a pod of the same node.
    for (const auto& [key, value] : {std::pair{kBridgeNfCallIptables, b.iptables},
                                     std::pair{kBridgeNfCallIp6tables, b.ip6tables}}) {
      if (b.enabled && value == "0")
        problems.push_back("bridge netfilter is on but " + std::string(key) + " is 0");
    }
  }
}

std::string onOff(bool on) {
  return on ? "on" : "off";
}

// Rows as aligned columns; the last one runs to the end of the line.
std::string columns(const std::vector<std::vector<std::string>>& rows) {
  const size_t padded = rows[0].size() - 1;
  std::vector<size_t> width(padded, 0);
  for (const auto& r : rows)
    for (size_t i = 0; i < padded; ++i) width[i] = std::max(width[i], r[i].size());
  std::string out;
  for (const auto& r : rows) {
    std::string l;
    for (size_t i = 0; i < padded; ++i) {
      std::string cell = r[i];
      cell.resize(width[i] + 2, ' ');
      l += cell;
    }
    out += l + r[padded] + "\n";
  }
  return out;
}

std::string tableLine(const TableFeatureView& m) {
  std::vector<std::string> parts = {m.reported ? onOff(m.enabled) : "unknown"};
  if (!m.nftablesError.empty()) {
    if (m.enabled) parts.push_back("table " + m.table + " (cannot read nftables)");
  } else if (m.enabled) {
    parts.push_back("table " + m.table + (m.tablePresent ? "" : " MISSING"));
  } else if (m.tablePresent) {
    parts.push_back("table " + m.table + " present");
  }
  if (m.enabled && !m.detail.empty()) parts.push_back(m.detail);
  if (!m.error.empty()) parts.push_back("error: " + m.error);
  return join(parts, ", ");
}

std::string bridgeNetfilterLine(const BridgeNetfilterView& b) {
  auto value = [](const std::string& v) { return v.empty() ? std::string("not available") : v; };
  std::string line = (b.reported ? onOff(b.enabled) : "unknown") + " (iptables " +
                     value(b.iptables) + ", ip6tables " + value(b.ip6tables) + ")";
  return line + (b.error.empty() ? "" : ", error: " + b.error);
}

std::string modeLine(const VxlanView& x, bool agentKnown) {
  if (!x.reported) return agentKnown ? "unknown (the agent is older than --mode)" : "unknown";
  if (x.mode == "host-gw") return x.mode;
  return x.mode + ": " + std::to_string(x.direct) + " peer routes direct, " +
         std::to_string(x.encapsulated) + " over VXLAN, " + std::to_string(x.entries) +
         " tunnel entries";
}

std::string vxlanDeviceLine(const VxlanDeviceView& d, const VxlanView& x) {
  std::string line = d.name;
  if (!d.present) {
    line += " MISSING";
  } else if (d.kind != "vxlan") {
    line += " is a " + (d.kind.empty() ? std::string("device") : d.kind) + ", not VXLAN";
  } else {
    line += (d.up ? " up" : " DOWN") + std::string(", mtu ") + std::to_string(d.mtu);
    if (d.info) {
      line += ", vni " + std::to_string(d.info->vni) + ", port " + std::to_string(d.info->port);
      if (d.info->local) line += ", local " + d.info->local->str();
    }
  }
  if (!d.mac.empty()) line += ", mac " + d.mac;
  if (d.expected && !d.ready) line += ", not ready";
  if (!d.expected)
    line += x.reported ? ", not used (mode " + x.mode + ")" : ", not reported by the agent";
  return line;
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
    const status::AgentStatus& a = *facts.agent;
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
                 false,
                 rec.path};
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
  assessFeatures(facts, v);
  assessVxlan(facts, v);
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
  line("masquerade", tableLine(v.masquerade));
  line("net policy", tableLine(v.networkPolicy));
  line("bridge nf", bridgeNetfilterLine(v.bridgeNetfilter));
  line("hairpin", v.hairpin ? onOff(*v.hairpin) : "unknown");
  line("mode", modeLine(v.vxlan, !v.node.empty()));
  for (const auto& d : v.vxlan.devices) line("vxlan", vxlanDeviceLine(d, v.vxlan));

  if (!v.peers.empty()) {
    std::vector<std::vector<std::string>> rows = {
        {"PEER", "IPV", "NODE IP", "POD CIDR", "PATH", "ROUTE"}};
    for (const auto& p : v.peers) {
      std::string route = describeState(p.state) + (p.detail.empty() ? "" : ": " + p.detail);
      rows.push_back({p.node, p.family, p.nodeIP.empty() ? "-" : p.nodeIP,
                      p.podCIDR.empty() ? "-" : p.podCIDR, p.path.empty() ? "-" : p.path, route});
    }
    out += "\n" + columns(rows);
  } else if (!v.node.empty()) {
    out += "\nno peers\n";
  }
  if (!v.policyPods.empty()) {
    std::vector<std::vector<std::string>> rows = {
        {"POD", "INGRESS ISOLATED BY", "EGRESS ISOLATED BY"}};
    for (const auto& p : v.policyPods)
      rows.push_back({p.ns + "/" + p.name, p.ingress.empty() ? "-" : join(p.ingress, ","),
                      p.egress.empty() ? "-" : join(p.egress, ",")});
    out += "\n" + columns(rows);
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
    if (!p.path.empty()) j["path"] = p.path;
    peers.push_back(std::move(j));
  }
  auto tableJson = [](const TableFeatureView& m) {
    json j = {{"reported", m.reported},
              {"enabled", m.enabled},
              {"table", m.table},
              {"tablePresent", m.tablePresent}};
    if (!m.detail.empty()) j["detail"] = m.detail;
    if (!m.error.empty()) j["error"] = m.error;
    if (!m.nftablesError.empty()) j["nftablesError"] = m.nftablesError;
    return j;
  };
  json masquerade = tableJson(v.masquerade);
  json networkPolicy = tableJson(v.networkPolicy);
  json policyPods = json::array();
  for (const auto& p : v.policyPods)
    policyPods.push_back(
        {{"namespace", p.ns}, {"name", p.name}, {"ingress", p.ingress}, {"egress", p.egress}});
  networkPolicy["pods"] = std::move(policyPods);
  const auto& b = v.bridgeNetfilter;
  // The sysctls as read, null when the kernel has no such file (br_netfilter not loaded).
  auto sysctlValue = [](const std::string& value) { return value.empty() ? json() : json(value); };
  json bridgeNetfilter = {{"reported", b.reported},
                          {"enabled", b.enabled},
                          {kBridgeNfCallIptables, sysctlValue(b.iptables)},
                          {kBridgeNfCallIp6tables, sysctlValue(b.ip6tables)}};
  if (!b.error.empty()) bridgeNetfilter["error"] = b.error;
  const auto& x = v.vxlan;
  json devices = json::array();
  for (const auto& d : x.devices) {
    json j = {{"name", d.name},       {"expected", d.expected}, {"ready", d.ready},
              {"present", d.present}, {"kind", d.kind},         {"up", d.up},
              {"mtu", d.mtu}};
    if (!d.mac.empty()) j["mac"] = d.mac;
    if (d.info) {
      j["vni"] = d.info->vni;
      j["port"] = d.info->port;
      j["local"] = d.info->local ? json(d.info->local->str()) : json();
      j["underlay"] = d.info->underlay;
      j["learning"] = d.info->learning;
    }
    devices.push_back(std::move(j));
  }
  json vxlan = {{"reported", x.reported},         {"mode", x.mode},       {"direct", x.direct},
                {"encapsulated", x.encapsulated}, {"entries", x.entries}, {"devices", devices}};
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
      {"masquerade", masquerade},
      {"networkPolicy", networkPolicy},
      {"bridgeNetfilter", bridgeNetfilter},
      {"hairpin", v.hairpin ? json(*v.hairpin) : json()},
      {"vxlan", vxlan},
      {"peers", peers},
      {"extraRoutes", v.extraRoutes},
  };
  if (!v.notReadyReason.empty()) doc["notReadyReason"] = v.notReadyReason;
  return doc.dump(2) + "\n";
}

}  // namespace routelet::admin
