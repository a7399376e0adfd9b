// This node's setup from its own Node, table-tested: pure functions, no fakes.
#include "controller/node/local_setup.h"

#include <gtest/gtest.h>

#include "tests/unit/controller/routes/builders.h"

namespace routelet::node {
namespace {

using routes::testing::addr;
using routes::testing::makeNode;
using routes::testing::prefix;

config::Options optionsFor(routes::Mode mode = routes::Mode::kHostGw) {
  config::Options o;
  o.nodeName = "node-1";
  o.mode = mode;
  return o;
}

HostFacts factsOf(std::vector<std::string> onLink, uint32_t mtu = 1500) {
  HostFacts f;
  for (const auto& p : onLink) f.onLink.push_back(prefix(p));
  f.nodeIPMtu = mtu;
  f.nodeIPInterface = "eth0";
  f.nodeIPIndex = 2;
  return f;
}

TEST(OwnNodeIPs, OverrideThenUsableInternalThenExternalPerPodCIDRFamily) {
  model::NodeCache nodes;
  auto own = makeNode("node-1", {"10.244.1.0/24", "fd00:10:244:1::/64"},
                      {"127.0.0.1", "192.168.1.11"}, {"203.0.113.1"});
  auto o = optionsFor();
  auto ips = ownNodeIPs(own, nodes, o);
  EXPECT_EQ(ips.nodeIPs, std::vector<ip::Address>{addr("192.168.1.11")});
  EXPECT_EQ(ips.missing, std::vector<ip::Family>{ip::Family::kV6});

  o.nodeIPs = {addr("fd00:1::11"), addr("192.168.1.99")};
  ips = ownNodeIPs(own, nodes, o);
  EXPECT_EQ(ips.nodeIPs, (std::vector<ip::Address>{addr("192.168.1.99"), addr("fd00:1::11")}));
  EXPECT_TRUE(ips.missing.empty());

  // An address in the cluster CIDR is no node IP, the node's own included.
  o.nodeIPs.clear();
  o.clusterCIDRs = {prefix("192.168.0.0/16")};
  ips = ownNodeIPs(own, nodes, o);
  EXPECT_EQ(ips.nodeIPs, std::vector<ip::Address>{addr("203.0.113.1")});
}

struct SetupCase {
  std::string name;
  routes::Mode mode;
  std::vector<std::string> podCIDRs;
  uint32_t optionMtu;
  uint32_t wantMtu;
  std::vector<std::string> wantGateways;
  bool v4, v6;
};

TEST(LocalSetup, MtuGatewaysForwardingAndConflistFromTheOwnNode) {
  for (const auto& c : std::vector<SetupCase>{
           {"host-gw: the underlay's MTU",
            routes::Mode::kHostGw,
            {"10.244.1.0/24"},
            0,
            1450,
            {"10.244.1.1/24"},
            true,
            false},
           {"auto IPv4: VXLAN's 50 bytes left",
            routes::Mode::kAuto,
            {"10.244.1.0/24"},
            0,
            1400,
            {"10.244.1.1/24"},
            true,
            false},
           {"auto dual-stack: IPv6's 70",
            routes::Mode::kAuto,
            {"10.244.1.0/24", "fd00:10:244:1::/64"},
            0,
            1380,
            {"10.244.1.1/24", "fd00:10:244:1::1/64"},
            true,
            true},
           {"an MTU setting wins",
            routes::Mode::kVxlan,
            {"fd00:10:244:1::/64"},
            9000,
            9000,
            {"fd00:10:244:1::1/64"},
            false,
            true},
       }) {
    SCOPED_TRACE(c.name);
    auto o = optionsFor(c.mode);
    o.mtu = c.optionMtu;
    o.hairpin = false;
    auto own = makeNode("node-1", c.podCIDRs, {"192.168.1.11"});
    auto s = localSetup(own, {addr("192.168.1.11")}, factsOf({"192.168.1.0/24"}, 1450), o);
    EXPECT_EQ(s.mtu, c.wantMtu);
    std::vector<std::string> gateways;
    for (const auto& g : s.gateways) gateways.push_back(g.str());
    EXPECT_EQ(gateways, c.wantGateways);
    EXPECT_EQ(s.forwardV4, c.v4);
    EXPECT_EQ(s.forwardV6, c.v6);
    EXPECT_EQ(s.conflist.mtu, c.wantMtu);
    EXPECT_EQ(s.conflist.podCIDRs, own.podCIDRs);
    EXPECT_EQ(s.conflist.bridge, "cni0");
    EXPECT_FALSE(s.conflist.hairpin);
    EXPECT_EQ(s.local.podCIDRs, own.podCIDRs);
    EXPECT_EQ(s.local.underlayMtu, 1450u);
    EXPECT_EQ(s.local.nodeIPIndex, 2);
  }
}

struct RefusalCase {
  std::string name;
  std::string podCIDR;
  std::vector<std::string> onLink;
  std::vector<std::string> gateways;
  std::string mentions;  // empty: accepted
};

// Issue 23, row 2: the own podCIDR was never checked. Each of these put an address on the
// bridge that belongs elsewhere, or routed half of IPv4 into it.
TEST(OwnPodCIDRRefused, ChecksTheOwnNodeLikeAPeerAndMore) {
  for (const auto& c : std::vector<RefusalCase>{
           {"a pod range", "10.244.1.0/24", {"192.168.1.0/24"}, {"192.168.1.1"}, ""},
           {"the node's segment",
            "192.168.1.0/24",
            {"192.168.1.0/24"},
            {"192.168.1.1"},
            "on-link subnet 192.168.1.0/24"},
           {"half of IPv4", "128.0.0.0/1", {"192.168.1.0/24"}, {"192.168.1.1"}, "shorter than /8"},
           {"everything", "0.0.0.0/0", {"192.168.1.0/24"}, {"192.168.1.1"}, "shorter than /8"},
           {"the metadata service", "169.254.169.0/24", {"192.168.1.0/24"}, {}, "link-local"},
           {"a gateway reached onlink from a /32 address",
            "10.128.0.0/30",
            {"10.128.0.5/32"},
            {"10.128.0.1"},
            "default gateway 10.128.0.1"},
           {"an address the Node lists",
            "203.0.113.0/24",
            {"192.168.1.0/24"},
            {},
            "address 203.0.113.1"},
       }) {
    SCOPED_TRACE(c.name);
    auto own = makeNode("node-1", {c.podCIDR}, {"192.168.1.11"}, {"203.0.113.1"});
    std::vector<ip::Address> gateways;
    for (const auto& g : c.gateways) gateways.push_back(addr(g));
    auto why =
        ownPodCIDRRefused(own, {addr("192.168.1.11")}, factsOf(c.onLink), gateways, optionsFor());
    if (c.mentions.empty()) {
      EXPECT_FALSE(why) << *why;
    } else {
      ASSERT_TRUE(why);
      EXPECT_NE(why->find("spec.podCIDRs " + prefix(c.podCIDR).network().str()), std::string::npos)
          << *why;
      EXPECT_NE(why->find(c.mentions), std::string::npos) << *why;
    }
  }
  // Outside the cluster CIDR.
  auto o = optionsFor();
  o.clusterCIDRs = {prefix("10.244.0.0/16")};
  auto why = ownPodCIDRRefused(makeNode("node-1", {"10.96.0.0/24"}, {"192.168.1.11"}),
                               {addr("192.168.1.11")}, factsOf({"192.168.1.0/24"}), {}, o);
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("outside the cluster CIDR 10.244.0.0/16"), std::string::npos) << *why;
}

}  // namespace
}  // namespace routelet::node
