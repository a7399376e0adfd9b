#include "controller/model/node_cache.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "tests/unit/controller/routes/builders.h"

namespace routelet::model {
namespace {

using routes::testing::makeNode;

TEST(NodeCache, UpsertAddsAndReplaces) {
  NodeCache cache;
  EXPECT_TRUE(cache.upsert(makeNode("node-2", {"10.244.2.0/24"}, {"192.168.1.12"})));
  ASSERT_NE(cache.get("node-2"), nullptr);
  EXPECT_EQ(cache.size(), 1u);

  EXPECT_TRUE(cache.upsert(makeNode("node-2", {"10.244.2.0/24"}, {"192.168.1.22"})));
  EXPECT_EQ(cache.get("node-2")->internalIPs[0].str(), "192.168.1.22");
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.get("node-3"), nullptr);
}

TEST(NodeCache, UpsertReportsOnlyRoutingChanges) {
  NodeCache cache;
  auto n = makeNode("node-2", {"10.244.2.0/24"}, {"192.168.1.12"});
  ASSERT_TRUE(cache.upsert(n));

  // A kubelet heartbeat bumps resourceVersion and maybe annotations: no reconcile needed.
  n.resourceVersion = "42";
  n.annotations["routelet.io/state"] = "ready";
  n.networkUnavailable = "False";
  EXPECT_FALSE(cache.upsert(n));
  EXPECT_EQ(cache.get("node-2")->resourceVersion, "42");  // still stored

  auto deleting = n;
  deleting.deleting = true;
  EXPECT_TRUE(cache.upsert(deleting));
  auto external = n;
  external.externalIPs.push_back(routes::testing::addr("203.0.113.2"));
  EXPECT_TRUE(cache.upsert(external));
  auto cidr = external;
  cidr.podCIDRs.push_back(routes::testing::prefix("fd00:10:244:2::/64"));
  EXPECT_TRUE(cache.upsert(cidr));
  auto problem = cidr;
  problem.problems.push_back("status.addresses[2] \"x\": invalid IP");
  EXPECT_TRUE(cache.upsert(problem));
}

TEST(NodeCache, Remove) {
  NodeCache cache;
  (void)cache.upsert(makeNode("node-2", {}, {}));
  EXPECT_TRUE(cache.remove("node-2"));
  EXPECT_FALSE(cache.remove("node-2"));
  EXPECT_EQ(cache.size(), 0u);
}

TEST(NodeCache, ReplaceAllReturnsVanishedAndMarksSynced) {
  NodeCache cache;
  EXPECT_FALSE(cache.synced());
  (void)cache.upsert(makeNode("node-3", {}, {}));
  (void)cache.upsert(makeNode("node-2", {}, {}));
  (void)cache.upsert(makeNode("node-4", {}, {}));

  auto vanished =
      cache.replaceAll({makeNode("node-4", {"10.244.4.0/24"}, {}), makeNode("node-5", {}, {})});
  EXPECT_EQ(vanished, (std::vector<std::string>{"node-2", "node-3"}));
  EXPECT_TRUE(cache.synced());
  EXPECT_EQ(cache.size(), 2u);
  ASSERT_NE(cache.get("node-4"), nullptr);
  EXPECT_EQ(cache.get("node-4")->podCIDRs.size(), 1u);  // replaced, not merged
  EXPECT_NE(cache.get("node-5"), nullptr);

  // Deletes after sync keep it synced: the watch continues from the LIST.
  EXPECT_TRUE(cache.remove("node-5"));
  EXPECT_TRUE(cache.synced());
}

TEST(NodeCache, NodeIPIndexFollowsEveryChange) {
  NodeCache cache;
  auto within = [&](const char* p) {
    auto found = cache.nodeIPWithin(routes::testing::prefix(p));
    return found ? found->first + " " + found->second.str() : std::string("none");
  };
  (void)cache.upsert(makeNode("node-2", {"10.244.2.0/24"}, {"192.168.1.12"}));
  EXPECT_EQ(within("192.168.1.0/24"), "node-2 192.168.1.12");
  EXPECT_EQ(within("192.168.1.12/32"), "node-2 192.168.1.12");
  EXPECT_EQ(within("192.168.1.13/32"), "none");
  EXPECT_EQ(within("192.168.0.0/24"), "none");
  // An address change alone (same podCIDRs) moves the index too.
  (void)cache.upsert(makeNode("node-2", {"10.244.2.0/24"}, {"192.168.2.12"}));
  EXPECT_EQ(within("192.168.1.0/24"), "none");
  EXPECT_EQ(within("192.168.2.0/24"), "node-2 192.168.2.12");
  (void)cache.remove("node-2");
  EXPECT_EQ(within("0.0.0.0/0"), "none");
  (void)cache.replaceAll({makeNode("node-3", {"10.244.3.0/24"}, {"fd00:1::13"})});
  EXPECT_EQ(within("fd00:1::/64"), "node-3 fd00:1::13");
  EXPECT_EQ(within("0.0.0.0/0"), "none");
}

TEST(NodeCache, IteratesInNameOrder) {
  NodeCache cache;
  for (const char* name : {"b", "c", "a"}) (void)cache.upsert(makeNode(name, {}, {}));
  std::string order;
  for (const auto& [name, node] : cache.nodes()) order += name;
  EXPECT_EQ(order, "abc");
}

}  // namespace
}  // namespace routelet::model

