// VXLAN naming, VTEP addresses and MACs, ownership and the entry plans
// (controller/routes/vxlan.h); mixed clusters as a whole are golden scenarios (vxlan-*).
#include "controller/routes/vxlan.h"

#include <gtest/gtest.h>

#include "controller/routes/desired.h"
#include "controller/routes/fake_route_table.h"
#include "controller/routes/reconciler.h"
#include "tests/unit/controller/routes/builders.h"

namespace routelet::routes {
namespace {

using testing::addr;
using testing::makeNode;
using testing::prefix;

TEST(VxlanTest, ModesParseByNameAndBadOnesAreNamed) {
  for (Mode m : {Mode::kHostGw, Mode::kAuto, Mode::kVxlan}) EXPECT_EQ(*parseMode(modeName(m)), m);
  auto bad = parseMode("ipip");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("\"ipip\""), std::string::npos);
  EXPECT_NE(bad.error().message.find("host-gw, auto or vxlan"), std::string::npos);
}

TEST(VxlanTest, DevicesAndOverheadPerFamily) {
  EXPECT_STREQ(vxlanDeviceName(ip::Family::kV4), "routelet.vxlan");
  EXPECT_STREQ(vxlanDeviceName(ip::Family::kV6), "routelet.vxlan6");
  EXPECT_LE(std::string(vxlanDeviceName(ip::Family::kV6)).size(), 15u);  // IFNAMSIZ - 1
  EXPECT_EQ(vxlanOverhead(ip::Family::kV4), 50u);
  EXPECT_EQ(vxlanOverhead(ip::Family::kV6), 70u);
}

TEST(VxlanTest, VtepAddressIsTheNetworkAddress) {
  EXPECT_EQ(vtepAddress(prefix("10.244.7.0/24")), addr("10.244.7.0"));
  EXPECT_EQ(vtepAddress(prefix("fd00:10:244:7::/64")), addr("fd00:10:244:7::"));
}

TEST(VxlanTest, VtepMacIsTaggedAndCarriesTheLastPrefixBits) {
  EXPECT_EQ(netlink::macString(vtepMac(prefix("10.244.7.0/24"))), "0e:72:0a:f4:07:00");
  EXPECT_EQ(netlink::macString(vtepMac(prefix("10.245.0.128/25"))), "0e:72:0a:f5:00:80");
  // IPv6: the 32 bits that end at the prefix length.
  EXPECT_EQ(netlink::macString(vtepMac(prefix("fd00:10:244:7::/64"))), "0e:72:02:44:00:07");
  EXPECT_EQ(netlink::macString(vtepMac(prefix("fd00:10:244:7:8000::/65"))), "0e:72:04:88:00:0f");
  EXPECT_EQ(netlink::macString(vtepMac(prefix("fd00:abcd::/32"))), "0e:72:fd:00:ab:cd");
  for (const char* p : {"10.244.7.0/24", "fd00:10:244:7::/64"}) {
    auto mac = vtepMac(prefix(p));
    EXPECT_TRUE(isVtepMac(mac)) << p;
    EXPECT_EQ(mac[0] & 0x03, 0x02) << p << ": locally administered, unicast";
  }
  EXPECT_FALSE(isVtepMac(*netlink::parseMac("02:72:0a:f4:07:00")));
}

TEST(VxlanTest, OwnershipNeedsPermanentStateAndRouteletsTag) {
  auto entries = tunnelEntries(7, prefix("10.244.2.0/24"), addr("192.168.2.12"), 201);
  ASSERT_EQ(entries.size(), 2u);
  for (const auto& e : entries) EXPECT_TRUE(ownedEntry(e, 201)) << netlink::describe(e);
  netlink::Neighbor neigh = entries[0];
  neigh.protocol = 0;  // an admin's `ip neigh add`
  EXPECT_FALSE(ownedEntry(neigh, 201));
  neigh = entries[0];
  neigh.state = 0x20;  // NUD_FAILED: the kernel's own resolution attempt
  EXPECT_FALSE(ownedEntry(neigh, 201));
  netlink::Neighbor fdb = entries[1];
  fdb.mac = *netlink::parseMac("02:00:00:00:00:01");
  EXPECT_FALSE(ownedEntry(fdb, 201));
}

TEST(VxlanTest, PeerPlanReplacesWhatChangedAndDeletesWhatWent) {
  auto before = tunnelEntries(7, prefix("10.244.2.0/24"), addr("192.168.2.12"), 201);
  auto moved = tunnelEntries(7, prefix("10.244.2.0/24"), addr("192.168.3.12"), 201);
  auto plan = planPeerNeighbors(before, moved);
  ASSERT_EQ(plan.ops.size(), 1u);  // only the fdb entry names the node IP
  EXPECT_TRUE(plan.ops[0].entry.fdb);
  EXPECT_EQ(plan.ops[0].kind, netlink::NeighborOp::Kind::kReplace);
  EXPECT_EQ(plan.unchanged, 1u);

  auto gone = planPeerNeighbors(before, {});
  ASSERT_EQ(gone.ops.size(), 2u);
  for (const auto& op : gone.ops) EXPECT_EQ(op.kind, netlink::NeighborOp::Kind::kDelete);
  EXPECT_EQ(planPeerNeighbors({}, before).adds, 2u);
}

TEST(VxlanTest, UnsyncedCacheKeepsStaleEntries) {
  auto stale = tunnelEntries(7, prefix("10.244.9.0/24"), addr("192.168.2.19"), 201);
  EXPECT_TRUE(planNeighbors({}, stale, 201, false).ops.empty());
  EXPECT_EQ(planNeighbors({}, stale, 201, true).deletes, 2u);
}

SelfInfo autoSelf() {
  SelfInfo s;
  s.name = "a";
  s.podCIDRs = {prefix("10.244.1.0/24")};
  s.nodeIPs = {addr("192.168.1.11")};
  s.onLink = {prefix("192.168.1.0/24")};
  s.mode = Mode::kAuto;
  s.tunnelV4 = 7;
  return s;
}

TEST(VxlanTest, EncapsulatedRoutesAreToldFromDirectOnes) {
  model::NodeCache cache;
  (void)cache.upsert(makeNode("a", {"10.244.1.0/24"}, {"192.168.1.11"}));
  (void)cache.upsert(makeNode("b", {"10.244.2.0/24"}, {"192.168.1.12"}));
  (void)cache.upsert(makeNode("c", {"10.244.3.0/24"}, {"192.168.2.13"}));
  Desired d = desiredRoutes(cache, autoSelf());
  ASSERT_EQ(d.routes.size(), 2u);
  EXPECT_FALSE(isEncapsulated(d.routes[0]));
  EXPECT_TRUE(isEncapsulated(d.routes[1]));
  EXPECT_EQ(d.neighbors.size(), 2u);
  // The targeted pass sees the same for one peer.
  auto one = peerDesired(cache, autoSelf(), "c", cache.get("c"));
  ASSERT_TRUE(one);
  EXPECT_EQ(one->routes, std::vector<netlink::Route>{d.routes[1]});
  EXPECT_EQ(one->neighbors, d.neighbors);
}

TEST(VxlanTest, ReconcilerAppliesEntriesWithRoutesAndHealsThem) {
  model::NodeCache cache;
  cache.replaceAll({makeNode("a", {"10.244.1.0/24"}, {"192.168.1.11"}),
                    makeNode("c", {"10.244.3.0/24"}, {"192.168.2.13"})});
  FakeRouteTable table;
  Reconciler reconciler(table);
  Report report = reconciler.reconcile(cache, autoSelf(), true);
  EXPECT_TRUE(report.ok());
  EXPECT_EQ(report.encapsulated, 1u);
  EXPECT_EQ(report.neighbors.installed, 2u);
  EXPECT_EQ(table.allNeighbors().size(), 2u);
  EXPECT_EQ(table.applyCalls(), 1u) << "entries and routes go in one batch";

  // An entry deleted by hand comes back from a heal, which touches no route.
  auto desired = report.neighbors.desired;
  ASSERT_TRUE(table.eraseNeighbor(desired[1].key()));
  Report healed = reconciler.healNeighbors(desired, {7}, 201);
  EXPECT_TRUE(healed.ok());
  EXPECT_EQ(healed.neighbors.installed, 1u);
  EXPECT_EQ(table.allNeighbors(), desired);

  // A second pass changes nothing.
  Report again = reconciler.reconcile(cache, autoSelf(), true);
  EXPECT_EQ(again.neighbors.installed + again.neighbors.deleted, 0u);
  EXPECT_EQ(again.neighbors.unchanged, 2u);
}

}  // namespace
}  // namespace routelet::routes
