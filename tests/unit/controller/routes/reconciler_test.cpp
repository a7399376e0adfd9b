#include "controller/routes/reconciler.h"

#include <gtest/gtest.h>

#include <cerrno>

#include "controller/routes/fake_route_table.h"
#include "tests/unit/controller/routes/builders.h"

namespace routelet::routes {
namespace {

using testing::makeNode;
using testing::makeRoute;
using testing::prefix;

SelfInfo self() {
  SelfInfo s = testing::seedSelf();
  s.podCIDRs = {prefix("10.244.1.0/24")};
  return s;
}

model::NodeCache seedCache() {
  model::NodeCache cache;
  (void)cache.replaceAll({makeNode("node-1", {"10.244.1.0/24"}, {"192.168.1.11"}),
                          makeNode("node-2", {"10.244.2.0/24"}, {"192.168.1.12"}),
                          makeNode("node-3", {"10.244.3.0/24"}, {"192.168.1.13"})});
  return cache;
}

// The seed cluster after a first successful pass.
class Programmed : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(reconciler.reconcile(cache, self(), true).ok()); }
  Report again() { return reconciler.reconcile(cache, self(), true); }

  FakeRouteTable table;
  Reconciler reconciler{table};
  model::NodeCache cache = seedCache();
};

const netlink::Route* findDst(const FakeRouteTable& t, const std::string& dst) {
  return t.find(makeRoute(dst, "").key());
}

TEST(Reconciler, ConvergesInOnePassThenDoesNothing) {
  FakeRouteTable table;
  table.put(makeRoute("0.0.0.0/0", "192.168.1.1", 3));  // the host's default route
  Reconciler r(table);
  model::NodeCache cache = seedCache();

  Report first = r.reconcile(cache, self(), true);
  EXPECT_TRUE(first.ok());
  EXPECT_EQ(first.installed.size(), 2u);
  EXPECT_EQ(table.routes().size(), 3u);
  ASSERT_NE(findDst(table, "10.244.2.0/24"), nullptr);
  EXPECT_EQ(findDst(table, "10.244.2.0/24")->gateway->str(), "192.168.1.12");
  EXPECT_EQ(findDst(table, "10.244.3.0/24")->protocol, 201);

  std::size_t opsBefore = table.opsApplied();
  Report second = r.reconcile(cache, self(), true);
  EXPECT_TRUE(second.ok());
  EXPECT_EQ(second.unchanged, 2u);
  EXPECT_TRUE(second.installed.empty());
  EXPECT_TRUE(second.updated.empty());
  EXPECT_TRUE(second.deleted.empty());
  EXPECT_EQ(table.opsApplied(), opsBefore);
  EXPECT_EQ(table.applyCalls(), 1u);  // an empty plan sends nothing
}

// An admin's route that appears between the pass's dump and its batch is never overwritten:
// new routes are created exclusively, the kernel answers EEXIST, and the next pass sees it.
TEST(Reconciler, ARouteThatAppearsAfterTheDumpIsNotOverwritten) {
  FakeRouteTable table;
  Reconciler reconciler{table};
  model::NodeCache cache = seedCache();
  const netlink::Route admin = makeRoute("10.244.2.0/24", "192.168.1.99", 4);
  table.afterDump = [&] {
    table.put(admin);
    table.afterDump = nullptr;
  };
  Report first = reconciler.reconcile(cache, self(), true);
  ASSERT_EQ(first.failed.size(), 1u);
  EXPECT_EQ(first.failed[0].error.code, EEXIST);
  ASSERT_NE(table.find(admin.key()), nullptr);
  EXPECT_EQ(table.find(admin.key())->gateway, admin.gateway);
  EXPECT_EQ(table.find(admin.key())->protocol, 4);
  EXPECT_EQ(first.installed.size(), 1u);  // node-3's route goes in all the same

  Report second = reconciler.reconcile(cache, self(), true);
  EXPECT_TRUE(second.failed.empty());
  ASSERT_EQ(second.conflicts.size(), 1u);
  EXPECT_EQ(second.conflicts[0].foreign.gateway, admin.gateway);
}

