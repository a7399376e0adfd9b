#include "common/netlink/message.h"

#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <tuple>

namespace routelet::netlink {
namespace {

// Every request here is a fixed header plus a few short attributes; strings are the only
// variable part, so the buffer is sized from them up front. It never grows: callers keep
// pointers to the fixed headers (extra<T>()) while they add attributes.
constexpr size_t kFixedRoom = 512;

// A netlink message in the kernel's layout (<linux/netlink.h>): the header, a family header,
// then type-length-value attributes, each padded to 4 bytes with zeros; a nested attribute's
// length covers everything added until it is closed.
class Builder {
 public:
  Builder(uint16_t type, uint16_t flags, uint32_t seq, size_t extra = 0)
      : size_(kFixedRoom + extra), buf_(new uint8_t[size_]()) {
    nlmsghdr header{};
    header.nlmsg_type = type;
    header.nlmsg_flags = flags;
    header.nlmsg_seq = seq;
    std::memcpy(buf_.get(), &header, sizeof header);
    setLength(NLMSG_HDRLEN);
  }
  // Moving keeps the heap block, so pointers into it stay valid; a copy would not.
  Builder(Builder&&) = default;
  Builder(const Builder&) = delete;

  // The family header (ifinfomsg, ifaddrmsg, rtmsg), zeroed; it must come first.
  template <typename T>
  T* extra() {
    return static_cast<T*>(reserve(NLMSG_ALIGN(sizeof(T))));
  }
  void put(uint16_t type, const void* data, size_t len) {
    auto* at = static_cast<uint8_t*>(reserve(NLA_ALIGN(NLA_HDRLEN + len)));
    writeAttrHeader(at, type, NLA_HDRLEN + len);
    std::memcpy(at + NLA_HDRLEN, data, len);
  }
  void putU8(uint16_t type, uint8_t value) { put(type, &value, sizeof value); }
  void putU32(uint16_t type, uint32_t value) { put(type, &value, sizeof value); }
  void putAddress(uint16_t type, const ip::Address& a) {
    put(type, a.bytes(), static_cast<size_t>(a.byteLength()));
  }
  void putString(uint16_t type, const std::string& value) {
    put(type, value.c_str(), value.size() + 1);  // with its NUL, as the kernel's NLA_NUL_STRING
  }
  // Opens a nested attribute; end() with what it returns closes it.
  size_t begin(uint16_t type) {
    size_t at = len_;
    writeAttrHeader(static_cast<uint8_t*>(reserve(NLA_HDRLEN)), NLA_F_NESTED | type, 0);
    return at;
  }
  void end(size_t at) { store(at + offsetof(nlattr, nla_len), static_cast<uint16_t>(len_ - at)); }
  Bytes finish() const { return Bytes(buf_.get(), buf_.get() + len_); }

 private:
  static void writeAttrHeader(uint8_t* at, uint16_t type, size_t len) {
    nlattr attr{static_cast<uint16_t>(len), type};
    std::memcpy(at, &attr, sizeof attr);
  }
  template <typename T>
  void store(size_t offset, T value) {
    std::memcpy(buf_.get() + offset, &value, sizeof value);
  }
  void setLength(size_t len) {
    len_ = len;
    store(offsetof(nlmsghdr, nlmsg_len), static_cast<uint32_t>(len));
  }
  // The next `len` bytes of the message, zeroed. The room is sized for every request this
  // file builds, so running out is a bug in this file, not bad input: it stops the process
  // rather than write past the buffer.
  void* reserve(size_t len) {
    size_t at = len_;
    if (at + len > size_) {
      std::fprintf(stderr, "netlink message builder: %zu bytes do not fit in %zu\n", at + len,
                   size_);
      std::abort();
    }
    setLength(at + len);
    return buf_.get() + at;
  }

