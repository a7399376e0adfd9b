#include "controller/reconcile/desired.h"

#include <gtest/gtest.h>

#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "tests/unit/controller/reconcile/builders.h"

namespace routelet::reconcile {
namespace {

using ip::Family;
using testing::addr;
using testing::makeNode;
using testing::prefix;

struct WantRoute {
  std::string dst;
  std::string gateway;
};
struct WantSkip {
  std::string node;
  std::optional<Family> family;
  SkipReason reason;
};

struct Case {
  std::string name;
  std::vector<model::Node> nodes;
  std::vector<WantRoute> routes;
  std::vector<WantSkip> skips;
  SelfInfo self = testing::seedSelf();
};

model::Node withProblem(model::Node n, std::string problem) {
  n.problems.push_back(std::move(problem));
  return n;
}
model::Node deleting(model::Node n) {
  n.deleting = true;
  return n;
}
SelfInfo v4Only() {
  SelfInfo s = testing::seedSelf();
  s.podCIDRs = {prefix("10.244.1.0/24")};
  return s;
}

// gtest prints a failing parameter with this instead of its bytes.
void PrintTo(const Case& c, std::ostream* os) {
  *os << c.name;
}

std::vector<Case> cases() {
  return {
      {.name = "seed three nodes, v4 only",
       .nodes = {makeNode("node-1", {"10.244.1.0/24"}, {"192.168.1.11"}),
                 makeNode("node-2", {"10.244.2.0/24"}, {"192.168.1.12"}),
                 makeNode("node-3", {"10.244.3.0/24"}, {"192.168.1.13"})},
       .routes = {{"10.244.2.0/24", "192.168.1.12"}, {"10.244.3.0/24", "192.168.1.13"}},
       .skips = {},
       .self = v4Only()},
      {.name = "self excluded even when listed with a different IP",
       .nodes = {makeNode("node-1", {"10.244.9.0/24"}, {"192.168.1.99"})},
       .routes = {},
       .skips = {}},
      {.name = "dual-stack peer gets one route per family",
       .nodes = {makeNode("node-2", {"10.244.2.0/24", "fd00:10:244:2::/64"},
                          {"192.168.1.12", "fd00:1::12"})},
       .routes = {{"10.244.2.0/24", "192.168.1.12"}, {"fd00:10:244:2::/64", "fd00:1::12"}},
       .skips = {}},
      {.name = "peer without IPv6 podCIDR in a dual-stack node",
       .nodes = {makeNode("node-2", {"10.244.2.0/24"}, {"192.168.1.12", "fd00:1::12"})},
       .routes = {{"10.244.2.0/24", "192.168.1.12"}},
       .skips = {{"node-2", Family::kV6, SkipReason::kNoPodCIDR}}},
      {.name = "single-stack self ignores the peer's other family",
       .nodes = {makeNode("node-2", {"10.244.2.0/24", "fd00:10:244:2::/64"},
                          {"192.168.1.12", "fd00:1::12"})},
       .routes = {{"10.244.2.0/24", "192.168.1.12"}},
       .skips = {},
       .self = v4Only()},
      {.name = "no podCIDR at all yet",
       .nodes = {makeNode("node-2", {}, {"192.168.1.12"})},
       .routes = {},
       .skips = {{"node-2", Family::kV4, SkipReason::kNoPodCIDR}},
       .self = v4Only()},
      {.name = "no node IP of the family",
       .nodes = {makeNode("node-2", {"10.244.2.0/24", "fd00:10:244:2::/64"}, {"192.168.1.12"})},
       .routes = {{"10.244.2.0/24", "192.168.1.12"}},
       .skips = {{"node-2", Family::kV6, SkipReason::kNoNodeIP}}},
      {.name = "ExternalIP used when there is no InternalIP",
       .nodes = {makeNode("node-2", {"10.244.2.0/24"}, {}, {"192.168.1.12"})},
       .routes = {{"10.244.2.0/24", "192.168.1.12"}},
       .skips = {},
       .self = v4Only()},
      {.name = "InternalIP preferred over ExternalIP",
       .nodes = {makeNode("node-2", {"10.244.2.0/24"}, {"192.168.1.12"}, {"192.168.1.200"})},
       .routes = {{"10.244.2.0/24", "192.168.1.12"}},
       .skips = {},
       .self = v4Only()},
      {.name = "node IP off-link",
       .nodes = {makeNode("node-2", {"10.244.2.0/24"}, {"192.168.2.12"})},
       .routes = {},
       .skips = {{"node-2", Family::kV4, SkipReason::kNotOnLink}},
       .self = v4Only()},
      {.name = "deleting node gets no route in any family",
       .nodes = {deleting(makeNode("node-2", {"10.244.2.0/24"}, {"192.168.1.12"})),
                 makeNode("node-3", {"10.244.3.0/24"}, {"192.168.1.13"})},
       .routes = {{"10.244.3.0/24", "192.168.1.13"}},
       .skips = {{"node-2", std::nullopt, SkipReason::kDeleting}},
       .self = v4Only()},
      {.name = "podCIDR overlapping own",
       .nodes = {makeNode("node-2", {"10.244.0.0/16"}, {"192.168.1.12"}),
                 makeNode("node-3", {"10.244.1.128/25"}, {"192.168.1.13"})},
       .routes = {},
       .skips = {{"node-2", Family::kV4, SkipReason::kPodCIDROverlapsOwn},
                 {"node-3", Family::kV4, SkipReason::kPodCIDROverlapsOwn}},
       .self = v4Only()},
      {.name = "equal podCIDRs: first name wins",
       .nodes = {makeNode("node-3", {"10.244.2.0/24"}, {"192.168.1.13"}),
                 makeNode("node-2", {"10.244.2.0/24"}, {"192.168.1.12"})},
       .routes = {{"10.244.2.0/24", "192.168.1.12"}},
       .skips = {{"node-3", Family::kV4, SkipReason::kPodCIDRConflict}},
       .self = v4Only()},
      {.name = "nested podCIDRs: first name wins, disjoint later claims still accepted",
       .nodes = {makeNode("node-a", {"10.244.2.0/24"}, {"192.168.1.12"}),
                 makeNode("node-b", {"10.244.2.0/23"}, {"192.168.1.13"}),
                 makeNode("node-c", {"10.244.3.0/24"}, {"192.168.1.14"}),
                 makeNode("node-d", {"10.244.2.128/25"}, {"192.168.1.15"})},
       .routes = {{"10.244.2.0/24", "192.168.1.12"}, {"10.244.3.0/24", "192.168.1.14"}},
       .skips = {{"node-b", Family::kV4, SkipReason::kPodCIDRConflict},
                 {"node-d", Family::kV4, SkipReason::kPodCIDRConflict}},
       .self = v4Only()},
      {.name = "the claim counts even when the winner is off-link",
       .nodes = {makeNode("node-2", {"10.244.2.0/24"}, {"192.168.2.12"}),
                 makeNode("node-3", {"10.244.2.0/24"}, {"192.168.1.13"})},
       .routes = {},
       .skips = {{"node-2", Family::kV4, SkipReason::kNotOnLink},
                 {"node-3", Family::kV4, SkipReason::kPodCIDRConflict}},
       .self = v4Only()},
      {.name = "peer announcing this node's IP",
       .nodes = {makeNode("node-2", {"10.244.2.0/24"}, {"192.168.1.11"})},
       .routes = {},
       .skips = {{"node-2", Family::kV4, SkipReason::kNodeIPIsOwn}},
       .self = v4Only()},
      {.name = "unparsable podCIDR",
       .nodes = {withProblem(makeNode("node-2", {}, {"192.168.1.12"}),
                             "spec.podCIDRs[0] \"garbage\": invalid CIDR")},
       .routes = {},
       .skips = {{"node-2", Family::kV4, SkipReason::kUnparsable}},
       .self = v4Only()},
      {.name = "unparsable address",
       .nodes = {withProblem(makeNode("node-2", {"10.244.2.0/24"}, {}),
                             "status.addresses[0] \"192.168.1.999\": invalid IP address")},
       .routes = {},
       .skips = {{"node-2", Family::kV4, SkipReason::kUnparsable}},
       .self = v4Only()},
      {.name = "problems in one family, the other still routed",
       .nodes = {withProblem(makeNode("node-2", {"10.244.2.0/24"}, {"192.168.1.12", "fd00:1::12"}),
                             "spec.podCIDRs[1] \"fd00::zz/64\": invalid CIDR")},
       .routes = {{"10.244.2.0/24", "192.168.1.12"}},
       .skips = {{"node-2", Family::kV6, SkipReason::kUnparsable}}},
      {.name = "problems in unrelated fields do not hide the real reason",
       .nodes = {withProblem(makeNode("node-2", {}, {"192.168.1.12"}),
                             "metadata.annotations[routelet.io/mtu] \"x\": too long")},
       .routes = {},
       .skips = {{"node-2", Family::kV4, SkipReason::kNoPodCIDR}},
       .self = v4Only()},
      {.name = "host bits in a podCIDR are cleared",
       .nodes = {[] {
         auto n = makeNode("node-2", {}, {"192.168.1.12"});
         n.podCIDRs.push_back(ip::Prefix::parse("10.244.2.7/24", false).value());
         return n;
       }()},
       .routes = {{"10.244.2.0/24", "192.168.1.12"}},
       .skips = {},
       .self = v4Only()},
  };
}

class DesiredTest : public ::testing::TestWithParam<Case> {};

TEST_P(DesiredTest, Computes) {
  const Case& c = GetParam();
  NodeCache cache;
  for (const auto& n : c.nodes) (void)cache.upsert(n);
  Desired d = desiredRoutes(cache, c.self);

  ASSERT_EQ(d.routes.size(), c.routes.size());
  for (std::size_t i = 0; i < c.routes.size(); ++i) {
    const auto& r = d.routes[i];
    EXPECT_EQ(r.dst, prefix(c.routes[i].dst));
    ASSERT_TRUE(r.gateway.has_value());
    EXPECT_EQ(*r.gateway, addr(c.routes[i].gateway));
    EXPECT_EQ(r.protocol, c.self.protocol);
    EXPECT_EQ(r.table, 254u);
    EXPECT_EQ(r.scope, 0);
    EXPECT_EQ(r.type, 1);
    // IPv6 asks for the metric the kernel keeps for 0 (1024), so dumps match the plan.
    EXPECT_EQ(r.priority, r.dst.family() == ip::Family::kV6 ? 1024u : 0u);
    EXPECT_EQ(r.oif, 0);
    EXPECT_FALSE(r.onlink);
  }
  ASSERT_EQ(d.skipped.size(), c.skips.size());
  for (std::size_t i = 0; i < c.skips.size(); ++i) {
    EXPECT_EQ(d.skipped[i].node, c.skips[i].node) << i;
    EXPECT_EQ(d.skipped[i].family, c.skips[i].family) << i;
    EXPECT_EQ(d.skipped[i].reason, c.skips[i].reason)
        << i << ": " << skipReasonName(d.skipped[i].reason) << " " << d.skipped[i].detail;
    EXPECT_FALSE(d.skipped[i].detail.empty());
  }
}

// The targeted pass's computation for one peer gives exactly that peer's share of the whole
// one, or declines, precisely when another Node's podCIDR overlaps the peer's.
TEST_P(DesiredTest, PeerDesiredIsThePeersShareOfTheWhole) {
  const Case& c = GetParam();
  NodeCache cache;
  for (const auto& n : c.nodes) (void)cache.upsert(n);
  Desired whole = desiredRoutes(cache, c.self);
  for (const auto& [name, node] : cache.nodes()) {
    bool overlapped = false;
    for (const auto& [other, peer] : cache.nodes()) {
      if (other == name || other == c.self.name) continue;
      for (const auto& a : node.podCIDRs)
        for (const auto& b : peer.podCIDRs) overlapped = overlapped || a.overlaps(b);
    }
    auto mine = peerDesired(cache, c.self, name, &node);
    if (name == c.self.name || !overlapped) {
      ASSERT_TRUE(mine.has_value()) << name;
    } else {
      EXPECT_FALSE(mine.has_value()) << name;
      continue;
    }
    std::vector<netlink::Route> routes;
    for (const auto& r : whole.routes)
      for (const auto& cidr : node.podCIDRs)
        if (name != c.self.name && r.dst == cidr.network()) routes.push_back(r);
    std::vector<Skip> skips;
    for (const auto& sk : whole.skipped)
      if (sk.node == name) skips.push_back(sk);
    EXPECT_EQ(mine->routes, routes) << name;
    EXPECT_EQ(mine->skipped, skips) << name;
  }
  // A peer that is not (or no longer) there has nothing.
  auto none = peerDesired(cache, c.self, "not-a-node", nullptr);
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(none->routes.empty() && none->skipped.empty());
}

INSTANTIATE_TEST_SUITE_P(Cases, DesiredTest, ::testing::ValuesIn(cases()),
                         [](const auto& param) { return testing::testName(param.param.name); });

TEST(Desired, SkipDetailsNameFieldAndValue) {
  NodeCache cache;
  (void)cache.upsert(makeNode("node-2", {"10.244.2.0/24"}, {"192.168.2.12"}));
  (void)cache.upsert(makeNode("node-3", {"10.244.2.0/24"}, {"192.168.1.13"}));
  (void)cache.upsert(withProblem(makeNode("node-4", {}, {"192.168.1.14"}),
                                 "spec.podCIDRs[0] \"garbage\": invalid CIDR"));
  Desired d = desiredRoutes(cache, v4Only());
  ASSERT_EQ(d.skipped.size(), 3u);
  EXPECT_EQ(d.skipped[0].detail,
            "node IP 192.168.2.12 is not inside an on-link prefix of this node (192.168.1.0/24)");
  EXPECT_EQ(d.skipped[1].detail, "podCIDR 10.244.2.0/24 overlaps the podCIDR of node node-2");
  EXPECT_EQ(d.skipped[2].detail, "spec.podCIDRs[0] \"garbage\": invalid CIDR");
}

TEST(Desired, UsesProtocolAndTableOfSelf) {
  NodeCache cache;
  (void)cache.upsert(makeNode("node-2", {"10.244.2.0/24"}, {"192.168.1.12"}));
  SelfInfo self = v4Only();
  self.protocol = 99;
  self.table = 100;
  Desired d = desiredRoutes(cache, self);
  ASSERT_EQ(d.routes.size(), 1u);
  EXPECT_EQ(d.routes[0].protocol, 99);
  EXPECT_EQ(d.routes[0].table, 100u);
}

TEST(Desired, NoOwnPodCIDRMeansNoRoutes) {
  NodeCache cache;
  (void)cache.upsert(makeNode("node-2", {"10.244.2.0/24"}, {"192.168.1.12"}));
  SelfInfo self = testing::seedSelf();
  self.podCIDRs.clear();
  Desired d = desiredRoutes(cache, self);
  EXPECT_TRUE(d.routes.empty());
  EXPECT_TRUE(d.skipped.empty());
}

TEST(Desired, LargeClusterIsSortedAndComplete) {
  NodeCache cache = testing::largeCluster(5000);
  Desired d = desiredRoutes(cache, testing::largeSelf());
  ASSERT_EQ(d.routes.size(), 4999u);
  EXPECT_TRUE(d.skipped.empty());
  for (std::size_t i = 1; i < d.routes.size(); ++i)
    EXPECT_LT(d.routes[i - 1].key(), d.routes[i].key());
}

TEST(Desired, SkipReasonNamesAreDistinct) {
  std::set<std::string> names;
  for (auto r : {SkipReason::kDeleting, SkipReason::kNoPodCIDR, SkipReason::kNoNodeIP,
                 SkipReason::kUnparsable, SkipReason::kPodCIDROverlapsOwn,
                 SkipReason::kPodCIDRConflict, SkipReason::kNodeIPIsOwn, SkipReason::kNotOnLink})
    names.insert(skipReasonName(r));
  EXPECT_EQ(names.size(), 8u);
  EXPECT_EQ(names.count("unknown"), 0u);
}

}  // namespace
}  // namespace routelet::reconcile
