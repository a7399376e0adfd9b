#include "tests/fuzz/netlink/fuzz_entries.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <cstring>

#include "common/netlink/message.h"
#include "tests/fuzz/netlink/parse_any.h"
#include "tests/fuzz/support/fuzz_check.h"

namespace routelet::netlink::fuzz {
namespace {
using routelet::fuzz::accepted;
using routelet::fuzz::check;

// Reads fixed-size fields off the front of the fuzz input; zeros once it runs out.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  template <typename T>
  T take() {
    T v{};
    size_t n = std::min(sizeof v, size_);
    std::memcpy(&v, data_, n);
    data_ += n;
    size_ -= n;
    return v;
  }
  ip::Address address(ip::Family f) {
    std::array<uint8_t, 16> b{};
    for (auto& x : b) x = take<uint8_t>();
    return ip::Address::fromBytes(f, b.data());
  }
  // A link name: the rest of the input up to a NUL, at most 15 bytes (IFNAMSIZ - 1).
  std::string name() {
    std::string s;
    while (size_ > 0 && s.size() < 15) {
      char c = static_cast<char>(take<uint8_t>());
      if (c == '\0') break;
      s += c;
    }
    return s;
  }

 private:
  const uint8_t* data_;
  size_t size_;
};

// One message of a datagram the builders made.
Message only(const Bytes& bytes) {
  auto split = splitMessages(bytes);
  check(split.ok() && split->size() == 1 && split->front().bytes.size() == bytes.size());
  return split->front();
}

void buildRouteRoundTrip(Reader& in) {
  Route r;
  uint8_t flags = in.take<uint8_t>();
  ip::Family f = flags & 1 ? ip::Family::kV6 : ip::Family::kV4;
  int bits = f == ip::Family::kV4 ? 32 : 128;
  int len = in.take<uint8_t>() % (bits + 1);
  r.dst = ip::Prefix::make(in.address(f), len).network();
  if (flags & 2) r.gateway = in.address(f);
  r.oif = in.take<int>();
  r.table = in.take<uint32_t>();
  r.protocol = in.take<uint8_t>();
  r.scope = in.take<uint8_t>();
  r.type = in.take<uint8_t>();
  r.priority = in.take<uint32_t>();
  r.onlink = flags & 4;
  Bytes bytes = buildRoute(in.take<uint32_t>(), RouteOp::Kind::kReplace, r);
  auto back = parseRoute(only(bytes).bytes);
  check(back.ok() && back->route == r && !back->cloned);
}

void buildAddressRoundTrip(Reader& in) {
  uint8_t flags = in.take<uint8_t>();
  ip::Family f = flags & 1 ? ip::Family::kV6 : ip::Family::kV4;
  int len = in.take<uint8_t>() % (f == ip::Family::kV4 ? 33 : 129);
  ip::Prefix p = ip::Prefix::make(in.address(f), len);
  int index = in.take<int>();
  Bytes bytes =
      (flags & 2) ? buildDeleteAddress(0, index, p) : buildNewAddress(0, index, p, flags & 4);
  auto back = parseAddress(only(bytes).bytes);
  check(back.ok() && back->prefix == p && back->index == index);
}

void buildLinkRoundTrip(Reader& in) {
  uint8_t flags = in.take<uint8_t>();
  Mac mac = in.take<Mac>();
  uint32_t mtu = in.take<uint32_t>();
  std::string name = in.name();
  std::string peer = in.name();
  Bytes bytes = (flags & 1)
                    ? buildNewVeth(in.take<uint32_t>(), name, mac, peer, mac, mtu, in.take<int>())
                    : buildNewBridge(in.take<uint32_t>(), name, mac, mtu);
  auto back = parseLink(only(bytes).bytes);
  check(back.ok() && back->name == name && back->mac == mac && back->mtu == mtu);
  check(back->kind == ((flags & 1) ? "veth" : "bridge"));
}

void buildVxlanRoundTrip(Reader& in) {
  uint8_t flags = in.take<uint8_t>();
  VxlanSpec spec;
  spec.mac = in.take<Mac>();
  spec.mtu = in.take<uint32_t>();
  spec.up = flags & 1;
  spec.info.vni = in.take<uint32_t>();
  spec.info.port = in.take<uint16_t>();
  spec.info.underlay = in.take<int>();
  if (flags & 2) spec.info.local = in.address(flags & 4 ? ip::Family::kV6 : ip::Family::kV4);
  spec.name = in.name();
  auto back = parseLink(only(buildNewVxlan(in.take<uint32_t>(), spec)).bytes);
  VxlanInfo want = spec.info;
  want.learning = false;
  check(back.ok() && back->name == spec.name && back->kind == "vxlan" && back->up == spec.up);
  check(back->vxlan && *back->vxlan == want);
}

void buildNeighborRoundTrip(Reader& in) {
  uint8_t flags = in.take<uint8_t>();
  Neighbor n;
  n.fdb = flags & 1;
  n.index = in.take<int>();
  n.mac = in.take<Mac>();
  n.state = in.take<uint16_t>();
  // The kernel keeps no protocol for fdb entries, so the builder sends none.
  uint8_t protocol = in.take<uint8_t>();
  if (!n.fdb) n.protocol = protocol;
  if (!n.fdb || (flags & 2)) n.address = in.address(flags & 4 ? ip::Family::kV6 : ip::Family::kV4);
  auto back =
      parseNeighbor(only(buildNeighbor(in.take<uint32_t>(), NeighborOp::Kind::kReplace, n)).bytes);
  check(back.ok() && back->neighbor == n && back->self == n.fdb);
  auto del = parseNeighbor(only(buildNeighbor(0, NeighborOp::Kind::kDelete, n)).bytes);
  check(del.ok() && del->neighbor.key() == n.key());
}

}  // namespace