TEST(Reconciler, RestartWithMatchingKernelChangesNothing) {
  // A new agent process: fresh Reconciler, cache from the LIST, kernel already programmed
  // by the previous process. Not a single delete and re-add.
  FakeRouteTable table;
  for (auto& r :
       {makeRoute("10.244.2.0/24", "192.168.1.12"), makeRoute("10.244.3.0/24", "192.168.1.13")}) {
    netlink::Route withDev = r;
    withDev.oif = 2;  // as the kernel reports it
    table.put(withDev);
  }
  Reconciler restarted(table);
  Report report = restarted.reconcile(seedCache(), self(), true);
  EXPECT_TRUE(report.ok());
  EXPECT_EQ(report.unchanged, 2u);
  EXPECT_EQ(table.applyCalls(), 0u);

  // And before the LIST arrives (API unreachable), nothing happens either.
  Report early = restarted.reconcile(model::NodeCache{}, self(), false);
  EXPECT_EQ(early.keptStale.size(), 2u);
  EXPECT_EQ(table.applyCalls(), 0u);
  EXPECT_EQ(table.routes().size(), 2u);
}

TEST(Reconciler, UnsyncedCacheNeverDeletes) {
  FakeRouteTable table;
  table.put(makeRoute("10.244.9.0/24", "192.168.1.19"));
  Reconciler r(table);
  model::NodeCache cache;  // watch events arrived, LIST not complete
  (void)cache.upsert(makeNode("node-2", {"10.244.2.0/24"}, {"192.168.1.12"}));
  ASSERT_FALSE(cache.synced());

  Report report = r.reconcile(cache, self(), cache.synced());
  EXPECT_EQ(report.installed.size(), 1u);
  EXPECT_TRUE(report.deleted.empty());
  ASSERT_EQ(report.keptStale.size(), 1u);
  EXPECT_NE(findDst(table, "10.244.9.0/24"), nullptr);

  // Once synced, the stale route goes.
  (void)cache.replaceAll({makeNode("node-2", {"10.244.2.0/24"}, {"192.168.1.12"})});
  Report synced = r.reconcile(cache, self(), cache.synced());
  ASSERT_EQ(synced.deleted.size(), 1u);
  EXPECT_EQ(synced.deleted[0].dst.str(), "10.244.9.0/24");
  EXPECT_EQ(findDst(table, "10.244.9.0/24"), nullptr);
}

TEST_F(Programmed, UpdatesChangedGatewayAndDeletesRemovedNode) {
  (void)cache.upsert(makeNode("node-2", {"10.244.2.0/24"}, {"192.168.1.22"}));
  (void)cache.remove("node-3");
  Report report = again();
  EXPECT_TRUE(report.ok());
  ASSERT_EQ(report.updated.size(), 1u);
  EXPECT_EQ(report.updated[0].gateway->str(), "192.168.1.22");
  ASSERT_EQ(report.deleted.size(), 1u);
  EXPECT_EQ(report.deleted[0].dst.str(), "10.244.3.0/24");
  EXPECT_EQ(findDst(table, "10.244.2.0/24")->gateway->str(), "192.168.1.22");
  EXPECT_EQ(findDst(table, "10.244.3.0/24"), nullptr);
}

TEST_F(Programmed, DeletingNodeLosesItsRoute) {
  auto n3 = *cache.get("node-3");
  n3.deleting = true;
  (void)cache.upsert(n3);
  Report report = again();
  EXPECT_EQ(report.deleted.size(), 1u);
  EXPECT_EQ(findDst(table, "10.244.3.0/24"), nullptr);
}

TEST_F(Programmed, HandDeletedRouteIsRepaired) {
  ASSERT_TRUE(table.erase(makeRoute("10.244.2.0/24", "").key()));
  Report report = again();
  EXPECT_EQ(report.installed.size(), 1u);
  EXPECT_NE(findDst(table, "10.244.2.0/24"), nullptr);
}

TEST(Reconciler, ForeignRoutesAreNeverTouched) {
  FakeRouteTable table;
  netlink::Route admins = makeRoute("10.244.2.0/24", "192.168.1.1", 4);  // proto static
  netlink::Route unrelated = makeRoute("172.16.0.0/12", "192.168.1.1", 4);
  table.put(admins);
  table.put(unrelated);
  Reconciler r(table);
  Report report = r.reconcile(seedCache(), self(), true);

  ASSERT_EQ(report.conflicts.size(), 1u);
  EXPECT_EQ(report.conflicts[0].foreign, admins);
  EXPECT_EQ(report.installed.size(), 1u);  // node-3 only
  ASSERT_NE(findDst(table, "10.244.2.0/24"), nullptr);
  EXPECT_EQ(*findDst(table, "10.244.2.0/24"), admins);
  EXPECT_EQ(*findDst(table, "172.16.0.0/12"), unrelated);
  EXPECT_TRUE(report.deleted.empty());
}

