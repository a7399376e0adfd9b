// The agent's VXLAN edge against the real kernel, in namespaces of its own: KernelTunnelEdge makes,
// corrects and re-makes routelet.vxlan, and the reconciler writes, prunes and heals the
// device's neighbour and fdb entries through KernelRouteTable.
#include <gtest/gtest.h>

#include <string>

#include "common/netlink/netlink.h"
#include "common/netlink/netns.h"
#include "controller/routes/kernel_route_table.h"
#include "controller/routes/kernel_tunnel_edge.h"
#include "controller/routes/reconciler.h"
#include "controller/routes/vxlan.h"
#include "tests/support/netns_fixture.h"

namespace routelet::routes {
namespace {

using testing::inside;
using testing::requireRootAndIp;
using testing::TestNetns;

// A namespace whose eth0 (one end of a veth pair) holds 192.168.1.11/24.
bool underlay(const TestNetns& ns) {
  return ns.run(
             "ip link add eth0 type veth peer name eth0p && ip addr add 192.168.1.11/24 dev "
             "eth0 && ip addr add 192.168.1.99/24 dev eth0 && ip link set eth0 up && "
             "ip link set eth0p up") == 0;
}

// Runs f inside ns with the agent's own tunnel edge made there.
template <typename F>
void withEdge(const TestNetns& ns, F f) {
  inside(ns, [&](netlink::Handle& nl) {
    KernelTunnelEdge host(nl);
    f(nl, host);
  });
}

netlink::VxlanSpec spec(netlink::Handle& nl, const std::string& local) {
  netlink::VxlanSpec s;
  s.name = routes::vxlanDeviceName(ip::Family::kV4);
  s.mac = routes::vtepMac(*ip::Prefix::parse("10.244.1.0/24"));
  s.mtu = 1450;
  s.info.vni = 1;
  s.info.port = 8472;
  s.info.local = *ip::Address::parse(local);
  s.info.underlay = nl.linkByName("eth0")->index;
  return s;
}

const ip::Prefix kVtep = *ip::Prefix::parse("10.244.1.0/32");

TEST(VxlanKernelTest, EnsureVxlanMakesCorrectsAndRemakesTheDevice) {
  if (!requireRootAndIp()) return;
  TestNetns ns("vxlan");
  ASSERT_TRUE(ns.ok());
  ASSERT_TRUE(underlay(ns));
  withEdge(ns, [&](netlink::Handle& nl, KernelTunnelEdge& host) {
    auto made = host.ensureVxlan(spec(nl, "192.168.1.11"), kVtep);
    ASSERT_TRUE(made.ok()) << made.error().message;
    std::string link = ns.output("ip -d link show routelet.vxlan");
    for (const char* want :
         {"mtu 1450", "0e:72:0a:f4:01:00", "vxlan id 1 local 192.168.1.11 dev eth0", "dstport 8472",
          "nolearning", "state UNKNOWN"})
      EXPECT_NE(link.find(want), std::string::npos) << want << " in " << link;
    EXPECT_NE(ns.output("ip -4 addr show dev routelet.vxlan").find("10.244.1.0/32"),
              std::string::npos);

    // Idempotent, and what someone changed by hand is put back on the same device.
    ASSERT_EQ(ns.run("ip link set routelet.vxlan mtu 1300 && ip link set routelet.vxlan down"), 0);
    auto again = host.ensureVxlan(spec(nl, "192.168.1.11"), kVtep);
    ASSERT_TRUE(again.ok()) << again.error().message;
    EXPECT_EQ(*again, *made);
    link = ns.output("ip -d link show routelet.vxlan");
    EXPECT_NE(link.find("mtu 1450"), std::string::npos) << link;
    EXPECT_NE(link.find(",UP"), std::string::npos) << link;

    // The node IP moved: the source is fixed at creation, so the device is made again.
    auto moved = host.ensureVxlan(spec(nl, "192.168.1.99"), kVtep);
    ASSERT_TRUE(moved.ok()) << moved.error().message;
    EXPECT_NE(*moved, *made);
    EXPECT_NE(ns.output("ip -d link show routelet.vxlan").find("local 192.168.1.99"),
              std::string::npos);

    // A new podCIDR: the old VTEP address goes, the new one comes.
    auto renumbered =
        host.ensureVxlan(spec(nl, "192.168.1.99"), *ip::Prefix::parse("10.244.9.0/32"));
    ASSERT_TRUE(renumbered.ok()) << renumbered.error().message;
    std::string addrs = ns.output("ip -4 addr show dev routelet.vxlan");
    EXPECT_EQ(addrs.find("10.244.1.0/32"), std::string::npos) << addrs;
    EXPECT_NE(addrs.find("10.244.9.0/32"), std::string::npos) << addrs;

    // A link of that name that is no VXLAN device (or another kind of one) is replaced too.
    ASSERT_TRUE(host.removeLink("routelet.vxlan").ok());
    ASSERT_EQ(ns.run("ip link add routelet.vxlan type vxlan id 9 dstport 4789 local 192.168.1.11"),
              0);
    auto replaced = host.ensureVxlan(spec(nl, "192.168.1.11"), kVtep);
    ASSERT_TRUE(replaced.ok()) << replaced.error().message;
    EXPECT_NE(ns.output("ip -d link show routelet.vxlan").find("vxlan id 1 "), std::string::npos);

    EXPECT_TRUE(host.removeLink("routelet.vxlan").ok());
    EXPECT_NE(ns.run("ip link show routelet.vxlan 2>/dev/null"), 0);
    EXPECT_TRUE(host.removeLink("routelet.vxlan").ok()) << "already gone is no error";
  });
}

TEST(VxlanKernelTest, ReconcilerWritesPrunesAndHealsOnlyItsOwnEntries) {
  if (!requireRootAndIp()) return;
  TestNetns ns("vxent");
  ASSERT_TRUE(ns.ok());
  ASSERT_TRUE(underlay(ns));
  withEdge(ns, [&](netlink::Handle& nl, KernelTunnelEdge& host) {
    auto device = host.ensureVxlan(spec(nl, "192.168.1.11"), kVtep);
    ASSERT_TRUE(device.ok()) << device.error().message;
    routes::SelfInfo self;
    self.name = "node1";
    self.podCIDRs = {*ip::Prefix::parse("10.244.1.0/24")};
    self.nodeIPs = {*ip::Address::parse("192.168.1.11")};
    self.onLink = {*ip::Prefix::parse("192.168.1.0/24")};
    self.mode = routes::Mode::kAuto;
    self.tunnelV4 = *device;
    auto node = [](const std::string& name, const std::string& ip, const std::string& cidr) {
      model::Node n;
      n.name = name;
      n.internalIPs = {*ip::Address::parse(ip)};
      n.podCIDRs = {*ip::Prefix::parse(cidr)};
      return n;
    };
    model::NodeCache cache;
    cache.replaceAll({node("node1", "192.168.1.11", "10.244.1.0/24"),
                      node("node2", "192.168.1.12", "10.244.2.0/24"),
                      node("node3", "192.168.2.13", "10.244.3.0/24")});
    KernelRouteTable table(nl);
    routes::Reconciler reconciler(table);
    auto report = reconciler.reconcile(cache, self, true);
    ASSERT_TRUE(report.ok()) << (report.dumpError ? report.dumpError->message : "");
    EXPECT_EQ(report.direct, 1u);
    EXPECT_EQ(report.encapsulated, 1u);
    std::string routes = ns.output("ip route show proto 201");
    EXPECT_NE(routes.find("10.244.2.0/24 via 192.168.1.12 dev eth0"), std::string::npos) << routes;
    EXPECT_NE(routes.find("10.244.3.0/24 via 10.244.3.0 dev routelet.vxlan onlink"),
              std::string::npos)
        << routes;
    const std::string fdbEntry = "0e:72:0a:f4:03:00 dst 192.168.2.13 self permanent";
    const std::string neighEntry = "10.244.3.0 lladdr 0e:72:0a:f4:03:00 PERMANENT proto 201";
    EXPECT_NE(ns.output("bridge fdb show dev routelet.vxlan").find(fdbEntry), std::string::npos);
    EXPECT_NE(ns.output("ip neigh show dev routelet.vxlan").find(neighEntry), std::string::npos);

    // Nothing changes a second time.
    auto again = reconciler.reconcile(cache, self, true);
    EXPECT_EQ(again.neighbors.installed + again.neighbors.deleted, 0u);
    EXPECT_EQ(again.neighbors.unchanged, 2u);

    // Deleted by hand: a heal puts it back.
    ASSERT_EQ(ns.run("bridge fdb del 0e:72:0a:f4:03:00 dev routelet.vxlan dst 192.168.2.13 self"),
              0);
    auto healed = reconciler.healNeighbors(report.neighbors.desired, {*device}, 201);
    EXPECT_TRUE(healed.ok());
    EXPECT_EQ(healed.neighbors.installed, 1u);
    EXPECT_NE(ns.output("bridge fdb show dev routelet.vxlan").find(fdbEntry), std::string::npos);

    // An admin's entries on the device stay when node3 leaves; routelet's go.
    ASSERT_EQ(ns.run("ip neigh add 10.244.99.1 lladdr 02:00:00:00:00:01 dev routelet.vxlan && "
                     "bridge fdb append 02:00:00:00:00:02 dev routelet.vxlan dst 192.168.9.9 self "
                     "permanent"),
              0);
    ASSERT_TRUE(cache.remove("node3"));
    auto left = reconciler.reconcile(cache, self, true);
    EXPECT_TRUE(left.ok());
    EXPECT_EQ(left.neighbors.deleted, 2u);
    std::string fdb = ns.output("bridge fdb show dev routelet.vxlan");
    std::string neigh = ns.output("ip neigh show dev routelet.vxlan");
    EXPECT_EQ(fdb.find("0e:72:0a:f4:03:00"), std::string::npos) << fdb;
    EXPECT_EQ(neigh.find("10.244.3.0 "), std::string::npos) << neigh;
    EXPECT_NE(fdb.find("02:00:00:00:00:02 dst 192.168.9.9"), std::string::npos) << fdb;
    EXPECT_NE(neigh.find("10.244.99.1 lladdr 02:00:00:00:00:01"), std::string::npos) << neigh;
    EXPECT_EQ(ns.output("ip route show proto 201").find("10.244.3.0/24"), std::string::npos);
  });
}

}  // namespace
}  // namespace routelet::routes
