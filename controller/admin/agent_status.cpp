#include "controller/admin/agent_status.h"

#include <nlohmann/json.hpp>

namespace routelet::admin {
namespace {

using nlohmann::json;

std::string text(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
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
  for (const auto& p : doc.value("peers", json::array())) {
    auto peer = peerOf(p);
    if (!peer) return peer.error();
    s.peers.push_back(std::move(*peer));
  }
  return s;
}

}  // namespace

Result<AgentStatus> parseAgentStatus(const std::string& text) {
  // nlohmann throws on syntax and on type mismatches in value(); neither leaves here.
  try {
    return decode(json::parse(text));
  } catch (const json::exception& e) {
    return makeError(std::string("not the agent's status JSON: ") + e.what());
  }
}

}  // namespace routelet::admin
