#include "controller/status/agent_status.h"

#include <nlohmann/json.hpp>

namespace routelet::status {
namespace {

using nlohmann::json;

std::string text(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// A value as an error message shows it: JSON, cut short (a damaged file can hold anything).
std::string shown(const json& value) {
  std::string s = value.dump(-1, ' ', false, json::error_handler_t::replace);
  return s.size() > 60 ? s.substr(0, 60) + "..." : s;
}

// An optional boolean: absent is an older agent; any other type is an error.
Result<std::optional<bool>> flagOf(const json& obj, const std::string& field, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end()) return std::optional<bool>();
  if (!it->is_boolean()) return makeError(field + " " + shown(*it) + ": want true or false");
  return std::optional<bool>(it->get<bool>());
}

// {"enabled": bool, "detail": "...", "error": "...", "table": "..."}: only "enabled" is
// always written.
Result<std::optional<FeatureStatus>> featureOf(const json& doc, const std::string& key) {
  auto it = doc.find(key);
  if (it == doc.end()) return std::optional<FeatureStatus>();
  if (!it->is_object()) return makeError(key + " " + shown(*it) + ": want an object");
  FeatureStatus f;
  auto enabled = flagOf(*it, key + ".enabled", "enabled");
  if (!enabled) return enabled.error();
  if (!*enabled) return makeError(key + ".enabled: missing");
  f.enabled = **enabled;
  for (auto [name, target] : {std::pair{"detail", &f.detail}, std::pair{"error", &f.error},
                              std::pair{"table", &f.table}}) {
    auto v = it->find(name);
    if (v == it->end()) continue;
    if (!v->is_string()) return makeError(key + "." + name + " " + shown(*v) + ": want a string");
    *target = v->get<std::string>();
  }
  return std::optional<FeatureStatus>(std::move(f));
}

// A count: absent is 0 (an older agent, or a mode that writes none); a negative or
// fractional number is an error.
Result<uint64_t> countOf(const json& obj, const std::string& field, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end()) return uint64_t{0};
  if (!it->is_number_unsigned()) return makeError(field + " " + shown(*it) + ": want a count");
  return it->get<uint64_t>();
}

Result<VxlanDeviceRecord> vxlanDeviceOf(const json& d) {
  if (!d.is_object()) return makeError("vxlan.devices[] " + shown(d) + ": want an object");
  VxlanDeviceRecord r;
  r.name = text(d, "name");
  if (r.name.empty()) return makeError("vxlan.devices[].name: missing");
  auto ready = flagOf(d, "vxlan device " + r.name + " ready", "ready");
  if (!ready) return ready.error();
  r.ready = ready->value_or(false);
  r.mac = text(d, "mac");
  return r;
}

// {"mode": "auto", "devices": [{"name", "ready", "mac"}], "direct": N, "encapsulated": N,
// "entries": N}: only "mode" is always written.
Result<std::optional<VxlanStatus>> vxlanOf(const json& doc) {
  auto it = doc.find("vxlan");
  if (it == doc.end()) return std::optional<VxlanStatus>();
  if (!it->is_object()) return makeError("vxlan " + shown(*it) + ": want an object");
  VxlanStatus v;
  v.mode = text(*it, "mode");
  if (v.mode.empty()) return makeError("vxlan.mode: missing");
  if (auto d = it->find("devices"); d != it->end()) {
    if (!d->is_array()) return makeError("vxlan.devices " + shown(*d) + ": want an array");
    for (const auto& entry : *d) {
      auto device = vxlanDeviceOf(entry);
      if (!device) return device.error();
      v.devices.push_back(std::move(*device));
    }
  }
  for (auto [key, target] :
       {std::pair{"direct", &v.direct}, std::pair{"encapsulated", &v.encapsulated},
        std::pair{"entries", &v.entries}}) {
    auto n = countOf(*it, std::string("vxlan.") + key, key);
    if (!n) return n.error();
    *target = *n;
  }
  return std::optional<VxlanStatus>(std::move(v));
}

Result<ip::Family> familyOf(const json& peer) {
  std::string f = text(peer, "family");
  if (f == "4") return ip::Family::kV4;
  if (f == "6") return ip::Family::kV6;
  return makeError("peers[].family \"" + f + "\": want \"4\" or \"6\"");
}

Result<PeerRecord> peerOf(const json& p) {
  if (!p.is_object()) return makeError("peers[]: want an object");
  PeerRecord r;
  r.node = text(p, "node");
  if (r.node.empty()) return makeError("peers[].node: missing");
  auto family = familyOf(p);
  if (!family) return family.error().wrap("peer " + r.node);
  r.family = *family;
  if (auto c = text(p, "podCIDR"); !c.empty()) {
    auto prefix = ip::Prefix::parse(c);
    if (!prefix) return prefix.error().wrap("peer " + r.node + " podCIDR \"" + c + "\"");
    r.podCIDR = *prefix;
  }
  if (auto a = text(p, "nodeIP"); !a.empty()) {
    auto addr = ip::Address::parse(a);
    if (!addr) return addr.error().wrap("peer " + r.node + " nodeIP \"" + a + "\"");
    r.nodeIP = *addr;
  }
  r.state = text(p, "state");
  if (r.state.empty()) return makeError("peer " + r.node + ": state missing");
  r.detail = text(p, "detail");
  r.path = text(p, "path");
  return r;
}

Result<AgentStatus> decode(const json& doc) {
  if (!doc.is_object()) return makeError("want a JSON object");
  AgentStatus s;
  s.node = text(doc, "node");
  s.ready = doc.value("ready", false);
  s.notReadyReason = text(doc, "notReadyReason");
  s.state = text(doc, "state");
  s.bridge = text(doc, "bridge");
  s.mtu = doc.value("mtu", 0u);
  s.cniConfig = text(doc, "cniConfig");
  s.routeProtocol = doc.value("routeProtocol", 0);
  for (const auto& c : doc.value("podCIDRs", json::array())) {
    auto prefix = c.is_string() ? ip::Prefix::parse(c.get<std::string>())
                                : Result<ip::Prefix>(makeError("not a string"));
    if (!prefix) return prefix.error().wrap("podCIDRs " + c.dump());
    s.podCIDRs.push_back(*prefix);
  }
  for (const auto& a : doc.value("nodeIPs", json::array())) {
    auto addr = a.is_string() ? ip::Address::parse(a.get<std::string>())
                              : Result<ip::Address>(makeError("not a string"));
    if (!addr) return addr.error().wrap("nodeIPs " + a.dump());
    s.nodeIPs.push_back(*addr);
  }
  auto masquerade = featureOf(doc, "masquerade");
  if (!masquerade) return masquerade.error();
  s.masquerade = std::move(*masquerade);
  auto bridgeNetfilter = featureOf(doc, "bridgeNetfilter");
  if (!bridgeNetfilter) return bridgeNetfilter.error();
  s.bridgeNetfilter = std::move(*bridgeNetfilter);
  auto hairpin = flagOf(doc, "hairpin", "hairpin");
  if (!hairpin) return hairpin.error();
  s.hairpin = *hairpin;
  auto vxlan = vxlanOf(doc);
  if (!vxlan) return vxlan.error();
  s.vxlan = std::move(*vxlan);
  auto networkPolicy = featureOf(doc, "networkPolicy");
  if (!networkPolicy) return networkPolicy.error();
  s.networkPolicy = std::move(*networkPolicy);
  for (const auto& p : doc.value("policyPods", json::array())) {
    if (!p.is_object()) return makeError("policyPods[]: want an object");
    PolicyPodRecord r{text(p, "namespace"), text(p, "name"), {}, {}};
    if (r.name.empty()) return makeError("policyPods[].name: missing");
    for (auto* dir : {"ingress", "egress"})
      for (const auto& n : p.value(dir, json::array()))
        (std::string(dir) == "ingress" ? r.ingress : r.egress)
            .push_back(n.is_string() ? n.get<std::string>() : n.dump());
    s.policyPods.push_back(std::move(r));
  }
  for (const auto& p : doc.value("policyProblems", json::array()))
    s.policyProblems.push_back(p.is_string() ? p.get<std::string>() : p.dump());
  for (const auto& p : doc.value("peers", json::array())) {
    auto peer = peerOf(p);
    if (!peer) return peer.error();
    s.peers.push_back(std::move(*peer));
  }
  return s;
}

json featureJson(const FeatureStatus& f) {
  json j = {{"enabled", f.enabled}};
  if (!f.detail.empty()) j["detail"] = f.detail;
  if (!f.error.empty()) j["error"] = f.error;
  if (!f.table.empty()) j["table"] = f.table;
  return j;
}

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

std::string writeAgentStatus(const AgentStatus& s) {
  json podCIDRs = json::array(), nodeIPs = json::array();
  for (const auto& c : s.podCIDRs) podCIDRs.push_back(c.str());
  for (const auto& a : s.nodeIPs) nodeIPs.push_back(a.str());
  json doc = {{"node", s.node},
              {"ready", s.ready},
              {"state", s.state},
              {"bridge", s.bridge},
              {"mtu", s.mtu},
              {"podCIDRs", podCIDRs},
              {"nodeIPs", nodeIPs},
              {"cniConfig", s.cniConfig},
              {"routeProtocol", s.routeProtocol}};
  if (!s.notReadyReason.empty()) doc["notReadyReason"] = s.notReadyReason;
  if (s.masquerade) doc["masquerade"] = featureJson(*s.masquerade);
  if (s.bridgeNetfilter) doc["bridgeNetfilter"] = featureJson(*s.bridgeNetfilter);
  if (s.hairpin) doc["hairpin"] = *s.hairpin;
  if (s.vxlan) {
    json v = {{"mode", s.vxlan->mode}};
    if (s.vxlan->mode != "host-gw") {
      json devices = json::array();
      for (const auto& d : s.vxlan->devices) {
        json dev = {{"name", d.name}, {"ready", d.ready}};
        if (!d.mac.empty()) dev["mac"] = d.mac;
        devices.push_back(std::move(dev));
      }
      v["devices"] = std::move(devices);
      v["direct"] = s.vxlan->direct;
      v["encapsulated"] = s.vxlan->encapsulated;
      v["entries"] = s.vxlan->entries;
    }
    doc["vxlan"] = std::move(v);
  }
  if (s.networkPolicy) doc["networkPolicy"] = featureJson(*s.networkPolicy);
  if (!s.policyPods.empty()) {
    json pods = json::array();
    for (const auto& p : s.policyPods) {
      json j = {{"namespace", p.ns}, {"name", p.name}};
      if (!p.ingress.empty()) j["ingress"] = p.ingress;
      if (!p.egress.empty()) j["egress"] = p.egress;
      pods.push_back(std::move(j));
    }
    doc["policyPods"] = std::move(pods);
  }
  if (!s.policyProblems.empty()) doc["policyProblems"] = s.policyProblems;
  // The peers are written one at a time: as one JSON tree, 5000 of them were most of the
  // agent's memory peak (~8 MiB of small map nodes, copied once more into the document).
  std::string out = dump(doc);
  out.pop_back();  // the closing brace
  out += ",\"peers\":[";
  bool first = true;
  for (const auto& p : s.peers) {
    json j = {{"node", p.node}, {"family", ip::familyName(p.family)}};
    if (p.podCIDR) j["podCIDR"] = p.podCIDR->str();
    if (p.nodeIP) j["nodeIP"] = p.nodeIP->str();
    j["state"] = p.state;
    if (!p.detail.empty()) j["detail"] = p.detail;
    if (!p.path.empty()) j["path"] = p.path;
    if (!first) out += ',';
    first = false;
    out += dump(j);
  }
  out += "]}\n";
  return out;
}

Result<AgentStatus> parseAgentStatus(const std::string& text) {
  // nlohmann throws on syntax and on type mismatches in value(); neither leaves here.
  try {
    return decode(json::parse(text));
  } catch (const json::exception& e) {
    return makeError(std::string("not the agent's status JSON: ") + e.what());
  }
}

}  // namespace routelet::status
