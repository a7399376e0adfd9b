// Golden bytes of the requests (hand-decoded against include/uapi/linux/rtnetlink.h,
// if_link.h, if_addr.h and veth.h, little-endian) and the parsers on built, truncated
// and garbage input.
#include "common/netlink/message.h"

#include <gtest/gtest.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstring>
#include <random>

#include "tests/fuzz/netlink/parse_any.h"

namespace routelet::netlink {
namespace {

Mac mac(uint8_t last) {
  return Mac{0x02, 0x00, 0x00, 0x00, 0x00, last};
}

Route route(const char* dst, const char* gateway) {
  Route r;
  r.dst = *ip::Prefix::parse(dst);
  if (gateway) r.gateway = *ip::Address::parse(gateway);
  return r;
}

VxlanSpec vxlanSpec() {
  VxlanSpec spec;
  spec.name = "vx0";
  spec.mac = mac(0x01);
  spec.mtu = 1450;
  spec.info.vni = 42;
  spec.info.port = 4789;
  spec.info.local = *ip::Address::parse("192.168.77.1");
  spec.info.underlay = 3;
  return spec;
}

const Mac kPeerMac = {0x0e, 0x72, 0x0a, 0xf4, 0x02, 0x00};

Neighbor fdbEntry() {
  Neighbor n;
  n.fdb = true;
  n.index = 7;
  n.address = *ip::Address::parse("192.168.2.12");
  n.mac = kPeerMac;
  return n;
}

Neighbor neighEntry() {
  Neighbor n;
  n.index = 7;
  n.address = *ip::Address::parse("10.244.2.0");
  n.mac = kPeerMac;
  n.protocol = 201;
  return n;
}

// Overwrites nlmsg_len, to make the header agree with a truncated buffer.
Bytes withLength(Bytes b, size_t len) {
  b.resize(len);
  auto n = static_cast<uint32_t>(len);
  if (len >= 4) std::memcpy(b.data(), &n, 4);
  return b;
}

void put16(Bytes& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v));
  b.push_back(static_cast<uint8_t>(v >> 8));
}
void put32(Bytes& b, uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void putHeader(Bytes& b, uint32_t len, uint16_t type, uint16_t flags, uint32_t seq) {
  put32(b, len);
  put16(b, type);
  put16(b, flags);
  put32(b, seq);
  put32(b, 0);
}
void putAttr(Bytes& b, uint16_t type, const Bytes& payload) {
  put16(b, static_cast<uint16_t>(4 + payload.size()));
  put16(b, type);
  b.insert(b.end(), payload.begin(), payload.end());
  while (b.size() % 4) b.push_back(0);
}
void finishLength(Bytes& b) {
  auto n = static_cast<uint32_t>(b.size());
  std::memcpy(b.data(), &n, 4);
}

TEST(MessageGoldenTest, SetUp) {
  Bytes want = {
      0x20, 0x00, 0x00, 0x00, 0x10, 0x00, 0x05, 0x00,  // len 32, RTM_NEWLINK, REQUEST|ACK
      0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // seq 7, pid 0
      0x00, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00,  // AF_UNSPEC, type 0, index 5
      0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,  // flags IFF_UP, change IFF_UP
  };
  EXPECT_EQ(buildSetUp(7, 5, true), want);
  want[24] = 0;  // down: flags 0, change still IFF_UP
  EXPECT_EQ(buildSetUp(7, 5, false), want);
}

TEST(MessageGoldenTest, SetNoLinkLocal) {
  Bytes want = {
      0x30, 0x00, 0x00, 0x00, 0x10, 0x00, 0x05, 0x00,  // len 48, RTM_NEWLINK, REQUEST|ACK
      0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // seq 7
      0x00, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00,  // ifinfomsg, index 5
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // no flag changes
      0x10, 0x00, 0x1a, 0x80,                          // IFLA_AF_SPEC | NLA_F_NESTED
      0x0c, 0x00, 0x0a, 0x80,                          // AF_INET6 | NLA_F_NESTED
      0x05, 0x00, 0x08, 0x00, 0x01, 0x00, 0x00, 0x00,  // IFLA_INET6_ADDR_GEN_MODE NONE + pad
  };
  EXPECT_EQ(buildSetNoLinkLocal(7, 5), want);
  // By name: index 0 and IFLA_IFNAME before the nest.
  Bytes byName = buildSetNoLinkLocal(7, 0, "eth0");
  const Bytes name = {0x09, 0x00, 0x03, 0x00, 'e', 't', 'h', '0', 0x00, 0x00, 0x00, 0x00};
  want[0] += name.size();
  want[20] = 0;
  want.insert(want.begin() + 32, name.begin(), name.end());
  EXPECT_EQ(byName, want);
}

TEST(MessageGoldenTest, SetHairpin) {
  Bytes want = {
      0x30, 0x00, 0x00, 0x00, 0x10, 0x00, 0x05, 0x00,  // len 48, RTM_NEWLINK, REQUEST|ACK
      0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // seq 7
      0x00, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00,  // ifinfomsg, index 5
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // no flag changes
      0x10, 0x00, 0x12, 0x80,                          // IFLA_LINKINFO | NLA_F_NESTED
      0x0c, 0x00, 0x05, 0x80,                          // IFLA_INFO_SLAVE_DATA | NLA_F_NESTED
      0x05, 0x00, 0x04, 0x00, 0x01, 0x00, 0x00, 0x00,  // IFLA_BRPORT_MODE 1 (hairpin) + pad
  };
  EXPECT_EQ(buildSetHairpin(7, 5, "", true), want);
  want[44] = 0;
  EXPECT_EQ(buildSetHairpin(7, 5, "", false), want);
}

TEST(MessageGoldenTest, DeleteLinkByName) {
  Bytes want = {
      0x2c, 0x00, 0x00, 0x00, 0x11, 0x00, 0x05, 0x00,  // len 44, RTM_DELLINK, REQUEST|ACK
      0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // seq 1
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // ifinfomsg, index 0
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  //
      0x09, 0x00, 0x03, 0x00, 'e',  't',  'h',  '0',   // IFLA_IFNAME "eth0\0"
      0x00, 0x00, 0x00, 0x00,                          // + padding
  };
  EXPECT_EQ(buildDeleteLinkByName(1, "eth0"), want);
}

TEST(MessageGoldenTest, NewBridge) {
  Bytes want = {
      0x4c, 0x00, 0x00, 0x00, 0x10, 0x00, 0x05, 0x06,  // len 76, RTM_NEWLINK, +CREATE|EXCL
      0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // seq 2
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // ifinfomsg
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  //
      0x08, 0x00, 0x03, 0x00, 'b',  'r',  '0',  0x00,  // IFLA_IFNAME
      0x0a, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00,  // IFLA_ADDRESS 02:00:00:00:00:01
      0x00, 0x01, 0x00, 0x00,                          //
      0x08, 0x00, 0x04, 0x00, 0x78, 0x05, 0x00, 0x00,  // IFLA_MTU 1400
      0x10, 0x00, 0x12, 0x80,                          // IFLA_LINKINFO | NLA_F_NESTED
      0x0b, 0x00, 0x01, 0x00, 'b',  'r',  'i',  'd',   // IFLA_INFO_KIND "bridge\0"
      'g',  'e',  0x00, 0x00,                          //
  };
  EXPECT_EQ(buildNewBridge(2, "br0", mac(0x01), 1400), want);
}

TEST(MessageGoldenTest, NewVethWithPeerInNamespace) {
  Bytes want = {
      0x88, 0x00, 0x00, 0x00, 0x10, 0x00, 0x05, 0x06,  // len 136, RTM_NEWLINK, CREATE|EXCL
      0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // seq 3
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // ifinfomsg
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  //
      0x06, 0x00, 0x03, 0x00, 'h',  0x00, 0x00, 0x00,  // IFLA_IFNAME "h"
      0x0a, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00,  // IFLA_ADDRESS
      0x00, 0x0a, 0x00, 0x00,                          //
      0x08, 0x00, 0x04, 0x00, 0xdc, 0x05, 0x00, 0x00,  // IFLA_MTU 1500
      0x4c, 0x00, 0x12, 0x80,                          // IFLA_LINKINFO (76)
      0x09, 0x00, 0x01, 0x00, 'v',  'e',  't',  'h',   // IFLA_INFO_KIND "veth\0"
      0x00, 0x00, 0x00, 0x00,                          //
      0x3c, 0x00, 0x02, 0x80,                          // IFLA_INFO_DATA (60)
      0x38, 0x00, 0x01, 0x80,                          // VETH_INFO_PEER (56)
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // peer ifinfomsg
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  //
      0x06, 0x00, 0x03, 0x00, 'p',  0x00, 0x00, 0x00,  // peer IFLA_IFNAME "p"
      0x0a, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00,  // peer IFLA_ADDRESS
      0x00, 0x0b, 0x00, 0x00,                          //
      0x08, 0x00, 0x04, 0x00, 0xdc, 0x05, 0x00, 0x00,  // peer IFLA_MTU 1500
      0x08, 0x00, 0x1c, 0x00, 0x07, 0x00, 0x00, 0x00,  // IFLA_NET_NS_FD 7
  };
  EXPECT_EQ(buildNewVeth(3, "h", mac(0x0a), "p", mac(0x0b), 1500, 7), want);
  // Without a namespace fd the peer stays here and IFLA_NET_NS_FD is left out.
  Bytes local = buildNewVeth(3, "h", mac(0x0a), "p", mac(0x0b), 1500, -1);
  EXPECT_EQ(local.size(), want.size() - 8);
}

TEST(MessageGoldenTest, NewVethWithOneQueueOfEachOnBothEnds) {
  // The plain pair (its bytes are checked above) with the two queue counts on each end.
  const Bytes queues = {
      0x08, 0x00, 0x1f, 0x00, 0x01, 0x00, 0x00, 0x00,  // IFLA_NUM_TX_QUEUES 1
      0x08, 0x00, 0x20, 0x00, 0x01, 0x00, 0x00, 0x00,  // IFLA_NUM_RX_QUEUES 1
  };
  Bytes want = buildNewVeth(5, "h", mac(0x0a), "p", mac(0x0b), 1500, 7);
  want.insert(want.begin() + 128, queues.begin(), queues.end());  // after the peer's IFLA_MTU
  want.insert(want.begin() + 60, queues.begin(), queues.end());   // after the host's IFLA_MTU
  want[0] = 0xa8;                                                 // nlmsg_len 136 -> 168
  want[76] = 0x5c;                                                // IFLA_LINKINFO 76 -> 92
  want[92] = 0x4c;                                                // IFLA_INFO_DATA 60 -> 76
  want[96] = 0x48;                                                // VETH_INFO_PEER 56 -> 72
  VethSpec spec;
  spec.name = "h";
  spec.mac = mac(0x0a);
  spec.mtu = 1500;
  spec.peerName = "p";
  spec.peerMac = mac(0x0b);
  spec.peerNsFd = 7;
  spec.queues = 1;
  EXPECT_EQ(buildNewVeth(5, spec), want);
}

TEST(MessageGoldenTest, NewVethEnslavedAndUp) {
  // The plain pair (its bytes are checked above) with three changes to the host end.
  Bytes want = buildNewVeth(4, "h", mac(0x0a), "p", mac(0x0b), 1500, 7);
  want[0] += 8;     // nlmsg_len 136 -> 144
  want[24] = 0x01;  // ifi_flags IFF_UP
  want[28] = 0x01;  // ifi_change IFF_UP: no other flag changes
  const Bytes master = {0x08, 0x00, 0x0a, 0x00, 0x09, 0x00, 0x00, 0x00};  // IFLA_MASTER 9
  want.insert(want.begin() + 60, master.begin(), master.end());           // after IFLA_MTU
  VethSpec spec;
  spec.name = "h";
  spec.mac = mac(0x0a);
  spec.mtu = 1500;
  spec.master = 9;
  spec.up = true;
  spec.peerName = "p";
  spec.peerMac = mac(0x0b);
  spec.peerNsFd = 7;
  EXPECT_EQ(buildNewVeth(4, spec), want);
  // Without master and up it is exactly the plain builder's message: no flags, no master.
  spec.master = 0;
  spec.up = false;
  EXPECT_EQ(buildNewVeth(4, spec), buildNewVeth(4, "h", mac(0x0a), "p", mac(0x0b), 1500, 7));
}

TEST(MessageGoldenTest, NewVxlan) {
  Bytes want = {
      0x78, 0x00, 0x00, 0x00, 0x10, 0x00, 0x05, 0x06,  // len 120, RTM_NEWLINK, +CREATE|EXCL
      0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // seq 3
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // ifinfomsg, index 0
      0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,  // flags IFF_UP, change IFF_UP
      0x08, 0x00, 0x03, 0x00, 'v',  'x',  '0',  0x00,  // IFLA_IFNAME "vx0\0"
      0x0a, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00,  // IFLA_ADDRESS 02:00:00:00:00:01
      0x00, 0x01, 0x00, 0x00,                          //
      0x08, 0x00, 0x04, 0x00, 0xaa, 0x05, 0x00, 0x00,  // IFLA_MTU 1450
      0x3c, 0x00, 0x12, 0x80,                          // IFLA_LINKINFO | NLA_F_NESTED, 60
      0x0a, 0x00, 0x01, 0x00, 'v',  'x',  'l',  'a',   // IFLA_INFO_KIND "vxlan\0"
      'n',  0x00, 0x00, 0x00,                          //
      0x2c, 0x00, 0x02, 0x80,                          // IFLA_INFO_DATA | NLA_F_NESTED, 44
      0x08, 0x00, 0x01, 0x00, 0x2a, 0x00, 0x00, 0x00,  // IFLA_VXLAN_ID 42
      0x06, 0x00, 0x0f, 0x00, 0x12, 0xb5, 0x00, 0x00,  // IFLA_VXLAN_PORT 4789, big-endian
      0x08, 0x00, 0x04, 0x00, 0xc0, 0xa8, 0x4d, 0x01,  // IFLA_VXLAN_LOCAL 192.168.77.1
      0x08, 0x00, 0x03, 0x00, 0x03, 0x00, 0x00, 0x00,  // IFLA_VXLAN_LINK 3
      0x05, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00,  // IFLA_VXLAN_LEARNING 0 + pad
  };
  VxlanSpec spec = vxlanSpec();
  spec.info.learning = true;  // never sent: routelet's devices do not learn
  EXPECT_EQ(buildNewVxlan(3, spec), want);

  // IPv6 local: IFLA_VXLAN_LOCAL6 with 16 bytes. Down, no underlay, no MTU: none of them.
  spec.info.local = *ip::Address::parse("fd77::1");
  spec.info.underlay = 0;
  spec.mtu = 0;
  spec.up = false;
  Bytes v6 = buildNewVxlan(3, spec);
  ASSERT_EQ(v6.size(), 120u - 8 - 8 - 8 + 20);
  EXPECT_EQ(v6[24], 0);  // no flags
  EXPECT_EQ(v6[28], 0);
  const Bytes local6 = {0x14, 0x00, 0x11, 0x00, 0xfd, 0x77, 0, 0, 0, 0,
                        0,    0,    0,    0,    0,    0,    0, 0, 0, 1};
  EXPECT_EQ(Bytes(v6.begin() + 88, v6.begin() + 108), local6);
}

TEST(MessageGoldenTest, ReplaceFdbEntry) {
  Bytes want = {
      0x30, 0x00, 0x00, 0x00, 0x1c, 0x00, 0x05, 0x05,  // len 48, RTM_NEWNEIGH, +CREATE|REPLACE
      0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // seq 9
      0x07, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00,  // AF_BRIDGE, ifindex 7
      0x80, 0x00, 0x02, 0x00,                          // NUD_PERMANENT, NTF_SELF, type 0
      0x0a, 0x00, 0x02, 0x00, 0x0e, 0x72, 0x0a, 0xf4,  // NDA_LLADDR 0e:72:0a:f4:02:00
      0x02, 0x00, 0x00, 0x00,                          //
      0x08, 0x00, 0x01, 0x00, 0xc0, 0xa8, 0x02, 0x0c,  // NDA_DST 192.168.2.12
  };
  EXPECT_EQ(buildNeighbor(9, NeighborOp::Kind::kReplace, fdbEntry()), want);
  // A delete carries the same key and remote: only that remote of the MAC goes.
  want[4] = RTM_DELNEIGH;
  want[7] = 0x00;  // REQUEST|ACK only
  Neighbor tagged = fdbEntry();
  tagged.protocol = 201;  // the kernel keeps none for fdb entries: never sent
  EXPECT_EQ(buildNeighbor(9, NeighborOp::Kind::kDelete, tagged), want);
}

TEST(MessageGoldenTest, ReplaceAndDeleteNeighbour) {
  Bytes want = {
      0x38, 0x00, 0x00, 0x00, 0x1c, 0x00, 0x05, 0x05,  // len 56, RTM_NEWNEIGH, +CREATE|REPLACE
      0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // seq 9
      0x02, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00,  // AF_INET, ifindex 7
      0x80, 0x00, 0x00, 0x00,                          // NUD_PERMANENT, no flags
      0x08, 0x00, 0x01, 0x00, 0x0a, 0xf4, 0x02, 0x00,  // NDA_DST 10.244.2.0
      0x0a, 0x00, 0x02, 0x00, 0x0e, 0x72, 0x0a, 0xf4,  // NDA_LLADDR 0e:72:0a:f4:02:00
      0x02, 0x00, 0x00, 0x00,                          //
      0x05, 0x00, 0x0c, 0x00, 0xc9, 0x00, 0x00, 0x00,  // NDA_PROTOCOL 201 + pad
  };
  EXPECT_EQ(buildNeighbor(9, NeighborOp::Kind::kReplace, neighEntry()), want);
  // Protocol 0 is not sent.
  Neighbor untagged = neighEntry();
  untagged.protocol = 0;
  EXPECT_EQ(buildNeighbor(9, NeighborOp::Kind::kReplace, untagged),
            withLength(Bytes(want.begin(), want.end() - 8), 48));
  // A delete names the key only: family, device, address.
  Bytes del(want.begin(), want.begin() + 36);
  del[0] = 36;
  del[4] = RTM_DELNEIGH;
  del[7] = 0x00;
  EXPECT_EQ(buildNeighbor(9, NeighborOp::Kind::kDelete, neighEntry()), del);
  // IPv6: AF_INET6 and a 16-byte NDA_DST.
  Neighbor v6 = neighEntry();
  v6.address = *ip::Address::parse("fd00:2::");
  Bytes b6 = buildNeighbor(9, NeighborOp::Kind::kDelete, v6);
  ASSERT_EQ(b6.size(), 48u);
  EXPECT_EQ(b6[16], AF_INET6);
  EXPECT_EQ(Bytes(b6.begin() + 28, b6.begin() + 34), (Bytes{0x14, 0x00, 0x01, 0x00, 0xfd, 0x00}));
}

TEST(MessageGoldenTest, NeighborDump) {
  Bytes want = {
      0x24, 0x00, 0x00, 0x00, 0x1e, 0x00, 0x01, 0x03,  // len 36, RTM_GETNEIGH, REQUEST|DUMP
      0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // seq 5
      0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // AF_BRIDGE, ndm_ifindex 0 (strict)
      0x00, 0x00, 0x00, 0x00,                          //
      0x08, 0x00, 0x08, 0x00, 0x07, 0x00, 0x00, 0x00,  // NDA_IFINDEX 7
  };
  EXPECT_EQ(buildNeighborDump(5, AF_BRIDGE, 7), want);
  Bytes all = buildNeighborDump(5, AF_INET6, 0);
  Bytes allWant = withLength(Bytes(want.begin(), want.begin() + 28), 28);  // no NDA_IFINDEX
  allWant[16] = AF_INET6;
  EXPECT_EQ(all, allWant);
}

TEST(MessageGoldenTest, ReplaceRouteV4) {
  Route r = route("10.244.2.0/24", "192.168.1.12");
  r.protocol = 201;
  Bytes want = {
      0x34, 0x00, 0x00, 0x00, 0x18, 0x00, 0x05, 0x05,  // len 52, RTM_NEWROUTE, CREATE|REPLACE
      0x04, 0x03, 0x02, 0x01, 0x00, 0x00, 0x00, 0x00,  // seq 0x01020304
      0x02, 0x18, 0x00, 0x00, 0xfe, 0xc9, 0x00, 0x01,  // AF_INET /24, main, proto 201, unicast
      0x00, 0x00, 0x00, 0x00,                          // rtm_flags
      0x08, 0x00, 0x01, 0x00, 0x0a, 0xf4, 0x02, 0x00,  // RTA_DST 10.244.2.0
      0x08, 0x00, 0x05, 0x00, 0xc0, 0xa8, 0x01, 0x0c,  // RTA_GATEWAY 192.168.1.12
      0x08, 0x00, 0x0f, 0x00, 0xfe, 0x00, 0x00, 0x00,  // RTA_TABLE 254
  };
  EXPECT_EQ(buildRoute(0x01020304, RouteOp::Kind::kReplace, r), want);
}

TEST(MessageGoldenTest, CreateRouteDiffersFromReplaceOnlyInFlags) {
  Route r = route("10.244.2.0/24", "192.168.1.12");
  r.protocol = 201;
  Bytes want = buildRoute(7, RouteOp::Kind::kReplace, r);
  want[6] = 0x05;  // NLM_F_REQUEST|NLM_F_ACK
  want[7] = 0x06;  // NLM_F_CREATE|NLM_F_EXCL (0x400|0x200): EEXIST when the key is taken
  EXPECT_EQ(buildRoute(7, RouteOp::Kind::kCreate, r), want);
}

TEST(MessageGoldenTest, DeleteRouteV6OnLinkWithOifMetricAndBigTable) {
  Route r = route("fd00:1::/64", "fd00::9");
  r.oif = 4;
  r.priority = 1024;
  r.table = 1000;
  r.onlink = true;
  Bytes want = {
      0x5c, 0x00, 0x00, 0x00, 0x19, 0x00, 0x05, 0x00,  // len 92, RTM_DELROUTE, REQUEST|ACK
      0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // seq 9
      0x0a, 0x40, 0x00, 0x00, 0x00, 0x03, 0xff, 0x01,  // AF_INET6 /64, table in RTA_TABLE,
                                                       // proto boot, scope nowhere, unicast
      0x04, 0x00, 0x00, 0x00,                          // RTNH_F_ONLINK
      0x14, 0x00, 0x01, 0x00, 0xfd, 0x00, 0x00, 0x01,  // RTA_DST fd00:1::
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  //
      0x00, 0x00, 0x00, 0x00,                          //
      0x14, 0x00, 0x05, 0x00, 0xfd, 0x00, 0x00, 0x00,  // RTA_GATEWAY fd00::9
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  //
      0x00, 0x00, 0x00, 0x09,                          //
      0x08, 0x00, 0x04, 0x00, 0x04, 0x00, 0x00, 0x00,  // RTA_OIF 4
      0x08, 0x00, 0x06, 0x00, 0x00, 0x04, 0x00, 0x00,  // RTA_PRIORITY 1024
      0x08, 0x00, 0x0f, 0x00, 0xe8, 0x03, 0x00, 0x00,  // RTA_TABLE 1000
  };
  EXPECT_EQ(buildRoute(9, RouteOp::Kind::kDelete, r), want);
}

TEST(MessageGoldenTest, RouteToleratesHostBitsAndDefaultRouteHasNoDst) {
  Route r = route("0.0.0.0/0", "192.168.1.1");
  Bytes b = buildRoute(1, RouteOp::Kind::kReplace, r);
  EXPECT_EQ(b.size(), 16u + 12u + 8u + 8u);  // header, rtmsg, RTA_GATEWAY, RTA_TABLE
  Route host = r;
  host.dst = *ip::Prefix::parseInterface("10.1.2.3/24");
  auto parsed = parseRoute(buildRoute(1, RouteOp::Kind::kReplace, host));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->route.dst.str(), "10.1.2.0/24");
}

