// An rtnetlink or nf_tables socket bound to one network namespace (Handle), and the
// requests it sends: each one acknowledged, many of them in one sendmsg (batch, apply) or
// as one nf_tables transaction. What the requests are about lives with its kernel object:
// link.h, address.h, route.h, neighbour.h; their bytes come from message.h. Handle's
// requests are defined by object in socket_<object>.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "common/ip/address.h"
#include "common/netlink/address.h"
#include "common/netlink/link.h"
#include "common/netlink/mac.h"
#include "common/netlink/neighbour.h"
#include "common/netlink/route.h"

namespace routelet::netlink {

// One change request of Handle::batch: its bytes, built for the seq it is given (a builder
// of message.h bound to its arguments), and what it does, for error messages.
struct Request {
  std::string what;
  std::function<std::vector<uint8_t>(uint32_t seq)> build;
};

class Handle {
 public:
  // A socket in the calling thread's current network namespace.
  static Result<Handle> open();
  // A socket in the namespace behind nsFd (netns::Fd::get()). Sockets stay bound to the
  // namespace they were created in, so the handle keeps working after the caller moves.
  static Result<Handle> openIn(int nsFd);
  // A NETLINK_NETFILTER socket in the calling thread's namespace, for transaction().
  static Result<Handle> openNetfilter();

  Handle(Handle&&) noexcept;
  Handle& operator=(Handle&&) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle();

  // Links. Errors keep the kernel's errno in Error::code (ENODEV when a link is missing,
  // EEXIST when a name is taken) so callers can tell "already gone" from real failure.
  Result<Link> linkByName(const std::string& name);
  Result<Link> linkByIndex(int index);
  Result<std::vector<Link>> links();
  Status createBridge(const std::string& name, const Mac& mac, uint32_t mtu);
  // Creates a veth pair: hostName stays in this handle's namespace, peerName is created
  // directly inside the namespace behind peerNsFd (-1: this namespace).
  Status createVeth(const std::string& hostName, const Mac& hostMac, const std::string& peerName,
                    const Mac& peerMac, uint32_t mtu, int peerNsFd);
  Status createVeth(const VethSpec& spec);
  Status createVxlan(const VxlanSpec& spec);
  Status setUp(int index, bool up = true);
  Status setMaster(int index, int masterIndex);  // 0 releases it
  Status setMtu(int index, uint32_t mtu);
  Status setMac(int index, const Mac& mac);
  Status rename(int index, const std::string& newName);  // the link must be down
  Status deleteLink(int index);
  Status deleteLinkByName(const std::string& name);  // ENODEV when missing

  // Addresses. nodad sets IFA_F_NODAD for IPv6 (no duplicate address detection wait).
  Status addAddress(int index, const ip::Prefix& prefix, bool nodad = false);
  Status deleteAddress(int index, const ip::Prefix& prefix);
  Result<std::vector<AddressEntry>> addresses(int index = 0);  // 0: every interface

  // Routes. dump returns the routes of the family (both when not given) in `table`,
  // filtered to `protocol` when given; cached/cloned routes are skipped.
  Status replaceRoute(const Route& route);
  Status deleteRoute(const Route& route);
  Result<std::vector<Route>> routes(std::optional<ip::Family> family = std::nullopt,
                                    std::optional<uint8_t> protocol = std::nullopt,
                                    uint32_t table = 254);
  // Sends the whole batch, each message acknowledged, and returns one Status per
  // operation, in order. Stops at the socket level only on a transport error.
  Result<std::vector<Status>> apply(const std::vector<RouteOp>& ops);
  // Neighbour and fdb operations, then route operations, in one sendmsg: one Status per
  // operation, the neighbour ones first.
  Result<std::vector<Status>> apply(const std::vector<NeighborOp>& neighbors,
                                    const std::vector<RouteOp>& routes);

  // The neighbour entries (fdb false: AF_INET and AF_INET6) or forwarding database
  // entries (fdb true: AF_BRIDGE, NTF_SELF) of the device `index`, whatever their state.
  Result<std::vector<Neighbor>> neighbors(int index, bool fdb);
  // Any change requests the same way: one sendmsg, each message acknowledged, one Status
  // per request in order. rtnetlink runs them in order and goes on after a failed one
  // (netlink_rcv_skb), so a later request that needs an earlier one fails on its own.
  Result<std::vector<Status>> batch(const std::vector<Request>& requests);
  // An nf_tables transaction (openNetfilter() handles only): the requests between a batch
  // begin and end in one datagram, each acknowledged; the kernel applies all or none. The
  // first failure names its request.
  Status transaction(const std::vector<Request>& requests);
  // The socket's netlink port id (nl_pid), which the kernel puts in notifications of the
  // changes this socket made.
  Result<uint32_t> portId() const;

  int fd() const;

 private:
  struct Impl;
  explicit Handle(Impl* impl);
  // batch() of total requests made by make(i), one sendmsg's worth at a time.
  Result<std::vector<Status>> batchOf(size_t total, const std::function<Request(size_t)>& make);
  Impl* impl_ = nullptr;
};

}  // namespace routelet::netlink