  size_t size_;
  std::unique_ptr<uint8_t[]> buf_;  // zeroed: padding and reserved fields stay 0
  size_t len_ = 0;
};

constexpr uint16_t kChange = NLM_F_REQUEST | NLM_F_ACK;

ifinfomsg* linkHeader(Builder& b, int index) {
  auto* ifi = b.extra<ifinfomsg>();
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = index;
  return ifi;
}

// IFF_UP at creation. ifi_change must name the flag: with ifi_change 0 the kernel takes
// ifi_flags as the whole flag word (rtnl_dev_combine_flags) and would clear IFF_MULTICAST,
// which IPv6 neighbour discovery needs. Nothing is set for a link that stays down, so the
// kernel leaves its flags alone (rtnl_configure_link skips a zero flags/change pair).
void setUpFlag(ifinfomsg* ifi, bool up) {
  if (!up) return;
  ifi->ifi_flags = IFF_UP;
  ifi->ifi_change = IFF_UP;
}

Builder setLink(uint32_t seq, int index) {
  Builder b(RTM_NEWLINK, kChange, seq);
  linkHeader(b, index);
  return b;
}

// Name, MAC and MTU of a link being created (the host end and the veth peer alike).
void putLinkBasics(Builder& b, const std::string& name, const Mac& mac, uint32_t mtu) {
  b.putString(IFLA_IFNAME, name);
  b.put(IFLA_ADDRESS, mac.data(), mac.size());
  if (mtu) b.putU32(IFLA_MTU, mtu);
}

void putQueues(Builder& b, uint32_t queues) {
  if (!queues) return;
  b.putU32(IFLA_NUM_TX_QUEUES, queues);
  b.putU32(IFLA_NUM_RX_QUEUES, queues);
}

void putExtMask(Builder& b) {
  // Statistics blocks are most of a link message and routelet never reads them.
  b.putU32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
}

Bytes addressMessage(uint16_t type, uint16_t flags, uint32_t seq, int index,
                     const ip::Prefix& prefix, bool nodad) {
  Builder b(type, flags, seq);
  auto* ifa = b.extra<ifaddrmsg>();
  ifa->ifa_family = static_cast<uint8_t>(ip::familyAf(prefix.family()));
  ifa->ifa_prefixlen = static_cast<uint8_t>(prefix.length());
  ifa->ifa_index = static_cast<uint32_t>(index);
  const ip::Address& a = prefix.address();
  b.putAddress(IFA_LOCAL, a);
  b.putAddress(IFA_ADDRESS, a);
  if (nodad && !a.isV4()) {
    ifa->ifa_flags = IFA_F_NODAD;
    // IFA_FLAGS carries the full 32-bit flag word; the kernel prefers it over ifa_flags.
    b.putU32(IFA_FLAGS, IFA_F_NODAD);
  }
  return b.finish();
}

// rtm_table is 8 bits; larger ids travel only in RTA_TABLE (as iproute2 does).
uint8_t headerTable(uint32_t table) {
  return table < 256 ? static_cast<uint8_t>(table) : uint8_t{RT_TABLE_UNSPEC};
}

// --- Parsing helpers. Every read is bounds-checked and copies through memcpy, so hostile
// or truncated input (fuzzing, a bug elsewhere) gives an Error rather than a crash or an
// unaligned access.

constexpr size_t align4(size_t n) {
  return (n + 3) & ~size_t{3};
}

template <typename T>
bool readStruct(ByteView bytes, size_t offset, T* out) {
  if (offset > bytes.size() || bytes.size() - offset < sizeof(T)) return false;
  std::memcpy(out, bytes.data() + offset, sizeof(T));
  return true;
}

Error malformed(const std::string& what) {
  return makeError("malformed netlink message: " + what, EBADMSG);
}

// Attributes by type; a type seen twice keeps the last, like the kernel's nla_parse.
using Attributes = std::map<uint16_t, ByteView>;

Result<Attributes> parseAttributes(ByteView bytes) {
  Attributes attrs;
  size_t offset = 0;
  while (offset < bytes.size()) {
    nlattr attr{};
    if (!readStruct(bytes, offset, &attr))
      return malformed("attribute header truncated at byte " + std::to_string(offset));
    if (attr.nla_len < sizeof(nlattr) || attr.nla_len > bytes.size() - offset)
      return malformed("attribute type " + std::to_string(attr.nla_type) + " has length " +
                       std::to_string(attr.nla_len) + " with " +
                       std::to_string(bytes.size() - offset) + " bytes left");
    attrs[attr.nla_type & NLA_TYPE_MASK] =
        bytes.subspan(offset + sizeof(nlattr), attr.nla_len - sizeof(nlattr));
    offset += align4(attr.nla_len);
  }
  return attrs;
}

// An unsigned attribute of exactly sizeof(T) bytes in host order; 0 when absent.
template <typename T>
Result<T> uintAttr(const Attributes& attrs, uint16_t type, const char* name) {
  auto it = attrs.find(type);
  if (it == attrs.end()) return T{0};
  T v = 0;
  if (it->second.size() != sizeof v)
    return malformed(std::string(name) + " has " + std::to_string(it->second.size()) +
                     " bytes, expected " + std::to_string(sizeof v));
  std::memcpy(&v, it->second.data(), sizeof v);
  return v;
}

Result<uint32_t> u32Attr(const Attributes& attrs, uint16_t type, const char* name) {
  return uintAttr<uint32_t>(attrs, type, name);
}

std::string stringAttr(ByteView payload) {
  std::string s(reinterpret_cast<const char*>(payload.data()), payload.size());
  auto nul = s.find('\0');
  if (nul != std::string::npos) s.resize(nul);
  return s;
}

Result<ip::Address> addressAttr(ByteView payload, ip::Family family, const char* name) {
  size_t want = family == ip::Family::kV4 ? 4 : 16;
  if (payload.size() != want)
    return malformed(std::string(name) + " has " + std::to_string(payload.size()) +
                     " bytes, expected " + std::to_string(want));
  return ip::Address::fromBytes(family, payload.data());
}

// An address whose family only its length tells (an fdb entry's NDA_DST, AF_BRIDGE).
Result<ip::Address> anyAddressAttr(ByteView payload, const char* name) {
  if (payload.size() == 4 || payload.size() == 16)
    return ip::Address::fromBytes(payload.size() == 4 ? ip::Family::kV4 : ip::Family::kV6,
                                  payload.data());
  return malformed(std::string(name) + " has " + std::to_string(payload.size()) +
                   " bytes, expected 4 or 16");
}

Result<ip::Family> familyOf(uint8_t af) {
  if (af == AF_INET) return ip::Family::kV4;
  if (af == AF_INET6) return ip::Family::kV6;
  return malformed("address family " + std::to_string(af) + " is not IPv4 or IPv6");
}

// The fixed header of type T after the nlmsghdr, and the attributes after that.
template <typename T>
Result<Attributes> body(ByteView message, T* header) {
  nlmsghdr nlh{};
  if (!readStruct(message, 0, &nlh) || nlh.nlmsg_len < sizeof nlh || nlh.nlmsg_len > message.size())
    return malformed("header truncated or length beyond the buffer");
  ByteView payload = message.subspan(sizeof nlh, nlh.nlmsg_len - sizeof nlh);
  if (!readStruct(payload, 0, header)) return malformed("fixed header truncated");
  size_t start = align4(sizeof(T));
  if (start > payload.size()) return Attributes{};
  return parseAttributes(payload.subspan(start));
}

// IFLA_INFO_DATA of a VXLAN device (drivers/net/vxlan/vxlan_core.c, vxlan_fill_info).
Result<VxlanInfo> parseVxlanInfo(ByteView bytes) {
  auto attrs = parseAttributes(bytes);
  if (!attrs.ok()) return attrs.error();
  VxlanInfo vx;
  auto vni = u32Attr(*attrs, IFLA_VXLAN_ID, "IFLA_VXLAN_ID");
  auto port = uintAttr<uint16_t>(*attrs, IFLA_VXLAN_PORT, "IFLA_VXLAN_PORT");
  auto underlay = u32Attr(*attrs, IFLA_VXLAN_LINK, "IFLA_VXLAN_LINK");
  auto learning = uintAttr<uint8_t>(*attrs, IFLA_VXLAN_LEARNING, "IFLA_VXLAN_LEARNING");
  if (!vni.ok()) return vni.error();
  if (!port.ok()) return port.error();
  if (!underlay.ok()) return underlay.error();
  if (!learning.ok()) return learning.error();
  vx.vni = *vni;
  vx.port = ntohs(*port);
  vx.underlay = static_cast<int>(*underlay);
  vx.learning = *learning != 0;
  for (auto [type, family, name] :
       {std::tuple{IFLA_VXLAN_LOCAL, ip::Family::kV4, "IFLA_VXLAN_LOCAL"},
        std::tuple{IFLA_VXLAN_LOCAL6, ip::Family::kV6, "IFLA_VXLAN_LOCAL6"}}) {
    auto it = attrs->find(static_cast<uint16_t>(type));
    if (it == attrs->end()) continue;
    auto a = addressAttr(it->second, family, name);
    if (!a.ok()) return a.error();
    vx.local = *a;
  }
  return vx;
}

}  // namespace

Bytes buildNewBridge(uint32_t seq, const std::string& name, const Mac& mac, uint32_t mtu) {
  Builder b(RTM_NEWLINK, kChange | NLM_F_CREATE | NLM_F_EXCL, seq, name.size());
  linkHeader(b, 0);
  putLinkBasics(b, name, mac, mtu);
  size_t info = b.begin(IFLA_LINKINFO);
  b.putString(IFLA_INFO_KIND, "bridge");
  b.end(info);
  return b.finish();
}

Bytes buildNewVeth(uint32_t seq, const std::string& name, const Mac& mac,
                   const std::string& peerName, const Mac& peerMac, uint32_t mtu, int peerNsFd) {
  return buildNewVeth(seq, VethSpec{.name = name,
                                    .mac = mac,
                                    .mtu = mtu,
                                    .peerName = peerName,
                                    .peerMac = peerMac,
                                    .peerNsFd = peerNsFd});
}

Bytes buildNewVeth(uint32_t seq, const VethSpec& spec) {
  Builder b(RTM_NEWLINK, kChange | NLM_F_CREATE | NLM_F_EXCL, seq,
            spec.name.size() + spec.peerName.size());
  setUpFlag(linkHeader(b, 0), spec.up);
  putLinkBasics(b, spec.name, spec.mac, spec.mtu);
  if (spec.master) b.putU32(IFLA_MASTER, static_cast<uint32_t>(spec.master));
  putQueues(b, spec.queues);
  size_t info = b.begin(IFLA_LINKINFO);
  b.putString(IFLA_INFO_KIND, "veth");
  size_t data = b.begin(IFLA_INFO_DATA);
  // The peer is a whole link description: an ifinfomsg followed by its own attributes
  // (drivers/net/veth.c parses it with rtnl_nla_parse_ifinfomsg).
  size_t peer = b.begin(VETH_INFO_PEER);
  linkHeader(b, 0);
  putLinkBasics(b, spec.peerName, spec.peerMac, spec.mtu);
  putQueues(b, spec.queues);
  if (spec.peerNsFd >= 0) b.putU32(IFLA_NET_NS_FD, static_cast<uint32_t>(spec.peerNsFd));
  b.end(peer);
  b.end(data);
  b.end(info);
  return b.finish();
}

Bytes buildNewVxlan(uint32_t seq, const VxlanSpec& spec) {
  Builder b(RTM_NEWLINK, kChange | NLM_F_CREATE | NLM_F_EXCL, seq, spec.name.size());
  setUpFlag(linkHeader(b, 0), spec.up);
  putLinkBasics(b, spec.name, spec.mac, spec.mtu);
  size_t info = b.begin(IFLA_LINKINFO);
  b.putString(IFLA_INFO_KIND, "vxlan");
  size_t data = b.begin(IFLA_INFO_DATA);
  const VxlanInfo& vx = spec.info;
  b.putU32(IFLA_VXLAN_ID, vx.vni);
  const uint16_t port = htons(vx.port);  // the one IFLA_VXLAN_* in network order
  b.put(IFLA_VXLAN_PORT, &port, sizeof port);
  if (vx.local) b.putAddress(vx.local->isV4() ? IFLA_VXLAN_LOCAL : IFLA_VXLAN_LOCAL6, *vx.local);
  if (vx.underlay) b.putU32(IFLA_VXLAN_LINK, static_cast<uint32_t>(vx.underlay));
  // Static forwarding only: a learned entry would send a peer's frames wherever a packet
  // claiming its MAC last came from.
  b.putU8(IFLA_VXLAN_LEARNING, 0);
  b.end(data);
  b.end(info);
  return b.finish();
}

Bytes buildSetUp(uint32_t seq, int index, bool up) {
  Builder b(RTM_NEWLINK, kChange, seq);
  auto* ifi = linkHeader(b, index);
  ifi->ifi_flags = up ? IFF_UP : 0;
  ifi->ifi_change = IFF_UP;  // only IFF_UP changes
  return b.finish();
}

Bytes buildSetNoLinkLocal(uint32_t seq, int index, const std::string& name) {
  Builder b(RTM_NEWLINK, kChange, seq, name.size());
  linkHeader(b, index);
  if (index == 0) b.putString(IFLA_IFNAME, name);
  size_t spec = b.begin(IFLA_AF_SPEC);
  size_t inet6 = b.begin(AF_INET6);
  b.putU8(IFLA_INET6_ADDR_GEN_MODE, IN6_ADDR_GEN_MODE_NONE);
  b.end(inet6);
  b.end(spec);
  return b.finish();
}

Bytes buildSetHairpin(uint32_t seq, int index, const std::string& name, bool on) {
  Builder b(RTM_NEWLINK, kChange, seq, name.size());
  linkHeader(b, index);
  if (index == 0) b.putString(IFLA_IFNAME, name);
  size_t info = b.begin(IFLA_LINKINFO);
  size_t slave = b.begin(IFLA_INFO_SLAVE_DATA);
  b.putU8(IFLA_BRPORT_MODE, on ? 1 : 0);
  b.end(slave);
  b.end(info);
  return b.finish();
}

Bytes buildSetMaster(uint32_t seq, int index, int masterIndex) {
  Builder b = setLink(seq, index);
  b.putU32(IFLA_MASTER, static_cast<uint32_t>(masterIndex));
  return b.finish();
}

Bytes buildSetMtu(uint32_t seq, int index, uint32_t mtu) {
  Builder b = setLink(seq, index);
  b.putU32(IFLA_MTU, mtu);
  return b.finish();
}

Bytes buildSetMac(uint32_t seq, int index, const Mac& mac) {
  Builder b = setLink(seq, index);
  b.put(IFLA_ADDRESS, mac.data(), mac.size());
  return b.finish();
}

Bytes buildRename(uint32_t seq, int index, const std::string& newName) {
  Builder b(RTM_NEWLINK, kChange, seq, newName.size());
  linkHeader(b, index);
  b.putString(IFLA_IFNAME, newName);
  return b.finish();
}

Bytes buildDeleteLink(uint32_t seq, int index) {
  Builder b(RTM_DELLINK, kChange, seq);
  linkHeader(b, index);
  return b.finish();
}

Bytes buildDeleteLinkByName(uint32_t seq, const std::string& name) {
  Builder b(RTM_DELLINK, kChange, seq, name.size());
  linkHeader(b, 0);
  b.putString(IFLA_IFNAME, name);
  return b.finish();
}

Bytes buildGetLinkByName(uint32_t seq, const std::string& name) {
  Builder b(RTM_GETLINK, NLM_F_REQUEST, seq, name.size());
  linkHeader(b, 0);
  b.putString(IFLA_IFNAME, name);
  putExtMask(b);
  return b.finish();
}

Bytes buildGetLinkByIndex(uint32_t seq, int index) {
  Builder b(RTM_GETLINK, NLM_F_REQUEST, seq);
  linkHeader(b, index);
  putExtMask(b);
  return b.finish();
}

Bytes buildLinkDump(uint32_t seq) {
  Builder b(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, seq);
  linkHeader(b, 0);
  putExtMask(b);
  return b.finish();
}

Bytes buildNewAddress(uint32_t seq, int index, const ip::Prefix& prefix, bool nodad) {
  return addressMessage(RTM_NEWADDR, kChange | NLM_F_CREATE | NLM_F_EXCL, seq, index, prefix,
                        nodad);
}

Bytes buildDeleteAddress(uint32_t seq, int index, const ip::Prefix& prefix) {
  return addressMessage(RTM_DELADDR, kChange, seq, index, prefix, false);
}

Bytes buildAddressDump(uint32_t seq, int index) {
  Builder b(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, seq);
  auto* ifa = b.extra<ifaddrmsg>();
  ifa->ifa_family = AF_UNSPEC;
  ifa->ifa_index = static_cast<uint32_t>(index);
  return b.finish();
}

Bytes buildRoute(uint32_t seq, RouteOp::Kind kind, const Route& route) {
  bool replace = kind != RouteOp::Kind::kDelete;  // kReplace or kCreate: a RTM_NEWROUTE
  uint16_t flags = kChange;
  if (kind == RouteOp::Kind::kReplace) flags |= NLM_F_CREATE | NLM_F_REPLACE;
  if (kind == RouteOp::Kind::kCreate) flags |= NLM_F_CREATE | NLM_F_EXCL;
  Builder b(replace ? RTM_NEWROUTE : RTM_DELROUTE, flags, seq);
  auto* rtm = b.extra<rtmsg>();
  rtm->rtm_family = static_cast<uint8_t>(ip::familyAf(route.dst.family()));
  rtm->rtm_dst_len = static_cast<uint8_t>(route.dst.length());
  rtm->rtm_table = headerTable(route.table);
  rtm->rtm_protocol = route.protocol;
  rtm->rtm_scope = replace ? route.scope : static_cast<uint8_t>(RT_SCOPE_NOWHERE);
  rtm->rtm_type = route.type;
  if (route.onlink) rtm->rtm_flags = RTNH_F_ONLINK;
  if (route.dst.length() > 0) {
    b.putAddress(RTA_DST, route.dst.network().address());
  }
  if (route.gateway) b.putAddress(RTA_GATEWAY, *route.gateway);
  if (route.oif) b.putU32(RTA_OIF, static_cast<uint32_t>(route.oif));
  if (route.priority) b.putU32(RTA_PRIORITY, route.priority);
  b.putU32(RTA_TABLE, route.table);
  return b.finish();
}

Bytes buildRouteDump(uint32_t seq, ip::Family family, std::optional<uint8_t> protocol,
                     uint32_t table) {
  Builder b(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, seq);
  auto* rtm = b.extra<rtmsg>();
  rtm->rtm_family = static_cast<uint8_t>(ip::familyAf(family));
  rtm->rtm_table = headerTable(table);
  rtm->rtm_protocol = protocol.value_or(0);
  b.putU32(RTA_TABLE, table);
  return b.finish();
}

Bytes buildNeighbor(uint32_t seq, NeighborOp::Kind kind, const Neighbor& entry) {
  bool replace = kind == NeighborOp::Kind::kReplace;
  Builder b(replace ? RTM_NEWNEIGH : RTM_DELNEIGH,
            replace ? kChange | NLM_F_CREATE | NLM_F_REPLACE : kChange, seq);
  auto* ndm = b.extra<ndmsg>();
  ndm->ndm_ifindex = entry.index;
  ndm->ndm_state = entry.state;
  if (entry.fdb) {
    // NTF_SELF: the VXLAN device's own table (vxlan_fdb_add), not a bridge master's.
    ndm->ndm_family = AF_BRIDGE;
    ndm->ndm_flags = NTF_SELF;
    b.put(NDA_LLADDR, entry.mac.data(), entry.mac.size());
    // On a delete, NDA_DST removes only that remote of the MAC (__vxlan_fdb_delete); when
    // the MAC has no such remote nothing goes, and the kernel still answers 0.
    if (entry.address) b.putAddress(NDA_DST, *entry.address);
    return b.finish();
  }
  // A neighbour without an address has no family; the kernel refuses it (EINVAL).
  if (entry.address) {
    ndm->ndm_family = static_cast<uint8_t>(ip::familyAf(entry.address->family()));
    b.putAddress(NDA_DST, *entry.address);
  }
  if (!replace) return b.finish();  // the key is family, device and address
  b.put(NDA_LLADDR, entry.mac.data(), entry.mac.size());
  if (entry.protocol) b.putU8(NDA_PROTOCOL, entry.protocol);
  return b.finish();
}

Bytes buildNeighborDump(uint32_t seq, uint8_t family, int index) {
  Builder b(RTM_GETNEIGH, NLM_F_REQUEST | NLM_F_DUMP, seq);
  auto* ndm = b.extra<ndmsg>();
  ndm->ndm_family = family;
  // The device goes in NDA_IFINDEX, which both dumps take as their filter under
  // NETLINK_GET_STRICT_CHK (neigh_valid_dump_req, valid_fdb_dump_strict); a non-zero
  // ndm_ifindex makes the neighbour dump fail with EINVAL there.
  if (index) b.putU32(NDA_IFINDEX, static_cast<uint32_t>(index));
  return b.finish();
}

Bytes buildNftSetElements(uint32_t seq, bool add, uint8_t family, const std::string& table,
                          const std::string& set, std::span<const std::string> keys) {
  if (keys.size() > kNftElementsPerMessage) {
    std::fprintf(stderr, "buildNftSetElements: %zu keys, at most %zu\n", keys.size(),
                 kNftElementsPerMessage);
    std::abort();
  }
  uint16_t type = static_cast<uint16_t>((NFNL_SUBSYS_NFTABLES << 8) |
                                        (add ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM));
  uint16_t flags = NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE : 0);
  // Per key: the list element, the key, the value and its bytes (64 at most).
  Builder b(type, flags, seq, table.size() + set.size() + keys.size() * 80);
  auto* gen = b.extra<nfgenmsg>();
  gen->nfgen_family = family;
  gen->version = NFNETLINK_V0;
  b.putString(NFTA_SET_ELEM_LIST_TABLE, table);
  b.putString(NFTA_SET_ELEM_LIST_SET, set);
  size_t list = b.begin(NFTA_SET_ELEM_LIST_ELEMENTS);
  for (const auto& key : keys) {
    size_t element = b.begin(NFTA_LIST_ELEM);
    size_t k = b.begin(NFTA_SET_ELEM_KEY);
    b.put(NFTA_DATA_VALUE, key.data(), std::min<size_t>(key.size(), 64));
    b.end(k);
    b.end(element);
  }
  b.end(list);
  return b.finish();
}