TEST(MessageGoldenTest, NewAddressV6NoDad) {
  Bytes want = {
      0x48, 0x00, 0x00, 0x00, 0x14, 0x00, 0x05, 0x06,  // len 72, RTM_NEWADDR, CREATE|EXCL
      0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // seq 9
      0x0a, 0x40, 0x02, 0x00, 0x03, 0x00, 0x00, 0x00,  // AF_INET6 /64 IFA_F_NODAD, index 3
      0x14, 0x00, 0x02, 0x00, 0xfd, 0x00, 0x00, 0x00,  // IFA_LOCAL fd00::5
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  //
      0x00, 0x00, 0x00, 0x05,                          //
      0x14, 0x00, 0x01, 0x00, 0xfd, 0x00, 0x00, 0x00,  // IFA_ADDRESS fd00::5
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  //
      0x00, 0x00, 0x00, 0x05,                          //
      0x08, 0x00, 0x08, 0x00, 0x02, 0x00, 0x00, 0x00,  // IFA_FLAGS IFA_F_NODAD
  };
  EXPECT_EQ(buildNewAddress(9, 3, *ip::Prefix::parseInterface("fd00::5/64"), true), want);
}

TEST(MessageGoldenTest, AddressV4IgnoresNoDadAndDeleteHasNoCreateFlags) {
  auto p = *ip::Prefix::parseInterface("10.0.0.5/24");
  Bytes add = buildNewAddress(1, 2, p, true);
  EXPECT_EQ(add.size(), 16u + 8u + 8u + 8u);  // no IFA_FLAGS for IPv4
  EXPECT_EQ(add[18], 0);                      // ifa_flags
  Bytes del = buildDeleteAddress(1, 2, p);
  EXPECT_EQ(del[4], RTM_DELADDR);
  EXPECT_EQ(del[6] | (del[7] << 8), NLM_F_REQUEST | NLM_F_ACK);
}