namespace routelet::model {
namespace {

using routes::testing::makeNode;

// The podCIDR index answers as a walk over every Node would, through upserts that move
// podCIDRs, removals and a relist.
TEST(NodeCache, PodCIDRIndexAgreesWithAWalk) {
  NodeCache cache;
  auto walkOverlap = [&](const ip::Prefix& p, const std::string& a, const std::string& b) {
    for (const auto& [name, node] : cache.nodes()) {
      if (name == a || name == b) continue;
      for (const auto& c : node.podCIDRs)
        if (c.overlaps(p)) return true;
    }
    return false;
  };
  auto walkExact = [&](const ip::Prefix& p) {
    std::vector<std::string> out;
    for (const auto& [name, node] : cache.nodes())
      for (const auto& c : node.podCIDRs)
        if (c.network() == p.network()) out.push_back(name);
    return out;
  };
  std::vector<std::string> probes = {"10.244.1.0/24", "10.244.1.128/25", "10.244.0.0/16",
                                     "10.0.0.0/8",    "10.244.2.0/24",   "10.244.3.7/24",
                                     "0.0.0.0/0",     "fd00:1::/64",     "fd00::/16",
                                     "fd00:1::/96",   "192.168.0.0/16",  "10.244.9.0/24"};
  auto check = [&](const std::string& when) {
    for (const auto& text : probes) {
      ip::Prefix p = *ip::Prefix::parseInterface(text);
      for (const auto& [a, b] : {std::pair<std::string, std::string>{"", ""},
                                 {"n1", "n2"},
                                 {"n3", "self"},
                                 {"n4", ""}}) {
        EXPECT_EQ(cache.podCIDROverlap(p, a, b) != nullptr, walkOverlap(p, a, b))
            << when << ": " << text << " except " << a << "," << b;
        if (const std::string* who = cache.podCIDROverlap(p, a, b)) {
          EXPECT_NE(*who, a);
          EXPECT_NE(*who, b);
        }
      }
      EXPECT_EQ(cache.withPodCIDR(p), walkExact(p)) << when << ": " << text;
    }
  };
  (void)cache.upsert(makeNode("n1", {"10.244.1.0/24", "fd00:1::/64"}, {"192.168.1.1"}));
  (void)cache.upsert(makeNode("n2", {"10.244.1.0/25"}, {"192.168.1.2"}));
  (void)cache.upsert(makeNode("n3", {"10.244.0.0/16"}, {"192.168.1.3"}));
  (void)cache.upsert(makeNode("n4", {"10.244.3.0/24"}, {"192.168.1.4"}));
  check("after upserts");
  (void)cache.upsert(makeNode("n3", {"10.244.9.0/24"}, {"192.168.1.3"}));  // moved
  (void)cache.upsert(makeNode("n2", {}, {"192.168.1.2"}));                 // lost it
  check("after moves");
  (void)cache.remove("n1");
  check("after a removal");
  (void)cache.replaceAll({makeNode("n5", {"10.244.1.0/24"}, {"192.168.1.5"}),
                          makeNode("n6", {"10.244.1.0/24"}, {"192.168.1.6"})});
  check("after a relist");
  EXPECT_EQ(cache.withPodCIDR(*ip::Prefix::parse("10.244.1.0/24")),
            (std::vector<std::string>{"n5", "n6"}));
}

}  // namespace
}  // namespace routelet::model