Bytes buildNftSetElements(uint32_t seq, bool add, uint8_t family, const std::string& table,
                          const std::string& set, std::span<const ip::Address> keys) {
  std::vector<std::string> raw;
  raw.reserve(keys.size());
  for (const auto& key : keys)  // network order
    raw.emplace_back(reinterpret_cast<const char*>(key.bytes()), key.isV4() ? 4 : 16);
  return buildNftSetElements(seq, add, family, table, set, raw);
}

Bytes buildNftBatch(uint32_t seq, bool begin) {
  Builder b(begin ? NFNL_MSG_BATCH_BEGIN : NFNL_MSG_BATCH_END, NLM_F_REQUEST, seq);
  auto* gen = b.extra<nfgenmsg>();
  gen->nfgen_family = AF_UNSPEC;
  gen->version = NFNETLINK_V0;
  gen->res_id = htons(NFNL_SUBSYS_NFTABLES);
  return b.finish();
}

Result<std::vector<Message>> splitMessages(ByteView datagram) {
  std::vector<Message> out;
  size_t offset = 0;
  while (offset < datagram.size()) {
    nlmsghdr nlh{};
    if (!readStruct(datagram, offset, &nlh))
      return malformed("message header truncated at byte " + std::to_string(offset));
    if (nlh.nlmsg_len < sizeof nlh || nlh.nlmsg_len > datagram.size() - offset)
      return malformed("message length " + std::to_string(nlh.nlmsg_len) + " with " +
                       std::to_string(datagram.size() - offset) + " bytes left");
    out.push_back(Message{nlh.nlmsg_type, nlh.nlmsg_flags, nlh.nlmsg_seq, nlh.nlmsg_pid,
                          datagram.subspan(offset, nlh.nlmsg_len)});
    offset += align4(nlh.nlmsg_len);
  }
  return out;
}