TEST(MessageGoldenTest, RouteDump) {
  Bytes want = {
      0x24, 0x00, 0x00, 0x00, 0x1a, 0x00, 0x01, 0x03,  // len 36, RTM_GETROUTE, REQUEST|DUMP
      0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // seq 5
      0x0a, 0x00, 0x00, 0x00, 0xfe, 0xc9, 0x00, 0x00,  // AF_INET6, main, proto 201
      0x00, 0x00, 0x00, 0x00,                          //
      0x08, 0x00, 0x0f, 0x00, 0xfe, 0x00, 0x00, 0x00,  // RTA_TABLE 254
  };
  EXPECT_EQ(buildRouteDump(5, ip::Family::kV6, uint8_t{201}, 254), want);
  Bytes any = buildRouteDump(5, ip::Family::kV4, std::nullopt, 254);
  EXPECT_EQ(any[16], 2);  // AF_INET
  EXPECT_EQ(any[21], 0);  // any protocol
}

TEST(MessageGoldenTest, LinkQueries) {
  Bytes want = {
      0x30, 0x00, 0x00, 0x00, 0x12, 0x00, 0x01, 0x00,  // len 48, RTM_GETLINK, REQUEST only
      0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // seq 4
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // ifinfomsg
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  //
      0x07, 0x00, 0x03, 0x00, 'l',  'o',  0x00, 0x00,  // IFLA_IFNAME "lo\0" (7) + pad
      0x08, 0x00, 0x1d, 0x00, 0x08, 0x00, 0x00, 0x00,  // IFLA_EXT_MASK SKIP_STATS
  };
  EXPECT_EQ(buildGetLinkByName(4, "lo"), want);
  Bytes byIndex = buildGetLinkByIndex(4, 6);
  EXPECT_EQ(byIndex.size(), 40u);
  EXPECT_EQ(byIndex[20], 6);
  Bytes dump = buildLinkDump(4);
  EXPECT_EQ(dump[6] | (dump[7] << 8), NLM_F_REQUEST | NLM_F_DUMP);
  Bytes addrDump = buildAddressDump(4, 3);
  EXPECT_EQ(addrDump.size(), 24u);
  EXPECT_EQ(addrDump[4], RTM_GETADDR);
  EXPECT_EQ(addrDump[20], 3);  // ifa_index
}

