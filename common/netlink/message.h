// rtnetlink messages as bytes: pure builders for every request Handle sends and
// bounds-checked parsers for what the kernel sends back. Nothing here touches a socket,
// so the exact bytes are golden-tested and the parsers fuzzed without root.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
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

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;

// --- Requests. `seq` goes into nlmsg_seq; nlmsg_pid stays 0 (the kernel fills it). Every
// change request carries NLM_F_REQUEST | NLM_F_ACK so each one is answered.

// RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, kind "bridge".
Bytes buildNewBridge(uint32_t seq, const std::string& name, const Mac& mac, uint32_t mtu);
// RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, kind "veth"; the peer is described inside
// IFLA_INFO_DATA/VETH_INFO_PEER and lands in the namespace behind peerNsFd (-1: same one).
Bytes buildNewVeth(uint32_t seq, const std::string& name, const Mac& mac,
                   const std::string& peerName, const Mac& peerMac, uint32_t mtu, int peerNsFd);
// The same with the options of VethSpec: IFLA_MASTER and IFF_UP on this end (with
// ifi_change = IFF_UP, so no other flag changes).
Bytes buildNewVeth(uint32_t seq, const VethSpec& spec);
// RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, kind "vxlan": IFLA_VXLAN_ID, _PORT (network
// order), _LOCAL or _LOCAL6 (when info.local is set), _LINK (when info.underlay is set),
// _LEARNING 0; with IFF_UP when spec.up.
Bytes buildNewVxlan(uint32_t seq, const VxlanSpec& spec);
// RTM_NEWLINK without NLM_F_CREATE modifies the existing link `index`.
Bytes buildSetUp(uint32_t seq, int index, bool up);
// IFLA_AF_SPEC / AF_INET6 / IFLA_INET6_ADDR_GEN_MODE = IN6_ADDR_GEN_MODE_NONE: the link
// makes no IPv6 link-local address when it comes up (index 0: the link called `name`).
Bytes buildSetNoLinkLocal(uint32_t seq, int index, const std::string& name = {});
Bytes buildSetMaster(uint32_t seq, int index, int masterIndex);
// A bridge port's hairpin mode (IFLA_LINKINFO / IFLA_INFO_SLAVE_DATA / IFLA_BRPORT_MODE);
// index 0 names the link by name.
Bytes buildSetHairpin(uint32_t seq, int index, const std::string& name, bool on);
Bytes buildSetMtu(uint32_t seq, int index, uint32_t mtu);
Bytes buildSetMac(uint32_t seq, int index, const Mac& mac);
Bytes buildRename(uint32_t seq, int index, const std::string& newName);
// RTM_DELLINK.
Bytes buildDeleteLink(uint32_t seq, int index);
Bytes buildDeleteLinkByName(uint32_t seq, const std::string& name);
// RTM_GETLINK: one link (answered by RTM_NEWLINK or an error), or a dump of all.
Bytes buildGetLinkByName(uint32_t seq, const std::string& name);
Bytes buildGetLinkByIndex(uint32_t seq, int index);
Bytes buildLinkDump(uint32_t seq);

// RTM_NEWADDR (NLM_F_CREATE | NLM_F_EXCL) or RTM_DELADDR with IFA_LOCAL and IFA_ADDRESS;
// nodad adds IFA_F_NODAD (IPv6 only: IPv4 has no DAD) in ifa_flags and IFA_FLAGS.
Bytes buildNewAddress(uint32_t seq, int index, const ip::Prefix& prefix, bool nodad);
Bytes buildDeleteAddress(uint32_t seq, int index, const ip::Prefix& prefix);
// RTM_GETADDR dump; index 0 asks for every interface (the kernel filters by index only
// with NETLINK_GET_STRICT_CHK, so callers filter again).
Bytes buildAddressDump(uint32_t seq, int index);

// RTM_NEWROUTE with NLM_F_CREATE | NLM_F_REPLACE (kReplace) or RTM_DELROUTE (kDelete).
// A delete matches any scope (RT_SCOPE_NOWHERE, as `ip route del` does) but only the
// route's own protocol, so foreign routes with the same key are never removed.
Bytes buildRoute(uint32_t seq, RouteOp::Kind kind, const Route& route);
// RTM_GETROUTE dump of one family, with table/protocol in the header for kernels that
// filter under NETLINK_GET_STRICT_CHK (callers filter again).
Bytes buildRouteDump(uint32_t seq, ip::Family family, std::optional<uint8_t> protocol,
                     uint32_t table);