Result<Ack> parseAck(ByteView message) {
  nlmsghdr nlh{};
  nlmsgerr err{};
  if (!readStruct(message, 0, &nlh) || nlh.nlmsg_type != NLMSG_ERROR ||
      nlh.nlmsg_len > message.size() || !readStruct(message, sizeof nlh, &err))
    return malformed("not a complete NLMSG_ERROR");
  // error is a negative errno; negating INT_MIN (hostile or corrupt input) is undefined.
  if (err.error == std::numeric_limits<int>::min())
    return malformed("NLMSG_ERROR with error INT_MIN");
  Ack ack{nlh.nlmsg_seq, -err.error, ""};
  if (!(nlh.nlmsg_flags & NLM_F_ACK_TLVS)) return ack;
  // The TLVs follow the echoed request: its header only when NLM_F_CAPPED, else all of it.
  size_t echoed = (nlh.nlmsg_flags & NLM_F_CAPPED) ? sizeof(nlmsghdr) : align4(err.msg.nlmsg_len);
  size_t start = sizeof nlh + sizeof(int) + echoed;
  if (start >= nlh.nlmsg_len) return ack;
  auto attrs = parseAttributes(message.subspan(start, nlh.nlmsg_len - start));
  if (!attrs.ok()) return attrs.error();
  if (auto it = attrs->find(NLMSGERR_ATTR_MSG); it != attrs->end())
    ack.extack = stringAttr(it->second);
  return ack;
}