TEST(MessageGoldenTest, LinkChanges) {
  Bytes master = buildSetMaster(1, 5, 2);
  EXPECT_EQ(master.size(), 40u);
  EXPECT_EQ(Bytes(master.end() - 8, master.end()), (Bytes{8, 0, IFLA_MASTER, 0, 2, 0, 0, 0}));
  Bytes mtu = buildSetMtu(1, 5, 9000);
  EXPECT_EQ(Bytes(mtu.end() - 8, mtu.end()), (Bytes{8, 0, IFLA_MTU, 0, 0x28, 0x23, 0, 0}));
  Bytes mac6 = buildSetMac(1, 5, mac(0x77));
  EXPECT_EQ(Bytes(mac6.end() - 12, mac6.end()),
            (Bytes{10, 0, IFLA_ADDRESS, 0, 2, 0, 0, 0, 0, 0x77, 0, 0}));
  auto renamed = parseLink(buildRename(1, 5, "eth0"));
  ASSERT_TRUE(renamed.ok());
  EXPECT_EQ(renamed->index, 5);
  EXPECT_EQ(renamed->name, "eth0");
  Bytes del = buildDeleteLink(1, 5);
  EXPECT_EQ(del.size(), 32u);
  EXPECT_EQ(del[4], RTM_DELLINK);
  EXPECT_EQ(del[20], 5);
}

