#include <gtest/gtest.h>

#include "common/bridge/bridge.h"
#include "common/netlink/netns.h"
#include "common/sysctl/sysctl.h"
#include "tests/support/netlink_space.h"

namespace routelet::bridge {
namespace {

using testing::NetlinkSpace;
using testing::requireRootAndIp;

// ensure() writes a sysctl of the calling thread's namespace, so tests call it from inside.
Result<netlink::Link> ensureIn(NetlinkSpace& s, const Spec& sp) {
  auto in = netns::Enter::into(*s.fd);
  if (!in) return in.error();
  return ensure(*s.handle, sp);
}

Spec spec() {
  return Spec{"cni0",
              netlink::Mac{0x02, 0x52, 0x4c, 0, 0, 1},
              1400,
              {*ip::Prefix::parseInterface("10.244.1.1/24"),
               *ip::Prefix::parseInterface("fd00:10:244:1::1/64")}};
}

TEST(IsPodPortNameTest, OnlyTheNamesRouteletCniGives) {
  EXPECT_TRUE(isPodPortName("rl0123456789"));
  EXPECT_TRUE(isPodPortName("rlabcdef0123"));
  EXPECT_FALSE(isPodPortName("rl012345678"));    // too short
  EXPECT_FALSE(isPodPortName("rl0123456789a"));  // too long
  EXPECT_FALSE(isPodPortName("rl01234567G9"));   // not hex
  EXPECT_FALSE(isPodPortName("veth01234567"));
  EXPECT_FALSE(isPodPortName("cni0"));
}

TEST(BridgeKernelTest, EnsureCreatesThenLeavesAlone) {
  if (!requireRootAndIp()) return;
  NetlinkSpace s("br");
  ASSERT_TRUE(s.ok());
  auto first = ensureIn(s, spec());
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first->kind, "bridge");
  EXPECT_EQ(first->mtu, 1400u);
  EXPECT_EQ(first->mac, spec().mac);
  EXPECT_TRUE(first->up);
  auto addrs = s.handle->addresses(first->index);
  ASSERT_TRUE(addrs.ok());
  int gateways = 0;
  for (const auto& a : *addrs)
    gateways += a.prefix == spec().gateways[0] || a.prefix == spec().gateways[1];
  EXPECT_EQ(gateways, 2);
  auto fd = netns::Fd::open(s.ns.path());
  ASSERT_TRUE(fd.ok());
  {
    auto in = netns::Enter::into(*fd);
    ASSERT_TRUE(in.ok());
    EXPECT_EQ(*sysctl::get("net.ipv6.conf.cni0.accept_ra"), "0");
  }
  auto second = ensureIn(s, spec());
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(second->index, first->index);
}

TEST(BridgeKernelTest, RepairsMacMtuAndMissingGateway) {
  if (!requireRootAndIp()) return;
  NetlinkSpace s("brfix");
  ASSERT_TRUE(s.ok());
  auto br = ensureIn(s, spec());
  ASSERT_TRUE(br.ok());
  ASSERT_EQ(
      s.ns.run("ip link set cni0 down && ip link set cni0 mtu 1300 address 02:00:00:00:00:99 && "
               "ip addr del 10.244.1.1/24 dev cni0"),
      0);
  auto again = ensureIn(s, spec());
  ASSERT_TRUE(again.ok()) << again.error().message;
  auto l = s.handle->linkByName("cni0");
  EXPECT_TRUE(l->up);
  EXPECT_EQ(l->mtu, 1400u);
  EXPECT_EQ(l->mac, spec().mac);
  EXPECT_NE(s.ns.output("ip -4 addr show dev cni0").find("10.244.1.1/24"), std::string::npos);
}

// After a podCIDR change the old range's gateway must go, or the node keeps a connected
// route to another node's pods.
TEST(BridgeKernelTest, GatewaysOfRangesNoLongerOwnedAreRemoved) {
  if (!requireRootAndIp()) return;
  NetlinkSpace s("brprune");
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(ensureIn(s, spec()).ok());
  ASSERT_EQ(s.ns.run("ip addr add 192.0.2.7/24 dev cni0"), 0);  // not a gateway: stays
  Spec moved = spec();
  moved.gateways = {*ip::Prefix::parseInterface("10.244.9.1/24")};
  auto br = ensureIn(s, moved);
  ASSERT_TRUE(br.ok()) << br.error().message;
  auto removed = pruneGateways(*s.handle, *br, moved.gateways);
  ASSERT_TRUE(removed.ok()) << removed.error().message;
  ASSERT_EQ(removed->size(), 2u);
  EXPECT_EQ((*removed)[0].str(), "10.244.1.1/24");
  EXPECT_EQ((*removed)[1].str(), "fd00:10:244:1::1/64");
  std::string v4 = s.ns.output("ip -4 addr show dev cni0");
  EXPECT_EQ(v4.find("10.244.1.1/24"), std::string::npos) << v4;
  EXPECT_NE(v4.find("10.244.9.1/24"), std::string::npos) << v4;
  EXPECT_NE(v4.find("192.0.2.7/24"), std::string::npos) << v4;
  EXPECT_EQ(s.ns.output("ip -6 addr show dev cni0 scope global"), "");
  EXPECT_EQ(pruneGateways(*s.handle, *br, moved.gateways)->size(), 0u);
}

TEST(BridgeKernelTest, ANonBridgeWithTheNameIsRefusedNamingIt) {
  if (!requireRootAndIp()) return;
  NetlinkSpace s("brbad");
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(s.ns.run("ip link add cni0 type veth peer name other"), 0);
  auto br = ensureIn(s, spec());
  ASSERT_FALSE(br.ok());
  EXPECT_EQ(
      br.error().message,
      "link cni0 exists but is a veth, not a bridge: remove it or configure another bridge name");
}

TEST(BridgeKernelTest, PortsOfADeletedBridgeGoBackOnTheNewOne) {
  if (!requireRootAndIp()) return;
  NetlinkSpace node("brport");
  testing::TestNetns pod("brpod");
  ASSERT_TRUE(node.ok() && pod.ok());
  auto br = ensureIn(node, spec());
  ASSERT_TRUE(br.ok());
  ASSERT_EQ(node.ns.run("ip link add rl0123456789 type veth peer name eth0 netns " + pod.name() +
                        " && ip link set rl0123456789 master cni0 up && "
                        "ip link add other0 type veth peer name other1 && ip link set other0 up"),
            0);
  ASSERT_EQ(node.ns.run("ip link del cni0"), 0);
  auto again = ensureIn(node, spec());
  ASSERT_TRUE(again.ok());
  EXPECT_NE(again->index, br->index);
  auto n = reattachPorts(*node.handle, *again);
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, 1);
  EXPECT_EQ(node.handle->linkByName("rl0123456789")->master, again->index);
  EXPECT_EQ(node.handle->linkByName("other0")->master, 0);  // not a pod port: left alone
  auto none = reattachPorts(*node.handle, *again);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, 0);
}

}  // namespace
}  // namespace routelet::bridge