Result<Link> parseLink(ByteView message) {
  ifinfomsg ifi{};
  auto attrs = body(message, &ifi);
  if (!attrs.ok()) return attrs.error().wrap("link");
  Link link;
  link.index = ifi.ifi_index;
  link.up = ifi.ifi_flags & IFF_UP;
  link.running = ifi.ifi_flags & IFF_RUNNING;
  if (auto it = attrs->find(IFLA_IFNAME); it != attrs->end()) link.name = stringAttr(it->second);
  auto mtu = u32Attr(*attrs, IFLA_MTU, "IFLA_MTU");
  if (!mtu.ok()) return mtu.error().wrap("link " + link.name);
  link.mtu = *mtu;
  auto master = u32Attr(*attrs, IFLA_MASTER, "IFLA_MASTER");
  if (!master.ok()) return master.error().wrap("link " + link.name);
  link.master = static_cast<int>(*master);
  // Only Ethernet-like links have a 6-byte address; others (tunnels) keep the zero MAC.
  if (auto it = attrs->find(IFLA_ADDRESS); it != attrs->end() && it->second.size() == 6)
    std::memcpy(link.mac.data(), it->second.data(), 6);
  if (auto it = attrs->find(IFLA_LINKINFO); it != attrs->end()) {
    auto info = parseAttributes(it->second);
    if (!info.ok()) return info.error().wrap("link " + link.name + " IFLA_LINKINFO");
    if (auto kind = info->find(IFLA_INFO_KIND); kind != info->end())
      link.kind = stringAttr(kind->second);
    if (auto data = info->find(IFLA_INFO_DATA); link.kind == "vxlan" && data != info->end()) {
      auto vxlan = parseVxlanInfo(data->second);
      if (!vxlan.ok()) return vxlan.error().wrap("link " + link.name + " IFLA_INFO_DATA");
      link.vxlan = *vxlan;
    }
  }
  return link;
}