// --- Parsers

TEST(MessageParseTest, LinkRoundTrip) {
  auto bridge = parseLink(buildNewBridge(1, "br0", mac(0x01), 1400));
  ASSERT_TRUE(bridge.ok()) << bridge.error().message;
  EXPECT_EQ(bridge->name, "br0");
  EXPECT_EQ(bridge->kind, "bridge");
  EXPECT_EQ(bridge->mtu, 1400u);
  EXPECT_EQ(bridge->mac, mac(0x01));
  auto veth = parseLink(buildNewVeth(1, "vh1", mac(0x02), "eth0", mac(0x03), 1450, 9));
  ASSERT_TRUE(veth.ok()) << veth.error().message;
  EXPECT_EQ(veth->name, "vh1");  // the peer's nested name is not the link's
  EXPECT_EQ(veth->kind, "veth");
  EXPECT_EQ(veth->mac, mac(0x02));
  auto up = parseLink(buildSetUp(1, 7, true));
  ASSERT_TRUE(up.ok());
  EXPECT_EQ(up->index, 7);
  EXPECT_TRUE(up->up);
  EXPECT_FALSE(up->running);
  auto enslaved = parseLink(buildSetMaster(1, 7, 3));
  ASSERT_TRUE(enslaved.ok());
  EXPECT_EQ(enslaved->master, 3);
}

TEST(MessageParseTest, VxlanLinkRoundTrip) {
  VxlanSpec spec = vxlanSpec();
  auto link = parseLink(buildNewVxlan(1, spec));
  ASSERT_TRUE(link.ok()) << link.error().message;
  EXPECT_EQ(link->kind, "vxlan");
  EXPECT_EQ(link->name, "vx0");
  ASSERT_TRUE(link->vxlan);
  VxlanInfo want = spec.info;
  want.learning = false;
  EXPECT_EQ(*link->vxlan, want);
  EXPECT_EQ(link->vxlan->port, 4789);  // host order again
  spec.info.local = *ip::Address::parse("fd77::1");
  spec.info.underlay = 0;
  auto v6 = parseLink(buildNewVxlan(1, spec));
  ASSERT_TRUE(v6.ok()) << v6.error().message;
  ASSERT_TRUE(v6->vxlan);
  EXPECT_EQ(v6->vxlan->local, spec.info.local);
  EXPECT_EQ(v6->vxlan->underlay, 0);
  spec.info.local.reset();
  auto any = parseLink(buildNewVxlan(1, spec));
  ASSERT_TRUE(any.ok()) << any.error().message;
  EXPECT_FALSE(any->vxlan->local);
  // Other kinds carry no VXLAN information, even with IFLA_INFO_DATA (a veth's peer).
  auto veth = parseLink(buildNewVeth(1, "vh1", mac(0x02), "eth0", mac(0x03), 1450, 9));
  ASSERT_TRUE(veth.ok());
  EXPECT_FALSE(veth->vxlan);
}

TEST(MessageParseTest, MalformedVxlanAttributesAreNamed) {
  Bytes good = buildNewVxlan(1, vxlanSpec());
  // Offsets in the golden message: IFLA_VXLAN_ID at 80, _PORT at 88, _LOCAL at 96, _LINK
  // at 104, _LEARNING at 112. Each case shortens an attribute (nla_len) or gives it the
  // type of one of another size; of a type seen twice the later one counts.
  struct Case {
    size_t at;
    uint8_t len;   // 0: kept
    uint8_t type;  // 0: kept
    const char* error;
  } cases[] = {
      {80, 7, 0, "IFLA_VXLAN_ID has 3 bytes, expected 4"},
      {96, 0, IFLA_VXLAN_PORT, "IFLA_VXLAN_PORT has 4 bytes, expected 2"},
      {96, 6, 0, "IFLA_VXLAN_LOCAL has 2 bytes, expected 4"},
      {96, 0, IFLA_VXLAN_LOCAL6, "IFLA_VXLAN_LOCAL6 has 4 bytes, expected 16"},
      {112, 0, IFLA_VXLAN_LINK, "IFLA_VXLAN_LINK has 1 bytes, expected 4"},
      {112, 6, 0, "IFLA_VXLAN_LEARNING has 2 bytes, expected 1"},
  };
  for (const Case& c : cases) {
    Bytes b = good;
    if (c.len) b[c.at] = c.len;
    if (c.type) b[c.at + 2] = c.type;
    auto link = parseLink(b);
    ASSERT_FALSE(link.ok()) << c.error;
    EXPECT_EQ(link.error().code, EBADMSG);
    EXPECT_NE(link.error().message.find(c.error), std::string::npos) << link.error().message;
    EXPECT_NE(link.error().message.find("link vx0 IFLA_INFO_DATA"), std::string::npos)
        << link.error().message;
  }
}

TEST(MessageParseTest, NeighborRoundTrip) {
  Neighbor v6 = neighEntry();
  v6.address = *ip::Address::parse("fd00:2::");
  v6.state = NUD_REACHABLE;
  Neighbor anyRemote = fdbEntry();
  anyRemote.address = *ip::Address::parse("fd77::2");
  for (const Neighbor& n : {fdbEntry(), neighEntry(), v6, anyRemote}) {
    auto parsed = parseNeighbor(buildNeighbor(3, NeighborOp::Kind::kReplace, n));
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    EXPECT_EQ(parsed->neighbor, n) << describe(parsed->neighbor) << " != " << describe(n);
    EXPECT_EQ(parsed->self, n.fdb);
  }
  // A neighbour being removed comes without its link-layer address: the MAC stays zero.
  auto removed = parseNeighbor(buildNeighbor(3, NeighborOp::Kind::kDelete, neighEntry()));
  ASSERT_TRUE(removed.ok()) << removed.error().message;
  EXPECT_EQ(removed->neighbor.key(), neighEntry().key());
  EXPECT_EQ(removed->neighbor.mac, Mac{});
  // A bridge port's entry: no remote, and NTF_MASTER rather than NTF_SELF.
  Bytes port = buildNeighbor(3, NeighborOp::Kind::kReplace, fdbEntry());
  port.resize(40);
  port[0] = 40;
  port[26] = NTF_MASTER;
  auto master = parseNeighbor(port);
  ASSERT_TRUE(master.ok()) << master.error().message;
  EXPECT_FALSE(master->self);
  EXPECT_FALSE(master->neighbor.address);
  EXPECT_EQ(master->neighbor.mac, kPeerMac);
}

