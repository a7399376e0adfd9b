// rtnetlink: links, addresses, routes and a change monitor.
//
// Messages are built as bytes by pure functions (message.h), so they are golden-tested
// without root; Handle sends them on a socket bound to one network namespace and checks
// every acknowledgement. No exception leaves this library.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "common/base/unique_fd.h"
#include "common/ip/address.h"

namespace routelet::netlink {

using Mac = std::array<uint8_t, 6>;
std::string macString(const Mac& mac);
Result<Mac> parseMac(const std::string& text);

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

// A neighbour entry (family AF_INET / AF_INET6: overlay address -> MAC) or a forwarding
// database entry of a VXLAN device (AF_BRIDGE with NTF_SELF: MAC -> the peer's underlay
// address), as `ip neigh` and `bridge fdb` show them.
struct Neighbor {
  bool fdb = false;
  int index = 0;                       // the device
  std::optional<ip::Address> address;  // neighbour: its key; fdb: NDA_DST, the remote VTEP
  Mac mac{};                           // neighbour: NDA_LLADDR; fdb: its key
  uint16_t state = 0x80;               // NUD_PERMANENT
  uint8_t protocol = 0;                // NDA_PROTOCOL (neighbours; the kernel keeps none for fdb)

  // The kernel's identity of the entry: a replace overwrites everything else.
  struct Key {
    bool fdb;
    int index;
    std::optional<ip::Address> address;  // neighbours only
    Mac mac;                             // fdb only (zero for neighbours)
    auto operator<=>(const Key&) const = default;
  };
  Key key() const {
    return fdb ? Key{true, index, std::nullopt, mac} : Key{false, index, address, {}};
  }
  bool operator==(const Neighbor&) const = default;
};
std::string describe(const Neighbor& n);  // "fdb 0e:72:0a:f4:02:00 dst 192.168.2.12 dev 7"

// One operation of a neighbour batch. kReplace: install or overwrite (NLM_F_CREATE |
// NLM_F_REPLACE); kDelete: remove the entry with the key (ENOENT when there is none).
struct NeighborOp {
  enum class Kind { kReplace, kDelete } kind;
  Neighbor entry;
};

struct AddressEntry {
  int index = 0;      // interface
  ip::Prefix prefix;  // address with its prefix length, host bits kept
  uint8_t scope = 0;
};

// A route's identity follows the kernel's key for the main FIB: family, table, dst,
// priority (and tos for IPv4). Two routes with the same key are the same route; a
// "replace" overwrites the other attributes.
struct Route {
  ip::Prefix dst;
  std::optional<ip::Address> gateway;
  int oif = 0;            // 0: let the kernel resolve it from the gateway
  uint32_t table = 254;   // RT_TABLE_MAIN
  uint8_t protocol = 3;   // RTPROT_BOOT, like `ip route add`
  uint8_t scope = 0;      // RT_SCOPE_UNIVERSE; RT_SCOPE_LINK for on-link routes
  uint8_t type = 1;       // RTN_UNICAST
  uint32_t priority = 0;  // metric
  bool onlink = false;    // RTNH_F_ONLINK

  struct Key {
    ip::Family family;
    uint32_t table;
    ip::Prefix dst;
    uint32_t priority;
    auto operator<=>(const Key&) const = default;
  };
  Key key() const { return Key{dst.family(), table, dst.network(), priority}; }
  bool operator==(const Route&) const = default;
};
std::string describe(const Route& r);  // "10.244.2.0/24 via 192.168.1.12 dev 3 proto 201"

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
bool ipv6Absent(const Error& e);

// One change request of Handle::batch: its bytes, built for the seq it is given (a builder
// of message.h bound to its arguments), and what it does, for error messages.
struct Request {
  std::string what;
  std::function<std::vector<uint8_t>(uint32_t seq)> build;
};

// One operation of a route batch.
struct RouteOp {
  // kReplace: install or overwrite whatever route holds the key. kCreate: install, or
  // fail with EEXIST when any route (of any owner) holds the key. kDelete: remove the
  // route with the key, protocol and gateway given (ESRCH when there is none).
  enum class Kind { kReplace, kCreate, kDelete } kind;
  Route route;
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

// A committed nf_tables transaction: the tables it touched (family NFPROTO_*, name) and
// the process that committed it, so an owner can tell its own changes from anyone else's.
struct NftCommit {
  // The committing process as the kernel numbers it (the initial pid namespace: in a
  // container it differs from getpid()), and the netlink port it committed through.
  uint32_t pid = 0;
  uint32_t portid = 0;
  std::vector<std::pair<uint8_t, std::string>> tables;
};

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
