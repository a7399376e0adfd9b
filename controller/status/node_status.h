// What the agent publishes on its own Node: routelet.io/ annotations and the
// NetworkUnavailable condition. Every agent watches every Node, so a patch of one Node
// wakes N agents: only facts that change rarely are published, and a patch is sent only
// when a value differs from what the Node already carries.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/ip/address.h"
#include "controller/model/node.h"

namespace routelet::status {

inline constexpr const char* kAnnotationPrefix = "routelet.io/";

struct PublishedState {
  std::vector<ip::Address> nodeIPs;  // one per family in use
  std::vector<ip::Prefix> podCIDRs;
  std::string bridge;
  uint32_t mtu = 0;
  std::string mode = "host-gw";  // routes::modeName
  // The VTEP MAC of each VXLAN device, in podCIDR order (empty in host-gw). Peers derive it
  // from the podCIDR themselves (vtepMac); it is published for people and tools.
  std::vector<std::string> vtepMacs;
  std::string version;
  // "ready", or "degraded: <short reason>" (e.g. "degraded: 2 peers not on-link").
  std::string state;
  bool networkReady = false;  // bridge and CNI config in place
};

std::map<std::string, std::string> annotationsFor(const PublishedState& s);

// A strategic-merge patch for PATCH nodes/NAME/status, or nothing when the Node already
// carries every value. Strategic merge keys status.conditions by type, so the kubelet's
// conditions stay untouched. `now` is an RFC 3339 time for lastTransitionTime.
std::optional<std::string> statusPatch(const model::Node& current, const PublishedState& s,
                                       const std::string& now);

}  // namespace routelet::status