TEST(MessageParseTest, MalformedNeighborsAreErrors) {
  Bytes fdb = buildNeighbor(1, NeighborOp::Kind::kReplace, fdbEntry());
  Bytes neigh = buildNeighbor(1, NeighborOp::Kind::kReplace, neighEntry());
  // fdb: NDA_LLADDR at 28, NDA_DST at 40. neighbour: NDA_DST at 28, NDA_LLADDR at 36,
  // NDA_PROTOCOL at 48.
  auto expectError = [](const Bytes& b, const std::string& what) {
    auto parsed = parseNeighbor(b);
    ASSERT_FALSE(parsed.ok()) << what;
    EXPECT_EQ(parsed.error().code, EBADMSG);
    EXPECT_NE(parsed.error().message.find(what), std::string::npos) << parsed.error().message;
  };
  Bytes shortDst = fdb;
  shortDst[40] = 7;
  expectError(shortDst, "NDA_DST has 3 bytes, expected 4 or 16");
  Bytes shortMac = fdb;
  shortMac[28] = 9;
  expectError(shortMac, "NDA_LLADDR has 5 bytes, expected 6");
  Bytes noMac = fdb;
  noMac[30] = NDA_CACHEINFO + 20;  // an attribute of a type no one reads
  expectError(noMac, "fdb entry without NDA_LLADDR");
  // A neighbour's link-layer address has the length of its device's (4 bytes on an IPIP
  // tunnel): only an Ethernet one is a MAC.
  Bytes tunnel;
  putHeader(tunnel, 0, RTM_NEWNEIGH, 0, 1);
  const Bytes header = {AF_INET, 0, 0, 0, 7, 0, 0, 0, NUD_PERMANENT, 0, 0, 0};
  tunnel.insert(tunnel.end(), header.begin(), header.end());
  putAttr(tunnel, NDA_DST, {10, 0, 0, 1});
  putAttr(tunnel, NDA_LLADDR, {192, 168, 1, 2});
  putAttr(tunnel, NDA_PROTOCOL, {201});
  finishLength(tunnel);
  auto parsedTunnel = parseNeighbor(tunnel);
  ASSERT_TRUE(parsedTunnel.ok()) << parsedTunnel.error().message;
  EXPECT_EQ(parsedTunnel->neighbor.mac, Mac{});
  EXPECT_EQ(parsedTunnel->neighbor.protocol, 201);
  Bytes wideProtocol = neigh;
  wideProtocol[48] = 6;
  expectError(wideProtocol, "NDA_PROTOCOL has 2 bytes, expected 1");
  Bytes v6Dst = neigh;
  v6Dst[16] = AF_INET6;
  expectError(v6Dst, "NDA_DST has 4 bytes, expected 16");
  Bytes family = neigh;
  family[16] = 99;
  expectError(family, "address family 99");
  Bytes noDst = neigh;
  noDst[30] = NDA_CACHEINFO + 20;
  expectError(noDst, "neighbour without NDA_DST");
  expectError(withLength(neigh, 24), "fixed header truncated");
}

TEST(MessageParseTest, RouteRoundTrip) {
  Route v4 = route("10.244.2.0/24", "192.168.1.12");
  v4.protocol = 201;
  Route v6 = route("fd00:1::/64", "fe80::1");
  v6.oif = 4;
  v6.priority = 1024;
  v6.table = 100000;
  v6.onlink = true;
  v6.scope = RT_SCOPE_LINK;
  Route direct = route("10.9.0.0/16", nullptr);
  direct.oif = 2;
  direct.type = RTN_BLACKHOLE;
  Route deflt = route("::/0", "fd00::1");
  for (const Route& r : {v4, v6, direct, deflt}) {
    auto parsed = parseRoute(buildRoute(77, RouteOp::Kind::kReplace, r));
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    EXPECT_EQ(parsed->route, r) << describe(parsed->route) << " != " << describe(r);
    EXPECT_FALSE(parsed->cloned);
  }
}

TEST(MessageParseTest, RouteTableFallsBackToHeaderAndClonedIsReported) {
  Bytes b;
  putHeader(b, 0, RTM_NEWROUTE, 0, 1);
  Bytes header = {AF_INET, 32, 0, 0, 100, RTPROT_KERNEL, RT_SCOPE_LINK, RTN_UNICAST};
  b.insert(b.end(), header.begin(), header.end());
  put32(b, RTM_F_CLONED);
  putAttr(b, RTA_DST, {10, 0, 0, 1});
  finishLength(b);
  auto parsed = parseRoute(b);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->route.table, 100u);
  EXPECT_EQ(parsed->route.dst.str(), "10.0.0.1/32");
  EXPECT_EQ(parsed->route.scope, RT_SCOPE_LINK);
  EXPECT_TRUE(parsed->cloned);
}

TEST(MessageParseTest, AddressRoundTrip) {
  auto v6 = parseAddress(buildNewAddress(1, 3, *ip::Prefix::parseInterface("fd00::5/64"), true));
  ASSERT_TRUE(v6.ok()) << v6.error().message;
  EXPECT_EQ(v6->index, 3);
  EXPECT_EQ(v6->prefix.str(), "fd00::5/64");
  auto v4 = parseAddress(buildDeleteAddress(1, 9, *ip::Prefix::parseInterface("10.1.2.3/16")));
  ASSERT_TRUE(v4.ok()) << v4.error().message;
  EXPECT_EQ(v4->index, 9);
  EXPECT_EQ(v4->prefix.str(), "10.1.2.3/16");
}