TEST(Reconciler, PartialFailuresAreReportedAndRetried) {
  FakeRouteTable table;
  table.failOps(prefix("10.244.2.0/24"), Error{ENETUNREACH, "Network is unreachable"}, 1);
  Reconciler r(table);
  model::NodeCache cache = seedCache();

  Report first = r.reconcile(cache, self(), true);
  EXPECT_FALSE(first.ok());
  ASSERT_EQ(first.failed.size(), 1u);
  EXPECT_EQ(first.failed[0].op.route.dst.str(), "10.244.2.0/24");
  EXPECT_EQ(first.failed[0].error.code, ENETUNREACH);
  EXPECT_EQ(first.installed.size(), 1u);  // the rest of the batch went through
  EXPECT_EQ(findDst(table, "10.244.2.0/24"), nullptr);

  Report second = r.reconcile(cache, self(), true);
  EXPECT_TRUE(second.ok());
  ASSERT_EQ(second.installed.size(), 1u);
  EXPECT_EQ(second.installed[0].dst.str(), "10.244.2.0/24");
  EXPECT_EQ(second.unchanged, 1u);
}

TEST(Reconciler, BatchTransportErrorFailsEveryOp) {
  FakeRouteTable table;
  table.failApply(Error{ENOBUFS, "netlink: No buffer space available"});
  Reconciler r(table);
  Report report = r.reconcile(seedCache(), self(), true);
  EXPECT_EQ(report.failed.size(), 2u);
  EXPECT_TRUE(report.installed.empty());
  for (const auto& f : report.failed) EXPECT_EQ(f.error.code, ENOBUFS);
}

TEST(Reconciler, DumpErrorPlansNothing) {
  FakeRouteTable table;
  table.failDump(Error{EPERM, "Operation not permitted"});
  Reconciler r(table);
  Report report = r.reconcile(seedCache(), self(), true);
  ASSERT_TRUE(report.dumpError.has_value());
  EXPECT_EQ(report.dumpError->code, EPERM);
  EXPECT_NE(report.dumpError->message.find("table 254"), std::string::npos);
  EXPECT_FALSE(report.ok());
  EXPECT_EQ(table.applyCalls(), 0u);
}

TEST(Reconciler, DeleteOfAlreadyGoneRouteCountsAsDeleted) {
  FakeRouteTable table;
  table.put(makeRoute("10.244.9.0/24", "192.168.1.19"));
  // The route disappears between dump and apply (its link went down): ESRCH.
  table.failOps(prefix("10.244.9.0/24"), Error{ESRCH, "No such process"}, 1);
  Reconciler r(table);
  Report report = r.reconcile(seedCache(), self(), true);
  EXPECT_TRUE(report.ok());
  EXPECT_EQ(report.deleted.size(), 1u);
}

TEST(Reconciler, ReportsSkippedPeers) {
  FakeRouteTable table;
  Reconciler r(table);
  model::NodeCache cache = seedCache();
  (void)cache.upsert(makeNode("node-4", {"10.244.4.0/24"}, {"10.9.9.9"}));
  Report report = r.reconcile(cache, self(), true);
  ASSERT_EQ(report.skipped.size(), 1u);
  EXPECT_EQ(report.skipped[0].node, "node-4");
  EXPECT_EQ(report.skipped[0].reason, SkipReason::kNotOnLink);
  EXPECT_EQ(findDst(table, "10.244.4.0/24"), nullptr);
}

TEST(Reconciler, FiveThousandNodes) {
  FakeRouteTable table;
  Reconciler r(table);
  model::NodeCache cache = testing::largeCluster(5000);
  SelfInfo s = testing::largeSelf();

  Report fresh = r.reconcile(cache, s, true);
  EXPECT_TRUE(fresh.ok());
  EXPECT_EQ(fresh.installed.size(), 4999u);
  EXPECT_EQ(table.routes().size(), 4999u);

  Report steady = r.reconcile(cache, s, true);
  EXPECT_EQ(steady.unchanged, 4999u);
  EXPECT_EQ(table.applyCalls(), 1u);

  model::Node moved = testing::largeNode(2500);
  moved.internalIPs = {testing::addr("10.0.200.1")};
  (void)cache.upsert(moved);
  (void)cache.remove(testing::largeNodeName(4000));
  Report changed = r.reconcile(cache, s, true);
  EXPECT_EQ(changed.updated.size(), 1u);
  EXPECT_EQ(changed.deleted.size(), 1u);
  EXPECT_EQ(changed.unchanged, 4997u);
  EXPECT_EQ(table.routes().size(), 4998u);
}

}  // namespace
}  // namespace routelet::routes