Result<ParsedRoute> parseRoute(ByteView message) {
  rtmsg rtm{};
  auto attrs = body(message, &rtm);
  if (!attrs.ok()) return attrs.error().wrap("route");
  auto family = familyOf(rtm.rtm_family);
  if (!family.ok()) return family.error().wrap("route");
  int maxLen = *family == ip::Family::kV4 ? 32 : 128;
  if (rtm.rtm_dst_len > maxLen)
    return malformed("route prefix length " + std::to_string(rtm.rtm_dst_len));
  ParsedRoute out;
  Route& r = out.route;
  out.cloned = rtm.rtm_flags & RTM_F_CLONED;
  ip::Address dst = ip::Address::fromBytes(*family, std::array<uint8_t, 16>{}.data());
  if (auto it = attrs->find(RTA_DST); it != attrs->end()) {
    auto a = addressAttr(it->second, *family, "RTA_DST");
    if (!a.ok()) return a.error();
    dst = *a;
  }
  r.dst = ip::Prefix::make(dst, rtm.rtm_dst_len);
  if (auto it = attrs->find(RTA_GATEWAY); it != attrs->end()) {
    auto a = addressAttr(it->second, *family, "RTA_GATEWAY");
    if (!a.ok()) return a.error();
    r.gateway = *a;
  }
  auto oif = u32Attr(*attrs, RTA_OIF, "RTA_OIF");
  auto priority = u32Attr(*attrs, RTA_PRIORITY, "RTA_PRIORITY");
  auto table = u32Attr(*attrs, RTA_TABLE, "RTA_TABLE");
  for (auto* v : {&oif, &priority, &table})
    if (!v->ok()) return v->error().wrap("route " + r.dst.str());
  r.oif = static_cast<int>(*oif);
  r.priority = *priority;
  r.table = attrs->count(RTA_TABLE) ? *table : rtm.rtm_table;
  r.protocol = rtm.rtm_protocol;
  r.scope = rtm.rtm_scope;
  r.type = rtm.rtm_type;
  r.onlink = rtm.rtm_flags & RTNH_F_ONLINK;
  return out;
}

