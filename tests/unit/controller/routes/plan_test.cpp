#include "controller/routes/plan.h"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "controller/routes/format.h"
#include "tests/unit/controller/routes/builders.h"

namespace routelet::routes {
namespace {

using netlink::Route;
using testing::makeRoute;

Route withOif(Route r, int oif) {
  r.oif = oif;
  return r;
}
Route withScope(Route r, uint8_t scope) {
  r.scope = scope;
  return r;
}
Route withOnlink(Route r) {
  r.onlink = true;
  return r;
}
Route withType(Route r, uint8_t type) {
  r.type = type;
  return r;
}

struct Case {
  std::string name;
  std::vector<Route> desired = {};
  std::vector<Route> observed = {};
  std::vector<Route> foreign = {};
  bool deleteStale = true;
  // formatPlan() output: the ops with why, conflicts, kept routes and the counts.
  std::string want;
};

const Route kTo2 = makeRoute("10.244.2.0/24", "192.168.1.12");
const Route kTo3 = makeRoute("10.244.3.0/24", "192.168.1.13");

// gtest prints a failing parameter with this instead of its bytes.
void PrintTo(const Case& c, std::ostream* os) {
  *os << c.name;
}

std::vector<Case> cases() {
  return {
      {.name = "nothing at all",
       .want = "summary: 0 add, 0 update, 0 delete, 0 unchanged, 0 conflict, 0 kept-stale\n"},
      {.name = "add missing routes in key order",
       .desired = {kTo3, kTo2},
       .want = "add 10.244.2.0/24 via 192.168.1.12 proto 201\n"
               "add 10.244.3.0/24 via 192.168.1.13 proto 201\n"
               "summary: 2 add, 0 update, 0 delete, 0 unchanged, 0 conflict, 0 kept-stale\n"},
      {.name = "unchanged",
       .desired = {kTo2},
       .observed = {kTo2},
       .want = "summary: 0 add, 0 update, 0 delete, 1 unchanged, 0 conflict, 0 kept-stale\n"},
      {.name = "unchanged when the kernel filled in the device",
       .desired = {kTo2},
       .observed = {withOif(kTo2, 7)},
       .want = "summary: 0 add, 0 update, 0 delete, 1 unchanged, 0 conflict, 0 kept-stale\n"},
      {.name = "gateway changed",
       .desired = {kTo2},
       .observed = {makeRoute("10.244.2.0/24", "192.168.1.99")},
       .want = "update 10.244.2.0/24 via 192.168.1.12 proto 201 (was 10.244.2.0/24 via "
               "192.168.1.99 proto 201)\n"
               "summary: 0 add, 1 update, 0 delete, 0 unchanged, 0 conflict, 0 kept-stale\n"},
      {.name = "device differs when desired names one",
       .desired = {withOif(kTo2, 3)},
       .observed = {withOif(kTo2, 4)},
       .want = "update 10.244.2.0/24 via 192.168.1.12 dev 3 proto 201 (was 10.244.2.0/24 via "
               "192.168.1.12 dev 4 proto 201)\n"
               "summary: 0 add, 1 update, 0 delete, 0 unchanged, 0 conflict, 0 kept-stale\n"},
      {.name = "scope, type and onlink are repaired",
       .desired = {kTo2, kTo3, makeRoute("10.244.4.0/24", "192.168.1.14")},
       .observed = {withScope(kTo2, 253), withOnlink(kTo3),
                    withType(makeRoute("10.244.4.0/24", "192.168.1.14"), 6)},
       .want = "update 10.244.2.0/24 via 192.168.1.12 proto 201 (was 10.244.2.0/24 via "
               "192.168.1.12 proto 201 scope 253)\n"
               "update 10.244.3.0/24 via 192.168.1.13 proto 201 (was 10.244.3.0/24 via "
               "192.168.1.13 proto 201 onlink)\n"
               "update 10.244.4.0/24 via 192.168.1.14 proto 201 (was 10.244.4.0/24 via "
               "192.168.1.14 proto 201 type 6)\n"
               "summary: 0 add, 3 update, 0 delete, 0 unchanged, 0 conflict, 0 kept-stale\n"},
      {.name = "stale routelet route deleted",
       .desired = {kTo2},
       .observed = {kTo2, kTo3},
       .want = "delete 10.244.3.0/24 via 192.168.1.13 proto 201\n"
               "summary: 0 add, 0 update, 1 delete, 1 unchanged, 0 conflict, 0 kept-stale\n"},
      {.name = "stale route kept while deletes are off",
       .desired = {kTo2},
       .observed = {kTo3},
       .deleteStale = false,
       .want = "add 10.244.2.0/24 via 192.168.1.12 proto 201\n"
               "keep-stale 10.244.3.0/24 via 192.168.1.13 proto 201\n"
               "summary: 1 add, 0 update, 0 delete, 0 unchanged, 0 conflict, 1 kept-stale\n"},
      {.name = "foreign route at the same key is a conflict, not replaced",
       .desired = {kTo2, kTo3},
       .foreign = {makeRoute("10.244.2.0/24", "192.168.1.1", 4)},
       .want = "add 10.244.3.0/24 via 192.168.1.13 proto 201\n"
               "conflict 10.244.2.0/24 via 192.168.1.12 proto 201 (held by 10.244.2.0/24 via "
               "192.168.1.1 proto 4)\n"
               "summary: 1 add, 0 update, 0 delete, 0 unchanged, 1 conflict, 0 kept-stale\n"},
      {.name = "foreign routes elsewhere are never deleted",
       .desired = {kTo2},
       .foreign = {makeRoute("0.0.0.0/0", "192.168.1.1", 3),
                   makeRoute("10.244.3.0/24", "192.168.1.13", 4),
                   makeRoute("192.168.1.0/24", "", 2)},
       .want = "add 10.244.2.0/24 via 192.168.1.12 proto 201\n"
               "summary: 1 add, 0 update, 0 delete, 0 unchanged, 0 conflict, 0 kept-stale\n"},
      {.name = "foreign route with another metric is another key",
       .desired = {kTo2},
       .foreign = {makeRoute("10.244.2.0/24", "192.168.1.1", 4, 100)},
       .want = "add 10.244.2.0/24 via 192.168.1.12 proto 201\n"
               "summary: 1 add, 0 update, 0 delete, 0 unchanged, 0 conflict, 0 kept-stale\n"},
      {.name = "observed route with another metric is another key",
       .desired = {kTo2},
       .observed = {makeRoute("10.244.2.0/24", "192.168.1.12", 201, 100)},
       .want = "add 10.244.2.0/24 via 192.168.1.12 proto 201\n"
               "delete 10.244.2.0/24 via 192.168.1.12 proto 201 metric 100\n"
               "summary: 1 add, 0 update, 1 delete, 0 unchanged, 0 conflict, 0 kept-stale\n"},
      {.name = "observed route in another table is another key",
       .desired = {kTo2},
       .observed = {makeRoute("10.244.2.0/24", "192.168.1.12", 201, 0, 100)},
       .want = "delete 10.244.2.0/24 via 192.168.1.12 proto 201 table 100\n"
               "add 10.244.2.0/24 via 192.168.1.12 proto 201\n"
               "summary: 1 add, 0 update, 1 delete, 0 unchanged, 0 conflict, 0 kept-stale\n"},
      {.name = "foreign in another table does not conflict",
       .desired = {kTo2},
       .foreign = {makeRoute("10.244.2.0/24", "192.168.1.1", 4, 0, 100)},
       .want = "add 10.244.2.0/24 via 192.168.1.12 proto 201\n"
               "summary: 1 add, 0 update, 0 delete, 0 unchanged, 0 conflict, 0 kept-stale\n"},
      {.name = "identity ignores host bits of the dst",
       .desired = {kTo2},
       .observed = {[] {
         Route r = kTo2;
         r.dst = ip::Prefix::parse("10.244.2.9/24", false).value();
         return r;
       }()},
       .want = "summary: 0 add, 0 update, 0 delete, 1 unchanged, 0 conflict, 0 kept-stale\n"},
      {.name = "dual-stack mixed",
       .desired = {makeRoute("fd00:10:244:2::/64", "fd00:1::12"), kTo2},
       .observed = {makeRoute("fd00:10:244:3::/64", "fd00:1::13")},
       .want = "add 10.244.2.0/24 via 192.168.1.12 proto 201\n"
               "add fd00:10:244:2::/64 via fd00:1::12 proto 201\n"
               "delete fd00:10:244:3::/64 via fd00:1::13 proto 201\n"
               "summary: 2 add, 0 update, 1 delete, 0 unchanged, 0 conflict, 0 kept-stale\n"},
      {.name = "duplicate desired key keeps the first",
       .desired = {kTo2, makeRoute("10.244.2.0/24", "192.168.1.99")},
       .want = "add 10.244.2.0/24 via 192.168.1.12 proto 201\n"
               "summary: 1 add, 0 update, 0 delete, 0 unchanged, 0 conflict, 0 kept-stale\n"},
  };
}

class PlanTest : public ::testing::TestWithParam<Case> {};

TEST_P(PlanTest, Plans) {
  const Case& c = GetParam();
  Plan p = planRoutes(c.desired, c.observed, c.foreign, PlanOptions{.deleteStale = c.deleteStale});
  EXPECT_EQ(formatPlan(p), c.want);
  ASSERT_EQ(p.ops.size(), p.changes.size());
  EXPECT_EQ(p.ops.size(), p.adds + p.updates + p.deletes);
  for (std::size_t i = 0; i < p.ops.size(); ++i) {
    // A new route is created (EEXIST rather than overwriting a route that appeared after
    // the dump); only a route of routelet's own is replaced.
    using K = netlink::RouteOp::Kind;
    K want = K::kReplace;
    if (p.changes[i].kind == Change::Kind::kDelete) want = K::kDelete;
    if (p.changes[i].kind == Change::Kind::kAdd) want = K::kCreate;
    EXPECT_EQ(p.ops[i].kind, want);
    if (i > 0) {
      EXPECT_LE(p.ops[i - 1].route.key(), p.ops[i].route.key());
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, PlanTest, ::testing::ValuesIn(cases()),
                         [](const auto& param) { return testing::testName(param.param.name); });

TEST(Plan, DeleteCarriesTheObservedRoute) {
  // The delete names protocol and gateway so the kernel only removes routelet's route.
  Route stale = withOif(makeRoute("10.244.3.0/24", "192.168.1.13"), 5);
  Plan p = planRoutes({}, {stale}, {});
  ASSERT_EQ(p.ops.size(), 1u);
  EXPECT_EQ(p.ops[0].route, stale);
  ASSERT_TRUE(p.changes[0].before.has_value());
  EXPECT_EQ(*p.changes[0].before, stale);
}

TEST(Plan, UpdateRecordsWhatItReplaces) {
  Route old = makeRoute("10.244.2.0/24", "192.168.1.99");
  Plan p = planRoutes({kTo2}, {old}, {});
  ASSERT_EQ(p.ops.size(), 1u);
  EXPECT_EQ(p.ops[0].route, kTo2);
  EXPECT_EQ(p.changes[0].kind, Change::Kind::kUpdate);
  EXPECT_EQ(*p.changes[0].before, old);
}

TEST(PlanPeerChange, NewGatewayReplacesNewKeyCreatesLostKeyDeletes) {
  using Kind = netlink::RouteOp::Kind;
  Route to2v6 = makeRoute("fd00:10:244:2::/64", "fd00:1::12", 201, 1024);
  Route moved = makeRoute("10.244.2.0/24", "192.168.1.99");
  Route renumbered = makeRoute("10.244.20.0/24", "192.168.1.12");

  Plan same = planPeerChange({kTo2, to2v6}, {kTo2, to2v6});
  EXPECT_TRUE(same.empty());
  EXPECT_EQ(same.unchanged, 2u);

  // The node IP changed: the key stays, and the route there was routelet's at the last
  // pass, so it is replaced in place (no moment without a route).
  Plan ip = planPeerChange({kTo2, to2v6}, {moved, to2v6});
  ASSERT_EQ(ip.ops.size(), 1u);
  EXPECT_EQ(ip.ops[0].kind, Kind::kReplace);
  EXPECT_EQ(ip.ops[0].route, moved);
  EXPECT_EQ(ip.changes[0].kind, Change::Kind::kUpdate);
  EXPECT_EQ(*ip.changes[0].before, kTo2);

  // The podCIDR changed: the new key is created (never overwriting what holds it), the
  // old one deleted with routelet's protocol and gateway; in key order.
  Plan cidr = planPeerChange({kTo2}, {renumbered});
  ASSERT_EQ(cidr.ops.size(), 2u);
  EXPECT_EQ(cidr.ops[0].kind, Kind::kDelete);
  EXPECT_EQ(cidr.ops[0].route, kTo2);
  EXPECT_EQ(cidr.ops[1].kind, Kind::kCreate);
  EXPECT_EQ(cidr.ops[1].route, renumbered);
  EXPECT_EQ(cidr.adds + cidr.deletes, 2u);

  Plan joined = planPeerChange({}, {kTo2});
  ASSERT_EQ(joined.ops.size(), 1u);
  EXPECT_EQ(joined.ops[0].kind, Kind::kCreate);
  Plan left = planPeerChange({kTo2, to2v6}, {});
  ASSERT_EQ(left.ops.size(), 2u);
  EXPECT_EQ(left.ops[0].kind, Kind::kDelete);
  EXPECT_EQ(left.ops[1].kind, Kind::kDelete);
  EXPECT_EQ(left.deletes, 2u);
}

TEST(Plan, SameRouteComparesWhatRouteletSets) {
  EXPECT_TRUE(sameRoute(kTo2, kTo2));
  EXPECT_TRUE(sameRoute(kTo2, withOif(kTo2, 9)));
  EXPECT_FALSE(sameRoute(withOif(kTo2, 8), withOif(kTo2, 9)));
  EXPECT_FALSE(sameRoute(kTo2, makeRoute("10.244.2.0/24", "192.168.1.13")));
  EXPECT_FALSE(sameRoute(kTo2, makeRoute("10.244.2.0/24", "192.168.1.12", 4)));
  EXPECT_FALSE(sameRoute(kTo2, makeRoute("10.244.2.0/24", "")));
}

}  // namespace
}  // namespace routelet::routes
