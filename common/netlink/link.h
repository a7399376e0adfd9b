// Links as rtnetlink shows them, and the bridge, veth and VXLAN devices routelet makes.
// Handle (socket.h) creates, changes, lists and deletes them.
#pragma once

#include <cerrno>
#include <cstdint>
#include <optional>
#include <string>

#include "common/base/result.h"
#include "common/ip/address.h"
#include "common/netlink/mac.h"

namespace routelet::netlink {

// What makes a VXLAN device (IFLA_INFO_DATA of kind "vxlan") one routelet can use as it is.
struct VxlanInfo {
  uint32_t vni = 0;                  // IFLA_VXLAN_ID
  uint16_t port = 0;                 // IFLA_VXLAN_PORT, host order
  std::optional<ip::Address> local;  // IFLA_VXLAN_LOCAL / LOCAL6: the underlay source
  int underlay = 0;                  // IFLA_VXLAN_LINK: the device it sends through; 0: any
  bool learning = true;              // IFLA_VXLAN_LEARNING
  bool operator==(const VxlanInfo&) const = default;
};

struct Link {
  int index = 0;
  std::string name;
  std::string kind;  // IFLA_INFO_KIND: "bridge", "veth", "vxlan", "" for physical/loopback
  int master = 0;    // ifindex of the bridge it is enslaved to, 0 if none
  uint32_t mtu = 0;
  Mac mac{};
  bool up = false;                 // IFF_UP (administratively up)
  bool running = false;            // IFF_RUNNING / carrier
  std::optional<VxlanInfo> vxlan;  // kind "vxlan" only
};

// A VXLAN device as routelet makes it: static forwarding only (no learning, no multicast
// group, no default destination), so a frame leaves only towards a peer routelet put in
// its forwarding database.
struct VxlanSpec {
  std::string name;
  Mac mac{};
  uint32_t mtu = 0;
  VxlanInfo info;  // learning is always sent as off
  bool up = true;
};

// A veth pair made by one RTM_NEWLINK. Besides names, MACs and the MTU of both ends, the
// request can enslave this end and bring it up: the kernel applies the ifinfomsg's flags
// (rtnl_configure_link) and IFLA_MASTER (do_set_master) while creating, and unregisters
// the pair again if either fails. That saves a GETLINK, a set-master and a set-up round
// trip afterwards. The peer cannot come up this way: veth_newlink configures it before the
// two ends are linked, and veth_open refuses an end without a peer (ENOTCONN).
struct VethSpec {
  std::string name;
  Mac mac{};
  uint32_t mtu = 0;  // both ends; 0 leaves the kernel's default
  int master = 0;    // IFLA_MASTER of this end; 0: none
  bool up = false;
  std::string peerName;
  Mac peerMac{};
  int peerNsFd = -1;  // the peer's namespace; -1: this one
  // This end makes no IPv6 link-local address (a bridge port needs none). The kernel
  // refuses IFLA_AF_SPEC in the creating request (the link has no IPv6 state yet), so it
  // is a second request in the same sendmsg, applied before the peer can bring the
  // carrier up; if it fails, the pair is deleted again.
  bool noLinkLocal = false;
  // Transmit and receive queues of each end (IFLA_NUM_TX_QUEUES, IFLA_NUM_RX_QUEUES); 0
  // leaves the kernel's default. That default is one of each per possible CPU: veth_newlink
  // registers every one of them in sysfs and then (veth_init_queues) removes all but the
  // first again, so on a node with many CPUs most of a pair's creation is queue objects
  // made and unmade (cni/README.md has figures). A veth that runs neither XDP nor GRO uses
  // one queue of each anyway.
  uint32_t queues = 0;
  // This end, a bridge port (master set), sends frames back out of the port they came in on
  // (IFLA_BRPORT_MODE, "hairpin"). The bridge applies port options only to a port it
  // already has, so this too is a second request in the same sendmsg; if it fails, the
  // pair is deleted again.
  bool hairpin = false;
};

// The answer to an IPv6 setting on a link without IPv6 state (a kernel booted with
// ipv6.disable=1, or an MTU below 1280): there is nothing to set.
inline bool ipv6Absent(const Error& e) {
  return e.code == EAFNOSUPPORT;
}

}  // namespace routelet::netlink