Result<AddressEntry> parseAddress(ByteView message) {
  ifaddrmsg ifa{};
  auto attrs = body(message, &ifa);
  if (!attrs.ok()) return attrs.error().wrap("address");
  auto family = familyOf(ifa.ifa_family);
  if (!family.ok()) return family.error().wrap("address");
  if (ifa.ifa_prefixlen > (*family == ip::Family::kV4 ? 32 : 128))
    return malformed("address prefix length " + std::to_string(ifa.ifa_prefixlen));
  // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer on point-to-point
  // links and the only one IPv6 sends.
  auto it = attrs->find(IFA_LOCAL);
  if (it == attrs->end()) it = attrs->find(IFA_ADDRESS);
  if (it == attrs->end()) return malformed("address without IFA_LOCAL or IFA_ADDRESS");
  auto a = addressAttr(it->second, *family, "IFA_LOCAL");
  if (!a.ok()) return a.error();
  AddressEntry e;
  e.index = static_cast<int>(ifa.ifa_index);
  e.prefix = ip::Prefix::make(*a, ifa.ifa_prefixlen);
  e.scope = ifa.ifa_scope;
  return e;
}

Result<ParsedNeighbor> parseNeighbor(ByteView message) {
  ndmsg ndm{};
  auto attrs = body(message, &ndm);
  if (!attrs.ok()) return attrs.error().wrap("neighbour");
  ParsedNeighbor out;
  Neighbor& n = out.neighbor;
  n.fdb = ndm.ndm_family == AF_BRIDGE;
  n.index = ndm.ndm_ifindex;
  n.state = ndm.ndm_state;
  out.self = ndm.ndm_flags & NTF_SELF;
  auto protocol = uintAttr<uint8_t>(*attrs, NDA_PROTOCOL, "NDA_PROTOCOL");
  if (!protocol.ok()) return protocol.error().wrap("neighbour on link " + std::to_string(n.index));
  n.protocol = *protocol;
  // A neighbour that failed or is being removed has no link-layer address, and one on a
  // link that is not Ethernet-like (a tunnel, InfiniBand) has one of another length: both
  // keep the zero MAC. An fdb entry's key is always a MAC (rtnl_fdb_add insists on it).
  auto lladdr = attrs->find(NDA_LLADDR);
  if (lladdr != attrs->end() && lladdr->second.size() == n.mac.size())
    std::memcpy(n.mac.data(), lladdr->second.data(), n.mac.size());
  else if (n.fdb && lladdr != attrs->end())
    return malformed("NDA_LLADDR has " + std::to_string(lladdr->second.size()) +
                     " bytes, expected 6, on link " + std::to_string(n.index));
  else if (n.fdb)
    return malformed("fdb entry without NDA_LLADDR on link " + std::to_string(n.index));
  auto dst = attrs->find(NDA_DST);
  if (n.fdb) {
    if (dst == attrs->end()) return out;  // a bridge port's entry has no remote
    auto a = anyAddressAttr(dst->second, "NDA_DST");
    if (!a.ok()) return a.error().wrap("fdb entry on link " + std::to_string(n.index));
    n.address = *a;
    return out;
  }
  auto family = familyOf(ndm.ndm_family);
  if (!family.ok()) return family.error().wrap("neighbour");
  if (dst == attrs->end()) return malformed("neighbour without NDA_DST");
  auto a = addressAttr(dst->second, *family, "NDA_DST");
  if (!a.ok()) return a.error().wrap("neighbour on link " + std::to_string(n.index));
  n.address = *a;
  return out;
}

