#include "controller/agent/status_report.h"

#include <nlohmann/json.hpp>

#include "controller/masquerade/rules.h"

namespace routelet::agent {

std::string statusJson(const StatusInputs& in) {
  using nlohmann::json;
  // Peer names and details come from Node objects; the decoder makes them safe, and
  // should anything slip through, a replaced byte beats the throw of a strict dump().
  auto dump = [](const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); };
  std::map<std::pair<std::string, ip::Family>, std::pair<std::string, std::string>> verdicts;
  std::map<std::string, std::pair<std::string, std::string>> wholeNode;
  for (const auto& s : in.report.skipped) {
    std::pair<std::string, std::string> v{routes::skipReasonName(s.reason), s.detail};
    if (s.family)
      verdicts[{s.node, *s.family}] = v;
    else
      wholeNode[s.node] = v;
  }
  auto nodeOf = [&](const ip::Prefix& dst) -> std::string {
    for (const auto& name : in.cache.withPodCIDR(dst))
      if (name != in.self.name) return name;
    return "";
  };
  for (const auto& c : in.report.conflicts) {
    verdicts[{nodeOf(c.desired.dst), c.desired.dst.family()}] = {
        "conflict", "held by " + netlink::describe(c.foreign)};
  }
  for (const auto& f : in.report.failed) {
    if (f.op.kind == netlink::RouteOp::Kind::kDelete) continue;
    verdicts[{nodeOf(f.op.route.dst), f.op.route.dst.family()}] = {"failed", f.error.message};
  }

  // The peers are written one at a time: as one JSON tree, 5000 of them were most of the
  // agent's memory peak (~8 MiB of small map nodes, copied once more into the document).
  std::string peers = "[";
  for (const auto& [name, node] : in.cache.nodes()) {
    if (name == in.self.name) continue;
    for (const auto& own : in.self.podCIDRs) {
      ip::Family f = own.family();
      json p = {{"node", name}, {"family", ip::familyName(f)}};
      if (auto cidr = node.podCIDR(f)) p["podCIDR"] = cidr->str();
      auto nodeIP = routes::chooseNodeIP(node, f, in.cache, in.self);
      if (nodeIP) p["nodeIP"] = nodeIP->str();
      std::pair<std::string, std::string> v{"programmed", ""};
      if (auto w = wholeNode.find(name); w != wholeNode.end()) v = w->second;
      if (auto it = verdicts.find({name, f}); it != verdicts.end()) v = it->second;
      p["state"] = v.first;
      if (!v.second.empty()) p["detail"] = v.second;
      // How a routed peer is reached: "direct" (via its node IP) or "vxlan".
      if (v.first == "programmed" && p.contains("nodeIP"))
        p["path"] = routes::overVxlan(in.self, *nodeIP) ? "vxlan" : "direct";
      if (peers.size() > 1) peers += ',';
      peers += dump(p);
    }
  }
  peers += ']';
  json podCIDRs = json::array(), nodeIPs = json::array();
  for (const auto& c : in.published.podCIDRs) podCIDRs.push_back(c.str());
  for (const auto& a : in.published.nodeIPs) nodeIPs.push_back(a.str());
  json doc = {
      {"node", in.self.name},
      {"ready", in.ready},
      {"state", in.published.state},
      {"bridge", in.published.bridge},
      {"mtu", in.published.mtu},
      {"podCIDRs", podCIDRs},
      {"nodeIPs", nodeIPs},
      {"cniConfig", in.cniConfigPath},
      {"routeProtocol", in.self.protocol},
  };
  if (!in.notReadyReason.empty()) doc["notReadyReason"] = in.notReadyReason;
  auto feature = [](const FeatureState& f) {
    json j = {{"enabled", f.enabled}};
    if (!f.detail.empty()) j["detail"] = f.detail;
    if (!f.error.empty()) j["error"] = f.error;
    return j;
  };
  doc["masquerade"] = feature(in.masquerade);
  if (in.masquerade.enabled) doc["masquerade"]["table"] = masquerade::masqueradeTableName();
  doc["bridgeNetfilter"] = feature(in.bridgeNetfilter);
  doc["hairpin"] = in.hairpin;
  json vxlan = {{"mode", routes::modeName(in.self.mode)}};
  if (in.self.mode != routes::Mode::kHostGw) {
    json devices = json::array();
    for (std::size_t i = 0; i < in.self.podCIDRs.size(); ++i) {
      ip::Family f = in.self.podCIDRs[i].family();
      if (!in.self.nodeIP(f)) continue;  // no node IP of the family: no device is wanted
      json d = {{"name", routes::vxlanDeviceName(f)}, {"ready", in.self.tunnel(f) != 0}};
      if (i < in.published.vtepMacs.size()) d["mac"] = in.published.vtepMacs[i];
      devices.push_back(d);
    }
    vxlan["devices"] = devices;
    vxlan["direct"] = in.report.direct;
    vxlan["encapsulated"] = in.report.encapsulated;
    vxlan["entries"] = in.report.neighbors.wanted;
  }
  doc["vxlan"] = vxlan;
  // compact: 5000 peers, read by routelet status, not by eye. "peers" goes last.
  std::string out = dump(doc);
  out.pop_back();  // the closing brace
  out += ",\"peers\":" + peers + "}\n";
  return out;
}

}  // namespace routelet::agent
