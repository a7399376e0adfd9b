#include "controller/status/node_status.h"

#include <nlohmann/json.hpp>

namespace routelet::status {

std::map<std::string, std::string> annotationsFor(const PublishedState& s) {
  auto join = [](const auto& items) {
    std::string out;
    for (const auto& i : items) out += (out.empty() ? "" : ",") + i.str();
    return out;
  };
  std::string p = kAnnotationPrefix;
  std::map<std::string, std::string> out = {
      {p + "node-ips", join(s.nodeIPs)},
      {p + "pod-cidrs", join(s.podCIDRs)},
      {p + "bridge", s.bridge},
      {p + "mtu", std::to_string(s.mtu)},
      {p + "mode", s.mode},
      {p + "version", s.version},
      {p + "state", s.state},
  };
  std::string macs;
  for (const auto& m : s.vtepMacs) macs += (macs.empty() ? "" : ",") + m;
  if (!macs.empty()) out[p + "vtep-macs"] = macs;
  return out;
}

std::optional<std::string> statusPatch(const model::Node& current, const PublishedState& s,
                                       const std::string& now) {
  nlohmann::json patch = nlohmann::json::object();
  for (const auto& [key, value] : annotationsFor(s)) {
    auto it = current.annotations.find(key);
    if (it == current.annotations.end() || it->second != value) {
      patch["metadata"]["annotations"][key] = value;
    }
  }
  std::string wanted = s.networkReady ? "False" : "True";
  if (current.networkUnavailable != wanted) {
    patch["status"]["conditions"] = nlohmann::json::array({{
        {"type", "NetworkUnavailable"},
        {"status", wanted},
        {"reason", s.networkReady ? "RouteletReady" : "RouteletNotReady"},
        {"message", s.networkReady ? "routelet configured the pod network on this node"
                                   : "routelet has not configured the pod network yet"},
        {"lastTransitionTime", now},
        {"lastHeartbeatTime", now},
    }});
  }
  if (patch.empty()) return std::nullopt;
  return patch.dump();
}

}  // namespace routelet::status