Result<std::optional<NftNotice>> parseNftNotice(ByteView message) {
  nlmsghdr nlh{};
  if (!readStruct(message, 0, &nlh)) return malformed("header truncated");
  if (NFNL_SUBSYS_ID(nlh.nlmsg_type) != NFNL_SUBSYS_NFTABLES) return std::optional<NftNotice>{};
  nfgenmsg gen{};
  auto attrs = body(message, &gen);
  if (!attrs) return attrs.error().wrap("nf_tables notice");
  NftNotice notice;
  switch (NFNL_MSG_TYPE(nlh.nlmsg_type)) {
    case NFT_MSG_NEWGEN: {
      notice.kind = NftNotice::Kind::kGeneration;
      auto pid = u32Attr(*attrs, NFTA_GEN_PROC_PID, "NFTA_GEN_PROC_PID");
      if (!pid) return pid.error();
      notice.pid = ntohl(*pid);  // big-endian on the wire
      notice.portid = nlh.nlmsg_pid;
      return std::optional<NftNotice>(notice);
    }
    case NFT_MSG_NEWTABLE:
    case NFT_MSG_DELTABLE:
    case NFT_MSG_NEWCHAIN:
    case NFT_MSG_DELCHAIN:
    case NFT_MSG_NEWRULE:
    case NFT_MSG_DELRULE:
    case NFT_MSG_NEWSET:
    case NFT_MSG_DELSET:
    case NFT_MSG_NEWSETELEM:
    case NFT_MSG_DELSETELEM:
    case NFT_MSG_NEWOBJ:
    case NFT_MSG_DELOBJ:
    case NFT_MSG_NEWFLOWTABLE:
    case NFT_MSG_DELFLOWTABLE: {
      // Every one of these carries its table's name as attribute 1 (NFTA_TABLE_NAME,
      // NFTA_CHAIN_TABLE, NFTA_RULE_TABLE, NFTA_SET_TABLE, NFTA_SET_ELEM_LIST_TABLE, ...).
      static_assert(NFTA_TABLE_NAME == 1 && NFTA_CHAIN_TABLE == 1 && NFTA_RULE_TABLE == 1 &&
                    NFTA_SET_TABLE == 1 && NFTA_SET_ELEM_LIST_TABLE == 1 && NFTA_OBJ_TABLE == 1 &&
                    NFTA_FLOWTABLE_TABLE == 1);
      auto it = attrs->find(1);
      if (it == attrs->end()) return malformed("nf_tables notice without a table name");
      notice.family = gen.nfgen_family;
      notice.table = stringAttr(it->second);
      return std::optional<NftNotice>(notice);
    }
    default:
      return std::optional<NftNotice>{};
  }
}

}  // namespace routelet::netlink
