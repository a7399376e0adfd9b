// The node's pod bridge, set up the same way by the agent (at start and whenever it goes
// missing) and by routelet-cni (when a pod arrives before the agent has run).
#pragma once

#include <string>
#include <vector>

#include "common/base/result.h"
#include "common/ip/address.h"
#include "common/netlink/netlink.h"

namespace routelet::bridge {

struct Spec {
  std::string name;
  netlink::Mac mac{};  // fixed: a bridge otherwise takes its lowest port's MAC, which flaps
  uint32_t mtu = 1500;
  std::vector<ip::Prefix> gateways;  // gateway address with the podCIDR's length
};

// Makes the bridge match spec: created if missing, MAC, MTU, every gateway address, up,
// and IPv6 router advertisements ignored on it. Safe to run concurrently from several
// processes (parallel ADDs): EEXIST from the bridge or an address means another process
// got there first. Runs in the calling thread's network namespace (sysctls are per netns).
Result<netlink::Link> ensure(netlink::Handle& nl, const Spec& spec);

}  // namespace routelet::bridge
