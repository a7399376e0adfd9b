// Changes the kernel announces: links, addresses, routes and neighbours (rtnetlink
// multicast groups) or committed nf_tables transactions, as Events from a pollable socket.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "common/base/unique_fd.h"
#include "common/ip/address.h"
#include "common/netlink/neighbour.h"
#include "common/netlink/nftables.h"
#include "common/netlink/route.h"

namespace routelet::netlink {

// Events from the kernel's multicast groups: rtnetlink (links, IPv4 and IPv6 routes) or
// nf_tables (NFNLGRP_NFTABLES).
struct Event {
  enum class Kind {
    kLinkChanged,
    kLinkRemoved,
    kRouteAdded,
    kRouteRemoved,
    kNftCommit,
    kNeighborChanged,  // RTM_NEWNEIGH, any family (fdb entries of VXLAN devices too)
    kNeighborRemoved,  // RTM_DELNEIGH
    kAddressAdded,     // RTM_NEWADDR (linkIndex, address)
    kAddressRemoved,   // RTM_DELADDR
  } kind;
  int linkIndex = 0;                                 // for link events
  std::string linkName;                              // for link events
  std::optional<Route> route;                        // for route events
  NftCommit nft;                                     // for kNftCommit
  std::optional<Neighbor> neighbor = std::nullopt;   // for neighbour events
  std::optional<ip::Prefix> address = std::nullopt;  // for address events
};

class Monitor {
 public:
  // Subscribes in the calling thread's namespace: to links, addresses and routes (and
  // neighbours, with neighbors set: RTNLGRP_NEIGH, every ARP/ND change of the node), or to
  // nf_tables.
  static Result<Monitor> open(bool neighbors = false);
  static Result<Monitor> openNftables();
  // nf_tables only: the set element notifications of transactions sent through these
  // netlink ports (the agent's own element sockets) are dropped by a socket filter before
  // they are queued. A whole write of 150 000 elements notifies each one, which no receive
  // queue holds: the overrun would pass for a foreign change and start another whole write.
  // Their commit notices still arrive (the agent learns its own pid from them), and so does
  // every element another process adds or deletes.
  Status ignoreElementsFrom(const std::vector<uint32_t>& ports);

  int fd() const { return fd_.get(); }  // pollable
  // Reads whatever is queued without blocking. An ENOBUFS overrun is reported as an
  // error so the caller does a full resync: events were lost.
  Result<std::vector<Event>> drain();
  // Waits up to timeout for at least one event (or overrun), then drains.
  Result<std::vector<Event>> wait(std::chrono::milliseconds timeout);

 private:
  Monitor(int fd, bool nftables) : fd_(fd), nftables_(nftables) {}
  UniqueFd fd_;
  bool nftables_ = false;
  NftCommit pending_;  // nf_tables objects seen since the last commit notice
};

}  // namespace routelet::netlink
