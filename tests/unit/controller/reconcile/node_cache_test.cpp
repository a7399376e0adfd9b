#include "controller/reconcile/node_cache.h"

#include <gtest/gtest.h>

#include "tests/unit/controller/reconcile/builders.h"

namespace routelet::reconcile {
namespace {

using testing::makeNode;

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
  external.externalIPs.push_back(testing::addr("203.0.113.2"));
  EXPECT_TRUE(cache.upsert(external));
  auto cidr = external;
  cidr.podCIDRs.push_back(testing::prefix("fd00:10:244:2::/64"));
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

TEST(NodeCache, IteratesInNameOrder) {
  NodeCache cache;
  for (const char* name : {"b", "c", "a"}) (void)cache.upsert(makeNode(name, {}, {}));
  std::string order;
  for (const auto& [name, node] : cache.nodes()) order += name;
  EXPECT_EQ(order, "abc");
}

}  // namespace
}  // namespace routelet::reconcile