bool messages(const uint8_t* data, size_t size) {
  // The plain dispatcher the unit tests share must survive anything too.
  (void)parseAny(data, size);
  auto split = splitMessages(ByteView(data, size));
  if (!accepted(split)) return false;
  size_t covered = 0;
  bool all = true;
  for (const Message& m : *split) {
    check(m.bytes.size() >= sizeof(nlmsghdr) && m.bytes.data() >= data &&
          m.bytes.data() + m.bytes.size() <= data + size);
    covered += m.bytes.size();
    switch (m.type) {
      case NLMSG_ERROR: {
        auto ack = parseAck(m.bytes);
        if (ack)
          check(ack->extack.size() < m.bytes.size() && ack->extack.find('\0') == std::string::npos);
        all = accepted(ack) && all;
        break;
      }
      case RTM_NEWLINK:
      case RTM_DELLINK: {
        auto link = parseLink(m.bytes);
        if (link)
          check(link->name.size() < m.bytes.size() && link->kind.size() < m.bytes.size() &&
                link->name.find('\0') == std::string::npos);
        all = accepted(link) && all;
        break;
      }
      case RTM_NEWROUTE:
      case RTM_DELROUTE: {
        auto route = parseRoute(m.bytes);
        if (route) check(route->route.dst.length() <= route->route.dst.address().byteLength() * 8);
        all = accepted(route) && all;
        break;
      }
      case RTM_NEWADDR:
      case RTM_DELADDR: {
        auto addr = parseAddress(m.bytes);
        if (addr) check(addr->prefix.length() <= addr->prefix.address().byteLength() * 8);
        all = accepted(addr) && all;
        break;
      }
      case RTM_NEWNEIGH:
      case RTM_DELNEIGH: {
        auto parsed = parseNeighbor(m.bytes);
        if (parsed) check(parsed->neighbor.fdb || parsed->neighbor.address.has_value());
        all = accepted(parsed) && all;
        break;
      }
      default: {
        // nf_tables notices (NETLINK_NETFILTER); anything else is not routelet's to read.
        auto notice = parseNftNotice(m.bytes);
        if (notice && *notice)
          check((*notice)->table.size() < m.bytes.size() &&
                (*notice)->table.find('\0') == std::string::npos);
        all = accepted(notice) && all;
        break;
      }
    }
  }
  check(covered <= size);
  return all;
}

bool build(const uint8_t* data, size_t size) {
  if (size == 0) return false;
  Reader in(data + 1, size - 1);
  switch (data[0] % 5) {
    case 0:
      buildRouteRoundTrip(in);
      break;
    case 1:
      buildAddressRoundTrip(in);
      break;
    case 2:
      buildLinkRoundTrip(in);
      break;
    case 3:
      buildVxlanRoundTrip(in);
      break;
    default:
      buildNeighborRoundTrip(in);
      break;
  }
  return true;
}

}  // namespace routelet::netlink::fuzz
