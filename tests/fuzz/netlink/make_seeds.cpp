// Writes the netlink fuzz corpus seeds from the real message builders, so the seeds are the
// bytes routelet sends, plus kernel-style replies and truncations of both. Run by hand:
//   ninja netlink_fuzz_make_seeds && ./netlink_fuzz_make_seeds tests/fuzz/netlink/corpus
#include <linux/neighbour.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstring>
#include <fstream>
#include <iostream>
#include <vector>

#include "common/netlink/message.h"

using namespace routelet;
using netlink::Bytes;

namespace {

std::string g_dir;

void write(const std::string& name, const Bytes& bytes) {
  std::ofstream(g_dir + "/" + name, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
}

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// NLMSG_ERROR as the kernel sends it: nlmsghdr, error, the echoed request header and (with
// NLM_F_ACK_TLVS) an NLMSGERR_ATTR_MSG attribute.
Bytes ack(uint32_t seq, int error, const std::string& extack) {
  Bytes out(sizeof(nlmsghdr) + sizeof(nlmsgerr), 0);
  nlmsgerr err{};
  err.error = -error;
  err.msg.nlmsg_len = sizeof(nlmsghdr);
  err.msg.nlmsg_type = RTM_NEWROUTE;
  err.msg.nlmsg_seq = seq;
  std::memcpy(out.data() + sizeof(nlmsghdr), &err, sizeof err);
  uint16_t flags = NLM_F_CAPPED;
  if (!extack.empty()) {
    flags |= NLM_F_ACK_TLVS;
    nlattr a{static_cast<uint16_t>(sizeof(nlattr) + extack.size() + 1), NLMSGERR_ATTR_MSG};
    size_t at = out.size();
    out.resize(at + ((a.nla_len + 3) & ~3u), 0);
    std::memcpy(out.data() + at, &a, sizeof a);
    std::memcpy(out.data() + at + sizeof a, extack.data(), extack.size());
  }
  nlmsghdr h{static_cast<uint32_t>(out.size()), NLMSG_ERROR, flags, seq, 0};
  std::memcpy(out.data(), &h, sizeof h);
  return out;
}

Bytes cut(Bytes b, size_t n) {
  b.resize(n);
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " <corpus dir>\n";
    return 2;
  }
  g_dir = std::string(argv[1]) + "/messages";
  netlink::Mac mac{0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
  auto v4 = *ip::Prefix::parse("10.244.2.0/24");
  auto v6 = *ip::Prefix::parse("fd00:10:244:2::/64");
  netlink::Route r4;
  r4.dst = v4;
  r4.gateway = *ip::Address::parse("192.168.1.12");
  r4.protocol = 201;
  r4.priority = 100;
  netlink::Route r6;
  r6.dst = v6;
  r6.gateway = *ip::Address::parse("fe80::1");
  r6.oif = 3;
  r6.protocol = 201;
  r6.onlink = true;
  r6.table = 1000;
  Bytes bridge = netlink::buildNewBridge(1, "cni0", mac, 1450);
  Bytes veth = netlink::buildNewVeth(2, "rl1a2b3c4d5e6f", mac, "eth0", mac, 1450, 7);
  Bytes route4 = netlink::buildRoute(3, netlink::RouteOp::Kind::kReplace, r4);
  Bytes route6 = netlink::buildRoute(4, netlink::RouteOp::Kind::kDelete, r6);
  Bytes addr4 = netlink::buildNewAddress(5, 3, *ip::Prefix::parseInterface("10.244.1.1/24"), false);
  Bytes addr6 = netlink::buildNewAddress(6, 3, *ip::Prefix::parseInterface("fd00::1/64"), true);
  write("ok-new-bridge", bridge);
  write("ok-new-veth", veth);
  write("ok-route-v4-replace", route4);
  write("ok-route-v6-delete-table-1000", route6);
  write("ok-address-v4", addr4);
  write("ok-address-v6-nodad", addr6);
  write("ok-set-master", netlink::buildSetMaster(7, 4, 2));
  write("ok-rename", netlink::buildRename(8, 4, "eth1"));
  write("ok-route-dump-request", netlink::buildRouteDump(9, ip::Family::kV6, 201, 254));
  write("ok-ack", ack(3, 0, ""));
  write("ok-error-with-extack", ack(4, EEXIST, "File exists"));
  write("ok-dump-batch", cat({bridge, veth, route4, route6, addr4, addr6, ack(9, 0, "")}));
  write("bad-truncated-header", cut(route4, 10));
  write("bad-truncated-route", cut(route4, route4.size() - 2));
  write("bad-truncated-batch", cut(cat({bridge, veth}), bridge.size() + 20));
  Bytes badLen = route4;
  badLen[0] = 0xff;  // nlmsg_len beyond the buffer
  badLen[1] = 0xff;
  write("bad-length-beyond-buffer", badLen);
  Bytes badAttr = addr4;
  // First attribute after ifaddrmsg: its nla_len claims more than the message holds.
  badAttr[sizeof(nlmsghdr) + sizeof(ifaddrmsg)] = 0xf0;
  write("bad-attribute-length", badAttr);
  Bytes badFamily = route4;
  badFamily[sizeof(nlmsghdr)] = 7;  // rtm_family AF_BRIDGE
  write("bad-route-family", badFamily);
  Bytes badPrefix = route4;
  badPrefix[sizeof(nlmsghdr) + 1] = 33;  // rtm_dst_len
  write("bad-route-prefix-length", badPrefix);
  Bytes shortAddr = addr4;
  shortAddr[sizeof(nlmsghdr) + sizeof(ifaddrmsg)] = 6;  // IFA_LOCAL of 2 bytes
  write("bad-address-short", shortAddr);
  write("bad-ack-truncated", cut(ack(4, EEXIST, "File exists"), 18));
  Bytes zeroLen(16, 0);
  write("bad-zero-length-header", zeroLen);
  // VXLAN devices, neighbours and fdb entries: the requests, and a dump of the kind the
  // kernel sends (a bridge port's entry without NTF_SELF or a remote among them).
  netlink::VxlanSpec vxlan{
      .name = "routelet.vx",
      .mac = mac,
      .mtu = 1450,
      .info = {
          .vni = 1, .port = 4789, .local = *ip::Address::parse("192.168.1.11"), .underlay = 2}};
  Bytes vxlan4 = netlink::buildNewVxlan(10, vxlan);
  vxlan.info.local = *ip::Address::parse("fd00:1::11");
  Bytes vxlan6 = netlink::buildNewVxlan(11, vxlan);
  netlink::Neighbor fdb{
      .fdb = true, .index = 7, .address = *ip::Address::parse("192.168.1.12"), .mac = mac};
  netlink::Neighbor neigh{
      .index = 7, .address = *ip::Address::parse("10.244.2.0"), .mac = mac, .protocol = 201};
  netlink::Neighbor neigh6 = neigh;
  neigh6.address = *ip::Address::parse("fd00:10:244:2::");
  Bytes fdbAdd = netlink::buildNeighbor(12, netlink::NeighborOp::Kind::kReplace, fdb);
  Bytes neighAdd = netlink::buildNeighbor(13, netlink::NeighborOp::Kind::kReplace, neigh);
  Bytes neigh6Del = netlink::buildNeighbor(14, netlink::NeighborOp::Kind::kDelete, neigh6);
  Bytes portEntry = cut(fdbAdd, fdbAdd.size() - 8);  // without NDA_DST
  portEntry[0] = static_cast<uint8_t>(portEntry.size());
  portEntry[sizeof(nlmsghdr) + offsetof(ndmsg, ndm_flags)] = NTF_MASTER;
  write("ok-new-vxlan-v4", vxlan4);
  write("ok-new-vxlan-v6", vxlan6);
  write("ok-fdb-replace", fdbAdd);
  write("ok-neighbor-replace", neighAdd);
  write("ok-neighbor-v6-delete", neigh6Del);
  write("ok-neighbor-dump-request", netlink::buildNeighborDump(15, AF_BRIDGE, 7));
  write("ok-neighbor-dump", cat({fdbAdd, portEntry, neighAdd, neigh6Del, ack(15, 0, "")}));
  Bytes badVxlanPort = vxlan4;
  // IFLA_VXLAN_PORT (after the ifinfomsg, name, address, MTU, linkinfo, kind, data and ID)
  // of 4 bytes: it swallows the padding.
  badVxlanPort[vxlan4.size() - 32] = 8;
  write("bad-vxlan-port-length", badVxlanPort);
  Bytes badDst = fdbAdd;
  badDst[fdbAdd.size() - 8] = 7;  // NDA_DST of 3 bytes
  write("bad-fdb-dst-length", badDst);
  Bytes badMac = neighAdd;
  badMac[sizeof(nlmsghdr) + sizeof(ndmsg) + 8] = 8;  // NDA_LLADDR of 4 bytes
  write("bad-neighbor-lladdr-length", badMac);
  // A kernel reply with a huge extack and every message kind many times over.
  Bytes many;
  for (int i = 0; i < 500; ++i) many = cat({many, route4, addr6});
  write("ok-many-messages", cat({many, ack(1, EPERM, std::string(4000, 'x'))}));
  // nf_tables: routelet's own set element requests and batch markers, and the notices the
  // monitor reads (a table deleted, the generation with the committing pid).
  std::vector<ip::Address> keys = {*ip::Address::parse("10.244.2.0"),
                                   *ip::Address::parse("10.244.3.0")};
  Bytes elements = netlink::buildNftSetElements(5, true, 1, "routelet", "exempt_v4_24", keys);
  // (The batch markers share their type numbers with RTM_NEWLINK and RTM_DELLINK: only a
  // socket's protocol tells them apart, so they are no seed of this rtnetlink-typed target.)
  write("ok-nft-set-elements", elements);
  auto nftNotice = [](uint16_t msg, uint16_t attr, const Bytes& payload) {
    Bytes out(sizeof(nlmsghdr) + sizeof(nfgenmsg), 0);
    out[sizeof(nlmsghdr)] = 1;  // NFPROTO_INET
    nlattr a{static_cast<uint16_t>(sizeof(nlattr) + payload.size()), attr};
    size_t at = out.size();
    out.resize(at + ((a.nla_len + 3) & ~3u), 0);
    std::memcpy(out.data() + at, &a, sizeof a);
    std::memcpy(out.data() + at + sizeof a, payload.data(), payload.size());
    nlmsghdr h{static_cast<uint32_t>(out.size()),
               static_cast<uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | msg), 0, 0, 4242};
    std::memcpy(out.data(), &h, sizeof h);
    return out;
  };
  write("ok-nft-notices",
        cat({nftNotice(NFT_MSG_DELTABLE, NFTA_TABLE_NAME,
                       Bytes{'r', 'o', 'u', 't', 'e', 'l', 'e', 't', 0}),
             nftNotice(NFT_MSG_NEWGEN, NFTA_GEN_PROC_PID, Bytes{0, 0, 0x10, 0x92})}));
  write("bad-nft-generation-short-pid", nftNotice(NFT_MSG_NEWGEN, NFTA_GEN_PROC_PID, Bytes{1, 2}));
  write("bad-nft-rule-without-table", nftNotice(NFT_MSG_NEWRULE, 7, Bytes{'x', 0}));

  g_dir = std::string(argv[1]) + "/build";
  auto seed = [](std::initializer_list<uint8_t> b) { return Bytes(b); };
  write("ok-route-v4", seed({0, 0, 24, 10, 244, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
  write("ok-route-v6-gateway-onlink",
        seed({0, 7, 64, 0xfd, 0, 0, 0x10, 2, 0x44, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0xfe, 0x80}));
  write("ok-address-v4", seed({1, 0, 24, 10, 244, 1, 1}));
  write("ok-address-v6-nodad", seed({1, 5, 64, 0xfd}));
  write("ok-bridge", seed({2, 0, 2, 0, 0, 0, 0, 1, 0xaa, 5, 0, 0, 'c', 'n', 'i', '0', 0}));
  write("ok-veth-long-names", seed({2,   1,   2,   0,   0,   0,   0,   1,   0xdc, 5,   0,   0,
                                    'r', 'l', '0', '1', '2', '3', '4', '5', '6',  '7', '8', '9',
                                    'a', 'b', 'c', 'd', 'e', 0,   'e', 't', 'h',  '0', 0}));
  // Flags (up, local, IPv6), MAC, MTU, VNI, port, underlay, local address, name.
  write("ok-vxlan-v6-local-up",
        seed({3, 7, 2, 0, 0, 0, 0, 1, 0xaa, 5, 0, 0, 1, 0, 0, 0, 0xb5, 0x12, 2, 0, 0, 0, 0xfd}));
  // Flags (fdb, remote, IPv6), device, MAC, state, protocol, address.
  write("ok-neighbor-fdb-remote", seed({4, 3, 7, 0, 0, 0, 2, 0, 0, 0, 0, 1, 0x80, 0, 0, 192, 168}));
  write("ok-neighbor-v4", seed({4, 0, 7, 0, 0, 0, 2, 0, 0, 0, 0, 1, 0x80, 0, 201, 10, 244, 2}));
  write("ok-all-ones", Bytes(64, 0xff));
  write("bad-empty", Bytes{});
  return 0;
}
