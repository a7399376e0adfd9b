// The node's pod bridge, set up the same way by the agent (at start and whenever it goes
// missing) and by routelet-cni (when a pod arrives before the agent has run).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/ip/address.h"
#include "common/netlink/netlink.h"
#include "common/sysctl/sysctl.h"

namespace routelet::bridge {

// The bridge's fixed MAC when the config gives none, derived from the bridge name so the
// agent and every plugin invocation agree. A bridge without a fixed MAC takes the lowest
// port MAC, which changes as pods come and go (neighbours then see the gateway move).
netlink::Mac bridgeMacFor(std::string_view bridge);

struct Spec {
  std::string name;
  netlink::Mac mac{};  // fixed: a bridge otherwise takes its lowest port's MAC, which flaps
  uint32_t mtu = 1500;
  std::vector<ip::Prefix> gateways;        // gateway address with the podCIDR's length
  std::string procSys = sysctl::kProcSys;  // where the bridge's accept_ra is written
};

// Makes the bridge match spec: created if missing, MAC, MTU, every gateway address, up,
// and IPv6 router advertisements ignored on it. Safe to run concurrently from several
// processes (parallel ADDs): EEXIST from the bridge or an address means another process
// got there first. Runs in the calling thread's network namespace (sysctls are per netns).
Result<netlink::Link> ensure(netlink::Handle& nl, const Spec& spec);

// Removes the gateway addresses of ranges not in keep: after a podCIDR change, the old
// range's gateway would stay on the bridge and its prefix route with it, so the node would
// keep answering for another node's pods. Only addresses shaped like a gateway go (global
// scope, the first host of their prefix, as routelet gives them); any other address an
// administrator put on the bridge stays. Returns what it removed.
Result<std::vector<ip::Prefix>> pruneGateways(netlink::Handle& nl, const netlink::Link& bridge,
                                              const std::vector<ip::Prefix>& keep);

// The host end of a pod's veth as routelet-cni names it: "rl" + 10 lowercase hex digits.
inline constexpr std::string_view kPodPortPrefix = "rl";
inline constexpr int kPodPortHexDigits = 10;
// GC and the agent act only on links with such names.
bool isPodPortName(std::string_view name);

// Puts pod ports that have no master back on the bridge. Deleting a bridge releases its
// ports but leaves them up; without this, pods made before the bridge was deleted stay
// cut off after it is made again. Returns how many ports it re-attached.
Result<int> reattachPorts(netlink::Handle& nl, const netlink::Link& bridge);

}  // namespace routelet::bridge
