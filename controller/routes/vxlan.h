// Peers off this node's subnets: how routelet reaches them over VXLAN. Pure: the device's
// names and addresses, the MAC each node's VTEP has, and the plan that brings a device's
// neighbour and forwarding entries to what the Node cache asks for.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "common/ip/address.h"
#include "common/netlink/netlink.h"

namespace routelet::routes {

// host-gw: only on-link peers, through `podCIDR via nodeIP` (the others are reported). auto:
// those, and every other peer over VXLAN. vxlan: every peer over VXLAN.
enum class Mode { kHostGw, kAuto, kVxlan };
const char* modeName(Mode mode);  // "host-gw", "auto", "vxlan"
Result<Mode> parseMode(const std::string& text);

// The VXLAN device of a family: "routelet.vxlan" (IPv4 underlay and pods), "routelet.vxlan6".
const char* vxlanDeviceName(ip::Family family);
// Outer IPv4/IPv6 + UDP + VXLAN + inner Ethernet headers: 50 and 70 bytes.
uint32_t vxlanOverhead(ip::Family family);
inline constexpr uint16_t kDefaultVxlanPort = 8472;  // flannel's, the Linux default
inline constexpr uint32_t kDefaultVxlanVNI = 1;

// A node's VTEP address on the overlay: the network address of its podCIDR, which no pod
// holds. A peer's route is `podCIDR via <VTEP address> dev routelet.vxlan onlink`, and the
// VTEP address resolves, by a static neighbour entry, to the peer's VTEP MAC.
ip::Address vtepAddress(const ip::Prefix& podCIDR);
// A node's VTEP MAC, derived from its podCIDR so that every node computes every peer's
// without trusting what the peer publishes: 0e:72 (locally administered, unicast), then the
// 32 bits of the network address that end at the prefix length (all of an IPv4 one).
// Distinct for distinct IPv4 podCIDRs, and for IPv6 podCIDRs that differ within the last 32
// bits of their prefix (every allocation from a cluster CIDR at most 32 bits shorter).
netlink::Mac vtepMac(const ip::Prefix& podCIDR);
// Whether a forwarding entry's MAC is in the range vtepMac() gives: the kernel keeps no
// protocol on a VXLAN fdb entry, so this is how routelet tells its entries apart.
bool isVtepMac(const netlink::Mac& mac);

// The entries of one peer on the device `index`: the neighbour (VTEP address -> VTEP MAC,
// tagged with `protocol`) and the forwarding entry (VTEP MAC -> the peer's node IP), both
// permanent.
std::vector<netlink::Neighbor> tunnelEntries(int index, const ip::Prefix& podCIDR,
                                             const ip::Address& nodeIP, uint8_t protocol);

// Whether an observed entry is routelet's to change: permanent, and a neighbour with
// routelet's protocol or a forwarding entry with a VTEP MAC. Anything else on the device
// (an admin's entry, the kernel's own resolution attempts) is left alone.
bool ownedEntry(const netlink::Neighbor& observed, uint8_t protocol);

// Whether an observed entry is `desired` in everything routelet sets (the kernel reports
// more state bits and, for fdb entries, no protocol).
bool sameEntry(const netlink::Neighbor& desired, const netlink::Neighbor& observed);

// The batch that takes a device's entries from `observed` (everything dumped) to `desired`,
// in key order: a replace for each desired entry missing or different, a delete for each
// owned entry no longer desired (only when deleteStale; see PlanOptions).
struct NeighborPlan {
  std::vector<netlink::NeighborOp> ops;
  std::size_t adds = 0;
  std::size_t updates = 0;
  std::size_t deletes = 0;
  std::size_t unchanged = 0;
};
NeighborPlan planNeighbors(const std::vector<netlink::Neighbor>& desired,
                           const std::vector<netlink::Neighbor>& observed, uint8_t protocol,
                           bool deleteStale);
// Without a dump (the agent's targeted pass): one peer's entries before and after.
NeighborPlan planPeerNeighbors(const std::vector<netlink::Neighbor>& before,
                               const std::vector<netlink::Neighbor>& after);

}  // namespace routelet::routes