// RTM_NEWNEIGH with NLM_F_CREATE | NLM_F_REPLACE (kReplace) or RTM_DELNEIGH (kDelete).
// A neighbour: ndm_family of its address, NDA_DST, NDA_LLADDR, NDA_PROTOCOL when not 0. An
// fdb entry: AF_BRIDGE, ndm_flags NTF_SELF, NDA_LLADDR, NDA_DST when set. ndm_state is
// entry.state. A neighbour's delete carries only its key (NDA_DST). An fdb delete with
// NDA_DST removes only that remote; a unicast MAC has one, and a delete naming another
// removes nothing yet succeeds (measured on 6.18), so name the remote the entry has.
Bytes buildNeighbor(uint32_t seq, NeighborOp::Kind kind, const Neighbor& entry);
// RTM_GETNEIGH dump of one family (AF_INET, AF_INET6 or AF_BRIDGE) with NDA_IFINDEX = index
// when not 0 (kernels filter by it under NETLINK_GET_STRICT_CHK; callers filter again).
// ndm_ifindex stays 0: the strict neighbour dump refuses any other value (EINVAL).
Bytes buildNeighborDump(uint32_t seq, uint8_t family, int index);

// nf_tables set elements, each a key of the set's address type (ipv4_addr, ipv6_addr): added
// (NFT_MSG_NEWSETELEM with NLM_F_CREATE: a key present already is no error) or deleted
// (NFT_MSG_DELSETELEM: an absent key is ENOENT), in table `table` of family NFPROTO_*.
// Requests for Handle::transaction(); at most kNftElementsPerMessage keys each.
inline constexpr size_t kNftElementsPerMessage = 1024;
Bytes buildNftSetElements(uint32_t seq, bool add, uint8_t family, const std::string& table,
                          const std::string& set, std::span<const ip::Address> keys);
// The same with each key as the bytes nf_tables compares: a concatenation (`ipv4_addr .
// inet_proto . inet_service`) is its fields in network order, each padded to 4 bytes. At
// most 64 bytes a key.
Bytes buildNftSetElements(uint32_t seq, bool add, uint8_t family, const std::string& table,
                          const std::string& set, std::span<const std::string> keys);
// NFNL_MSG_BATCH_BEGIN / NFNL_MSG_BATCH_END for the nf_tables subsystem.
Bytes buildNftBatch(uint32_t seq, bool begin);

// --- Replies.

// One netlink message inside a received buffer.
struct Message {
  uint16_t type = 0;
  uint16_t flags = 0;
  uint32_t seq = 0;
  uint32_t pid = 0;
  ByteView bytes;  // the whole message, header included
};

// Splits a datagram into its messages; an Error when a header or length is inconsistent.
Result<std::vector<Message>> splitMessages(ByteView datagram);

// NLMSG_ERROR: error 0 is an acknowledgement; otherwise a negative errno. extack is the
// kernel's NLMSGERR_ATTR_MSG text when NETLINK_EXT_ACK is on ("" otherwise).
struct Ack {
  uint32_t seq = 0;
  int error = 0;  // positive errno, 0 for success
  std::string extack;
};
Result<Ack> parseAck(ByteView message);

// RTM_NEWLINK / RTM_DELLINK.
Result<Link> parseLink(ByteView message);
// RTM_NEWROUTE / RTM_DELROUTE. cloned reports RTM_F_CLONED (cache entries, not routes).
struct ParsedRoute {
  Route route;
  bool cloned = false;
};
Result<ParsedRoute> parseRoute(ByteView message);
// RTM_NEWADDR / RTM_DELADDR.
Result<AddressEntry> parseAddress(ByteView message);
// RTM_NEWNEIGH / RTM_DELNEIGH. fdb is set for AF_BRIDGE; self reports NTF_SELF, the
// device's own table: a bridge's dumps and notifications also carry the entries of its
// ports' forwarding database (NTF_MASTER), which are not the port's own.
struct ParsedNeighbor {
  Neighbor neighbor;
  bool self = false;
};
Result<ParsedNeighbor> parseNeighbor(ByteView message);

// An nf_tables notification (NETLINK_NETFILTER, subsystem NFNL_SUBSYS_NFTABLES): a table,
// chain, rule, set, element or object change names its table; the NFT_MSG_NEWGEN that
// closes each committed transaction names the committing process (NFTA_GEN_PROC_PID).
struct NftNotice {
  enum class Kind { kObject, kGeneration } kind = Kind::kObject;
  uint8_t family = 0;   // NFPROTO_* of the table (kObject)
  std::string table;    // kObject
  uint32_t pid = 0;     // kGeneration: the committing process, in the kernel's pid space
  uint32_t portid = 0;  // kGeneration: the netlink port that committed (nlmsg_pid)
};
// nullopt for a message of another subsystem or type (nothing to act on).
Result<std::optional<NftNotice>> parseNftNotice(ByteView message);

}  // namespace routelet::netlink
