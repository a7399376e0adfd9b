#include "controller/routes/fake_route_table.h"

#include <gtest/gtest.h>

#include <cerrno>

#include "tests/unit/controller/routes/builders.h"

namespace routelet::routes {
namespace {

using netlink::RouteOp;
using testing::makeRoute;
using testing::prefix;

TEST(FakeRouteTable, ReplaceOverwritesWhateverHoldsTheKey) {
  FakeRouteTable t;
  t.put(makeRoute("10.244.2.0/24", "192.168.1.1", 4));
  auto statuses = t.apply({{RouteOp::Kind::kReplace, makeRoute("10.244.2.0/24", "192.168.1.12")}});
  ASSERT_TRUE(statuses.ok());
  ASSERT_EQ(statuses->size(), 1u);
  EXPECT_TRUE((*statuses)[0].ok());
  ASSERT_EQ(t.routes().size(), 1u);
  EXPECT_EQ(t.routes()[0].protocol, 201);
  EXPECT_EQ(t.routes()[0].gateway->str(), "192.168.1.12");
}

TEST(FakeRouteTable, DeleteMatchesLikeTheKernel) {
  FakeRouteTable t;
  t.put(makeRoute("10.244.2.0/24", "192.168.1.1", 4));
  auto statuses = t.apply({
      {RouteOp::Kind::kDelete, makeRoute("10.244.3.0/24", "192.168.1.13")},    // missing
      {RouteOp::Kind::kDelete, makeRoute("10.244.2.0/24", "192.168.1.1")},     // other protocol
      {RouteOp::Kind::kDelete, makeRoute("10.244.2.0/24", "192.168.1.2", 4)},  // other gateway
      {RouteOp::Kind::kDelete, makeRoute("10.244.2.0/24", "192.168.1.1", 4)},  // match
  });
  ASSERT_TRUE(statuses.ok());
  ASSERT_EQ(statuses->size(), 4u);
  for (int i = 0; i < 3; ++i) {
    ASSERT_FALSE((*statuses)[i].ok()) << i;
    EXPECT_EQ((*statuses)[i].error().code, ESRCH) << i;
  }
  EXPECT_TRUE((*statuses)[3].ok());
  EXPECT_TRUE(t.routes().empty());
}

TEST(FakeRouteTable, DumpFiltersFamilyAndTable) {
  FakeRouteTable t;
  t.put(makeRoute("10.244.2.0/24", "192.168.1.12"));
  t.put(makeRoute("fd00:10:244:2::/64", "fd00:1::12"));
  t.put(makeRoute("10.244.3.0/24", "192.168.1.13", 201, 0, 100));
  EXPECT_EQ(t.dump(std::nullopt, 254)->size(), 2u);
  EXPECT_EQ(t.dump(ip::Family::kV6, 254)->size(), 1u);
  EXPECT_EQ(t.dump(ip::Family::kV4, 100)->size(), 1u);
  EXPECT_EQ(t.dumpCalls(), 3u);
}

TEST(FakeRouteTable, InjectedFailuresCountDown) {
  FakeRouteTable t;
  t.failOps(prefix("10.244.2.0/24"), Error{EBUSY, "busy"}, 2);
  std::vector<RouteOp> ops{{RouteOp::Kind::kReplace, makeRoute("10.244.2.0/24", "192.168.1.12")}};
  EXPECT_EQ((*t.apply(ops))[0].error().code, EBUSY);
  EXPECT_EQ((*t.apply(ops))[0].error().code, EBUSY);
  EXPECT_TRUE((*t.apply(ops))[0].ok());
  EXPECT_EQ(t.opsApplied(), 3u);

  t.failOps(prefix("10.244.2.0/24"), Error{EBUSY, "busy"});
  for (int i = 0; i < 3; ++i) EXPECT_FALSE((*t.apply(ops))[0].ok());
  t.clearFailures();
  EXPECT_TRUE((*t.apply(ops))[0].ok());
}

TEST(FakeRouteTable, WholeCallFailures) {
  FakeRouteTable t;
  t.failDump(Error{EPERM, "no"});
  EXPECT_FALSE(t.dump(std::nullopt, 254).ok());
  t.failDump(std::nullopt);
  EXPECT_TRUE(t.dump(std::nullopt, 254).ok());
  t.failApply(Error{ENOBUFS, "no"});
  EXPECT_FALSE(t.apply({}).ok());
}

}  // namespace
}  // namespace routelet::routes