TEST(MessageParseTest, WrongAttributeLengthsAreErrors) {
  Route r = route("10.0.0.0/8", "10.0.0.1");
  r.oif = 3;
  Bytes b = buildRoute(1, RouteOp::Kind::kReplace, r);
  // Layout: header 16, rtmsg 12, RTA_DST at 28, RTA_GATEWAY at 36, RTA_OIF at 44.
  Bytes shortGateway = b;
  shortGateway[36] = 7;  // RTA_GATEWAY of 3 bytes
  auto gw = parseRoute(shortGateway);
  ASSERT_FALSE(gw.ok());
  EXPECT_NE(gw.error().message.find("RTA_GATEWAY has 3 bytes"), std::string::npos)
      << gw.error().message;
  Bytes shortOif = b;
  shortOif[44] = 6;  // RTA_OIF of 2 bytes
  auto oif = parseRoute(shortOif);
  ASSERT_FALSE(oif.ok());
  EXPECT_NE(oif.error().message.find("RTA_OIF"), std::string::npos) << oif.error().message;
  Bytes tiny = b;
  tiny[28] = 2;  // nla_len below the attribute header
  EXPECT_FALSE(parseRoute(tiny).ok());
  Bytes beyond = b;
  beyond[28] = 0xff;  // nla_len past the end
  EXPECT_FALSE(parseRoute(beyond).ok());
  Bytes family = b;
  family[16] = 99;
  EXPECT_FALSE(parseRoute(family).ok());
  Bytes prefixLen = b;
  prefixLen[17] = 33;
  EXPECT_FALSE(parseRoute(prefixLen).ok());

  Bytes link = buildSetMtu(1, 5, 1500);
  link[32] = 6;  // IFLA_MTU of 2 bytes
  EXPECT_FALSE(parseLink(link).ok());
  Bytes addr = buildNewAddress(1, 3, *ip::Prefix::parseInterface("10.0.0.1/8"), false);
  addr[17] = 40;  // prefix length beyond 32
  EXPECT_FALSE(parseAddress(addr).ok());
}

TEST(MessageParseTest, TruncatedMessagesNeverParse) {
  std::vector<Bytes> samples = {
      buildNewVeth(1, "vh1", mac(2), "eth0", mac(3), 1500, 4),
      buildRoute(1, RouteOp::Kind::kReplace, route("fd00:1::/64", "fd00::9")),
      buildNewAddress(1, 3, *ip::Prefix::parseInterface("fd00::5/64"), true),
      buildNewVxlan(1, vxlanSpec()),
      buildNeighbor(1, NeighborOp::Kind::kReplace, fdbEntry()),
      buildNeighbor(1, NeighborOp::Kind::kReplace, neighEntry()),
  };
  for (const Bytes& full : samples) {
    for (size_t len = 0; len < full.size(); ++len) {
      Bytes cut(full.begin(), full.begin() + static_cast<long>(len));
      // The header still claims the full length: always an error.
      EXPECT_FALSE(parseLink(cut).ok()) << len;
      EXPECT_FALSE(parseRoute(cut).ok()) << len;
      EXPECT_FALSE(parseAddress(cut).ok()) << len;
      EXPECT_FALSE(parseNeighbor(cut).ok()) << len;
      EXPECT_FALSE(splitMessages(cut).ok() && len > 0) << len;
      // A header that agrees with the cut: whatever the result, no crash (ASan/UBSan).
      Bytes agreed = withLength(full, len);
      (void)parseLink(agreed);
      (void)parseRoute(agreed);
      (void)parseAddress(agreed);
      (void)parseNeighbor(agreed);
      fuzz::parseAny(agreed.data(), agreed.size());
    }
  }
  // Cut inside RTA_GATEWAY (starts at byte 48 of the IPv6 route): a truncated attribute.
  auto cutGateway = parseRoute(withLength(samples[1], 56));
  ASSERT_FALSE(cutGateway.ok());
  EXPECT_EQ(cutGateway.error().code, EBADMSG);
  EXPECT_NE(cutGateway.error().message.find("malformed netlink message"), std::string::npos);
}

TEST(MessageParseTest, GarbageNeverCrashes) {
  std::mt19937 rng(12345);
  Bytes seed = buildNewVeth(1, "vh1", mac(2), "eth0", mac(3), 1500, 4);
  for (int i = 0; i < 20000; ++i) {
    Bytes b = seed;
    // Flip a few bytes of a valid message, or use pure noise.
    if (i % 2) {
      for (int k = 0; k < 4; ++k) b[rng() % b.size()] = static_cast<uint8_t>(rng());
    } else {
      b.resize(rng() % 200);
      for (auto& x : b) x = static_cast<uint8_t>(rng());
    }
    (void)parseLink(b);
    (void)parseRoute(b);
    (void)parseAddress(b);
    (void)parseAck(b);
    fuzz::parseAny(b.data(), b.size());
  }
  SUCCEED() << "20000 mutated inputs parsed without a crash";
}

TEST(MessageParseTest, SplitsDatagrams) {
  Bytes two = buildSetUp(1, 2, true);
  Bytes second = buildDeleteLinkByName(2, "x");
  two.insert(two.end(), second.begin(), second.end());
  auto messages = splitMessages(two);
  ASSERT_TRUE(messages.ok());
  ASSERT_EQ(messages->size(), 2u);
  EXPECT_EQ((*messages)[0].type, RTM_NEWLINK);
  EXPECT_EQ((*messages)[0].seq, 1u);
  EXPECT_EQ((*messages)[1].type, RTM_DELLINK);
  EXPECT_EQ((*messages)[1].seq, 2u);
  EXPECT_EQ((*messages)[1].bytes.size(), second.size());
  Bytes bad = two;
  bad[0] = 8;  // nlmsg_len smaller than the header
  EXPECT_FALSE(splitMessages(bad).ok());
  EXPECT_TRUE(splitMessages({}).ok());
}

// An NLMSG_ERROR as the kernel sends it with NETLINK_CAP_ACK and NETLINK_EXT_ACK on.
Bytes errorMessage(uint32_t seq, int error, const std::string& text, bool capped) {
  Bytes b;
  uint16_t flags = text.empty() ? 0 : NLM_F_ACK_TLVS;
  if (capped) flags |= NLM_F_CAPPED;
  putHeader(b, 0, NLMSG_ERROR, flags, seq);
  put32(b, static_cast<uint32_t>(-error));
  Bytes request = buildSetMtu(seq, 5, 1500);
  b.insert(b.end(), request.begin(), request.begin() + (capped ? 16 : request.size()));
  if (!text.empty())
    putAttr(b, NLMSGERR_ATTR_MSG, Bytes(text.c_str(), text.c_str() + text.size() + 1));
  finishLength(b);
  return b;
}

// An nf_tables notification as the kernel multicasts it: nfgenmsg, then attributes.
Bytes nftMessage(uint16_t msg, uint8_t family, uint16_t attr, const Bytes& payload) {
  Bytes b;
  putHeader(b, 0, static_cast<uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | msg), 0, 0);
  b.push_back(family);
  b.push_back(NFNETLINK_V0);
  put16(b, 0);  // res_id
  putAttr(b, attr, payload);
  finishLength(b);
  return b;
}
Bytes text(const std::string& s) {
  return Bytes(s.c_str(), s.c_str() + s.size() + 1);
}

