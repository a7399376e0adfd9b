// What the peer routes controller and those that follow its rules (masquerade) read of the
// agent's settings, and this node as routing sees it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/ip/address.h"
#include "controller/agent/pass.h"
#include "controller/routes/desired.h"
#include "controller/routes/vxlan.h"

namespace routelet::routes {

struct RoutesConfig {
  std::string nodeName;
  uint8_t protocol = 201;  // routelet's route protocol
  // The podCIDR bounds (the clusterCIDRs and minPodCIDRLength settings): see SelfInfo.
  std::vector<ip::Prefix> clusterCIDRs;
  uint8_t minPodCIDRLengthV4 = 8;
  uint8_t minPodCIDRLengthV6 = 32;
  Mode mode = Mode::kAuto;
  uint32_t vxlanVNI = kDefaultVxlanVNI;
  uint16_t vxlanPort = kDefaultVxlanPort;
};

// This node for desiredRoutes(), from what node setup found (no tunnels yet).
SelfInfo selfInfo(const agent::LocalNode& local, const RoutesConfig& config);

}  // namespace routelet::routes
