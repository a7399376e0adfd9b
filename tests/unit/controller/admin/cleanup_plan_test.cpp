#include "controller/admin/cleanup_plan.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace routelet::admin {
namespace {

netlink::Route route(const char* dst, const char* via, uint8_t proto) {
  netlink::Route r;
  r.dst = *ip::Prefix::parse(dst);
  r.gateway = *ip::Address::parse(via);
  r.protocol = proto;
  return r;
}

netlink::Link link(int index, const char* name, const char* kind, netlink::Mac mac = {}) {
  netlink::Link l;
  l.index = index;
  l.name = name;
  l.kind = kind;
  l.mac = mac;
  return l;
}

const netlink::Mac kOurMac = {0x0a, 0x58, 1, 2, 3, 4};

std::vector<std::string> lines(const CleanupPlan& plan, bool dryRun = false) {
  std::vector<std::string> out;
  for (const auto& a : plan.actions) out.push_back(renderCleanupLine(a, dryRun));
  return out;
}

DirTree file(const char* name) {
  return {name, false, {}};
}
DirTree dir(const char* name, std::vector<DirTree> children) {
  return {name, true, children};
}

CleanupFacts everything() {
  CleanupFacts f;
  f.routeProtocol = 201;
  f.routes = {route("10.244.2.0/24", "192.168.1.12", 201),
              route("10.99.0.0/16", "192.168.1.1", 4),  // an admin's static route
              route("fd00:2::/64", "fd00::12", 201)};
  f.links = {link(1, "lo", ""),
             link(2, "eth0", "veth"),
             link(3, "cni0", "bridge", kOurMac),
             link(4, "rl0123456789", "veth"),
             link(5, "rlzz23456789", "veth"),
             link(6, "rl0123456789a", "veth"),
             link(7, "rlabcdef0123", "bridge")};
  f.bridgeName = "cni0";
  f.bridgeMac = kOurMac;
  f.cniConfigPath = "/etc/cni/net.d/10-routelet.conflist";
  f.cniConfigPresent = true;
  f.ipamDataDir = "/run/routelet/ipam";
  f.ipamDataDirPresent = true;
  f.ipamData = {dir("routelet", {file("lock"), file("last-reserved.10.244.1.0_24"),
                                 dir("leases", {file("10.244.1.2"), file("10.244.1.2.tmp.77")}),
                                 dir("attachments", {file("abc:eth0")})})};
  f.statusPath = "/run/routelet/status.json";
  f.statusPresent = true;
  f.tables = {"inet routelet", "inet routelet_policy"};
  return f;
}

TEST(CleanupPlanTest, RemovesExactlyRouteletsThingsInOrder) {
  auto plan = planCleanup(everything());
  EXPECT_EQ(lines(plan),
            (std::vector<std::string>{
                "remove CNI config /etc/cni/net.d/10-routelet.conflist",
                "delete pod veth rl0123456789",
                "delete bridge cni0",
                "delete route 10.244.2.0/24 via 192.168.1.12 proto 201",
                "delete route fd00:2::/64 via fd00::12 proto 201",
                "delete nftables table inet routelet",
                "delete nftables table inet routelet_policy",
                "remove IPAM file /run/routelet/ipam/routelet/lock",
                "remove IPAM file /run/routelet/ipam/routelet/last-reserved.10.244.1.0_24",
                "remove IPAM file /run/routelet/ipam/routelet/leases/10.244.1.2",
                "remove IPAM file /run/routelet/ipam/routelet/leases/10.244.1.2.tmp.77",
                "remove IPAM directory /run/routelet/ipam/routelet/leases",
                "remove IPAM file /run/routelet/ipam/routelet/attachments/abc:eth0",
                "remove IPAM directory /run/routelet/ipam/routelet/attachments",
                "remove IPAM directory /run/routelet/ipam/routelet",
                "remove IPAM directory /run/routelet/ipam",
                "remove status file /run/routelet/status.json",
            }));
  EXPECT_TRUE(plan.kept.empty());
  EXPECT_EQ(renderCleanupLine(plan.actions[0], true),
            "would remove CNI config /etc/cni/net.d/10-routelet.conflist");
}

TEST(CleanupPlanTest, NothingLeftMeansNoActions) {
  CleanupFacts f;
  f.bridgeName = "cni0";
  f.links = {link(1, "lo", ""), link(2, "eth0", "veth")};
  f.routes = {route("10.99.0.0/16", "192.168.1.1", 4)};
  auto plan = planCleanup(f);
  EXPECT_TRUE(plan.actions.empty());
  EXPECT_TRUE(plan.kept.empty());
}

TEST(CleanupPlanTest, RouteletsTablesGoOnlyWhenTheKernelHasThem) {
  auto f = everything();
  f.tables.clear();
  for (const auto& l : lines(planCleanup(f))) EXPECT_EQ(l.find("nftables"), std::string::npos) << l;
  f.tables = {"inet routelet", "inet routelet_policy"};
  std::vector<std::string> deleted;
  for (const auto& a : planCleanup(f).actions)
    if (a.kind == CleanupAction::Kind::kDeleteTable) deleted.push_back(renderCleanupLine(a, true));
  EXPECT_EQ(deleted,
            (std::vector<std::string>{"would delete nftables table inet routelet",
                                      "would delete nftables table inet routelet_policy"}));
}

// kube-proxy and other software rely on bridge netfilter too: cleanup names the sysctls
// it leaves at 1 and plans nothing for them.
TEST(CleanupPlanTest, BridgeNetfilterSysctlsAreLeftAsTheyAre) {
  auto f = everything();
  size_t actions = planCleanup(f).actions.size();
  f.bridgeNfCallIptables = "1";
  f.bridgeNfCallIp6tables = "1";
  auto plan = planCleanup(f);
  EXPECT_EQ(plan.actions.size(), actions);
  EXPECT_EQ(
      plan.kept,
      (std::vector<std::string>{
          "net.bridge.bridge-nf-call-iptables = 1: not reverted, kube-proxy and others need it",
          "net.bridge.bridge-nf-call-ip6tables = 1: not reverted, kube-proxy and others need "
          "it"}));
  f.bridgeNfCallIptables = "0";
  f.bridgeNfCallIp6tables = "";  // br_netfilter not loaded
  EXPECT_TRUE(planCleanup(f).kept.empty());
}

TEST(CleanupPlanTest, ABridgeOfTheSameNameThatRouteletDidNotMakeStays) {
  auto f = everything();
  f.links[2].mac = {0x02, 0, 0, 0, 0, 1};
  auto plan = planCleanup(f);
  for (const auto& l : lines(plan)) EXPECT_NE(l, "delete bridge cni0");
  ASSERT_EQ(plan.kept.size(), 1u);
  EXPECT_NE(plan.kept[0].find("MAC 02:00:00:00:00:01 is not routelet's 0a:58:01:02:03:04"),
            std::string::npos)
      << plan.kept[0];

  f.links[2].kind = "veth";
  plan = planCleanup(f);
  ASSERT_EQ(plan.kept.size(), 1u);
  EXPECT_EQ(plan.kept[0], "link cni0: a veth, not a bridge; not routelet's");
}

netlink::Link vxlan(int index, const char* name) {
  netlink::Link l = link(index, name, "vxlan");
  l.vxlan = netlink::VxlanInfo{1, 8472, std::nullopt, 2, false};
  return l;
}

// The agent's VXLAN devices go, and the kernel takes the routes through them, their
// neighbour and forwarding entries along; another tool's VXLAN device stays untouched.
TEST(CleanupPlanTest, VxlanDevicesGoWithTheRoutesThroughThem) {
  auto f = everything();
  f.links.push_back(vxlan(8, "routelet.vxlan"));
  f.links.push_back(vxlan(9, "routelet.vxlan6"));
  f.links.push_back(vxlan(10, "flannel.1"));
  auto over = [](const char* dst, const char* via, int oif) {
    auto r = route(dst, via, 201);
    r.oif = oif;
    r.onlink = true;
    return r;
  };
  f.routes.push_back(over("10.244.3.0/24", "10.244.3.0", 8));
  f.routes.push_back(over("10.244.4.0/24", "10.244.4.0", 8));
  f.routes.push_back(over("fd00:3::/64", "fd00:3::", 9));
  f.routes.push_back(over("fe80::/64", "fe80::1", 9));
  f.routes.back().protocol = 2;  // the kernel's own, on every device that is up: not counted
  auto plan = planCleanup(f);
  auto l = lines(plan);
  ASSERT_GE(l.size(), 7u);
  EXPECT_EQ(std::vector<std::string>(l.begin() + 2, l.begin() + 7),
            (std::vector<std::string>{
                "delete bridge cni0",
                "delete VXLAN device routelet.vxlan (vni 1, port 8472) and its 2 routes "
                "with proto 201",
                "delete VXLAN device routelet.vxlan6 (vni 1, port 8472) and its 1 route "
                "with proto 201",
                "delete route 10.244.2.0/24 via 192.168.1.12 proto 201",
                "delete route fd00:2::/64 via fd00::12 proto 201",
            }));
  for (const auto& line : l) EXPECT_EQ(line.find("flannel.1"), std::string::npos) << line;
  EXPECT_EQ(plan.actions[3].link.index, 8);
  EXPECT_TRUE(plan.kept.empty());
  EXPECT_EQ(renderCleanupLine(plan.actions[4], true),
            "would delete VXLAN device routelet.vxlan6 (vni 1, port 8472) and its 1 route "
            "with proto 201");

  // Without routes through it (a host-gw agent's leftover, say) it still goes.
  f.routes.resize(3);
  f.routes.push_back(over("fe80::/64", "fe80::1", 8));
  f.routes.back().protocol = 2;
  EXPECT_EQ(lines(planCleanup(f))[3], "delete VXLAN device routelet.vxlan (vni 1, port 8472)");
}

TEST(CleanupPlanTest, ALinkNamedLikeTheVxlanDeviceButNotVxlanStays) {
  auto f = everything();
  f.links.push_back(link(8, "routelet.vxlan", "dummy"));
  auto r = route("10.244.3.0/24", "10.244.3.0", 201);
  r.oif = 8;
  f.routes.push_back(r);
  auto plan = planCleanup(f);
  EXPECT_EQ(plan.kept,
            (std::vector<std::string>{"link routelet.vxlan: a dummy, not a VXLAN device; not "
                                      "routelet's"}));
  auto l = lines(plan);
  EXPECT_EQ(
      std::count(l.begin(), l.end(), "delete route 10.244.3.0/24 via 10.244.3.0 dev 8 proto 201"),
      1);
  for (const auto& line : l) EXPECT_EQ(line.find("VXLAN"), std::string::npos) << line;
}

TEST(CleanupPlanTest, UnknownFilesKeepTheirDirectories) {
  auto f = everything();
  f.ipamData[0].children.push_back(file("notes.txt"));
  f.ipamData.push_back(dir("other-plugin", {file("data")}));
  auto plan = planCleanup(f);
  auto l = lines(plan);
  EXPECT_EQ(std::count(l.begin(), l.end(), "remove IPAM file /run/routelet/ipam/routelet/lock"), 1);
  EXPECT_EQ(std::count(l.begin(), l.end(), "remove IPAM directory /run/routelet/ipam/routelet"), 0);
  EXPECT_EQ(std::count(l.begin(), l.end(), "remove IPAM directory /run/routelet/ipam"), 0);
  EXPECT_EQ(plan.kept,
            (std::vector<std::string>{
                "/run/routelet/ipam/routelet/notes.txt: not part of routelet's IPAM store",
                "/run/routelet/ipam/other-plugin: not a routelet IPAM store"}));
}

}  // namespace
}  // namespace routelet::admin