TEST(MessageParseTest, NftNoticesNameTheTableAndTheCommittingProcess) {
  auto table = parseNftNotice(nftMessage(NFT_MSG_DELTABLE, 1, NFTA_TABLE_NAME, text("routelet")));
  ASSERT_TRUE(table.ok()) << table.error().message;
  ASSERT_TRUE(table->has_value());
  EXPECT_EQ((*table)->kind, NftNotice::Kind::kObject);
  EXPECT_EQ((*table)->family, 1);
  EXPECT_EQ((*table)->table, "routelet");
  // A set element deleted by hand names its table the same way.
  auto element =
      parseNftNotice(nftMessage(NFT_MSG_DELSETELEM, 1, NFTA_SET_ELEM_LIST_TABLE, text("routelet")));
  ASSERT_TRUE(element.ok() && element->has_value());
  EXPECT_EQ((*element)->table, "routelet");
  // NFTA_GEN_PROC_PID is big-endian on the wire.
  auto gen = parseNftNotice(nftMessage(NFT_MSG_NEWGEN, 0, NFTA_GEN_PROC_PID, {0, 0, 0x10, 0x92}));
  ASSERT_TRUE(gen.ok() && gen->has_value());
  EXPECT_EQ((*gen)->kind, NftNotice::Kind::kGeneration);
  EXPECT_EQ((*gen)->pid, 4242u);
  // Another subsystem, or a message type with nothing to act on: nothing.
  Bytes other = buildSetMtu(1, 5, 1500);
  auto none = parseNftNotice(other);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  auto trace = parseNftNotice(nftMessage(NFT_MSG_TRACE, 1, 1, text("x")));
  ASSERT_TRUE(trace.ok());
  EXPECT_FALSE(trace->has_value());
}

TEST(MessageGoldenTest, NftSetElementsAndBatch) {
  // NFT_MSG_NEWSETELEM (subsystem 10, message 12), NLM_F_REQUEST|ACK|CREATE; nfgenmsg
  // NFPROTO_INET; table "t", set "s"; one list element with its key's data value.
  Bytes want;
  putHeader(want, 0, (10 << 8) | 12, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE, 7);
  want.insert(want.end(), {1, 0, 0, 0});  // family, version, res_id
  putAttr(want, 1, text("t"));
  putAttr(want, 2, text("s"));
  Bytes key;
  putAttr(key, 1, {10, 244, 2, 0});  // NFTA_DATA_VALUE
  Bytes element;
  putAttr(element, NLA_F_NESTED | 1, key);  // NFTA_SET_ELEM_KEY
  Bytes list;
  putAttr(list, NLA_F_NESTED | 1, element);  // NFTA_LIST_ELEM
  putAttr(want, NLA_F_NESTED | 3, list);     // NFTA_SET_ELEM_LIST_ELEMENTS
  finishLength(want);
  std::vector<ip::Address> keys = {*ip::Address::parse("10.244.2.0")};
  EXPECT_EQ(buildNftSetElements(7, true, 1, "t", "s", keys), want);
  // A delete is NFT_MSG_DELSETELEM (14) without NLM_F_CREATE, otherwise the same.
  Bytes del = buildNftSetElements(7, false, 1, "t", "s", keys);
  want[4] = 14;
  want[6] = NLM_F_REQUEST | NLM_F_ACK;
  want[7] = 0;
  EXPECT_EQ(del, want);
  // Batch begin (16) and end (17): AF_UNSPEC, res_id NFNL_SUBSYS_NFTABLES in network order.
  Bytes begin;
  putHeader(begin, 20, 16, NLM_F_REQUEST, 3);
  begin.insert(begin.end(), {0, 0, 0, 10});
  EXPECT_EQ(buildNftBatch(3, true), begin);
  Bytes end = begin;
  end[4] = 17;
  EXPECT_EQ(buildNftBatch(3, false), end);
}

TEST(MessageParseTest, MalformedNftNoticesAreErrors) {
  // A pid of the wrong size, an object without its table, a truncated message.
  EXPECT_FALSE(parseNftNotice(nftMessage(NFT_MSG_NEWGEN, 0, NFTA_GEN_PROC_PID, {1, 2})).ok());
  EXPECT_FALSE(parseNftNotice(nftMessage(NFT_MSG_NEWRULE, 1, 7, text("x"))).ok());
  Bytes whole = nftMessage(NFT_MSG_DELTABLE, 1, NFTA_TABLE_NAME, text("routelet"));
  // Cut anywhere before the name's last byte (the attribute's padding may go).
  for (size_t len = 0; len < 16 + 4 + 4 + 9; ++len) {
    auto r = parseNftNotice(withLength(whole, len));
    if (r.ok()) {
      EXPECT_TRUE(!r->has_value() || (*r)->table != "routelet") << len;
    }
  }
}

TEST(MessageParseTest, AckWithExtendedMessage) {
  for (bool capped : {true, false}) {
    auto ack = parseAck(errorMessage(42, ENETUNREACH, "Nexthop has invalid gateway", capped));
    ASSERT_TRUE(ack.ok()) << ack.error().message;
    EXPECT_EQ(ack->seq, 42u);
    EXPECT_EQ(ack->error, ENETUNREACH);
    EXPECT_EQ(ack->extack, "Nexthop has invalid gateway");
  }
  auto plain = parseAck(errorMessage(3, 0, "", true));
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->error, 0);
  EXPECT_EQ(plain->extack, "");
  EXPECT_FALSE(parseAck(buildSetUp(1, 1, true)).ok());  // not an NLMSG_ERROR
}

TEST(MacTest, FormatsAndParses) {
  Mac m{0x02, 0x42, 0xac, 0x11, 0x00, 0x0f};
  EXPECT_EQ(macString(m), "02:42:ac:11:00:0f");
  auto back = parseMac("02:42:AC:11:00:0F");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, m);
  for (const char* bad : {"", "02:42:ac:11:00", "02:42:ac:11:00:0g", "02-42-ac-11-00-0f",
                          "02:42:ac:11:00:0f:", "0242ac11000f"}) {
    auto r = parseMac(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, EINVAL);
    EXPECT_NE(r.error().message.find("is not six colon-separated hex bytes"), std::string::npos);
  }
}

TEST(DescribeTest, NamesEveryNonDefaultField) {
  Route r = route("10.244.2.0/24", "192.168.1.12");
  r.oif = 3;
  r.protocol = 201;
  EXPECT_EQ(describe(r), "10.244.2.0/24 via 192.168.1.12 dev 3 proto 201");
  r.table = 100;
  r.priority = 5;
  r.onlink = true;
  r.scope = RT_SCOPE_LINK;
  r.type = RTN_BLACKHOLE;
  EXPECT_EQ(describe(r),
            "type 6 10.244.2.0/24 via 192.168.1.12 dev 3 table 100 proto 201 scope 253 "
            "metric 5 onlink");
}

TEST(DescribeTest, NeighborsAsIpAndBridgeShowThem) {
  EXPECT_EQ(describe(fdbEntry()), "fdb 0e:72:0a:f4:02:00 dst 192.168.2.12 dev 7");
  EXPECT_EQ(describe(neighEntry()), "neigh 10.244.2.0 lladdr 0e:72:0a:f4:02:00 dev 7 proto 201");
  Neighbor stale = neighEntry();
  stale.protocol = 0;
  stale.state = NUD_STALE;
  EXPECT_EQ(describe(stale), "neigh 10.244.2.0 lladdr 0e:72:0a:f4:02:00 dev 7 state 4");
  Neighbor port = fdbEntry();
  port.address.reset();
  EXPECT_EQ(describe(port), "fdb 0e:72:0a:f4:02:00 dev 7");
}

}  // namespace
}  // namespace routelet::netlink
