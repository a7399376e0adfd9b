// The cluster's compact view: what it keeps of a Pod, what it shares, and what a change
// reports.
#include "controller/policy/cluster.h"

#include <gtest/gtest.h>

namespace routelet::policy {
namespace {

model::PodObject pod(const std::string& name, const std::string& node, const std::string& ip,
                     model::Labels labels = {{"app", "web"}}) {
  model::PodObject p;
  p.ns = "x";
  p.name = name;
  p.nodeName = node;
  if (!ip.empty()) p.ips.push_back(*ip::Address::parse(ip));
  p.labels = std::move(labels);
  return p;
}

TEST(ClusterTest, KeepsOnlyPodsWithAnAddressOffTheHostNetworkAndNotFinished) {
  Cluster c("n1");
  auto host = pod("host", "n1", "192.168.1.11");
  host.hostNetwork = true;
  auto done = pod("done", "n1", "10.244.1.9");
  done.finished = true;
  c.replacePods({pod("a", "n1", "10.244.1.2"), pod("pending", "n1", ""), host, done,
                 pod("far", "n2", "10.244.2.2")});
  EXPECT_EQ(c.podCount(), 2u);
  ASSERT_TRUE(c.pods().at("x").contains("a"));
  EXPECT_TRUE(c.pods().at("x").at("a").local);
  EXPECT_FALSE(c.pods().at("x").at("far").local);
  // A kept pod that finishes is dropped.
  EXPECT_FALSE(c.upsertPod(done)) << "never kept: nothing changes";
  auto a = pod("a", "n1", "10.244.1.2");
  a.finished = true;
  EXPECT_TRUE(c.upsertPod(a));
  EXPECT_EQ(c.podCount(), 1u);
}

TEST(ClusterTest, PodsWithTheSameLabelsShareThemAndTheLastOneFreesThem) {
  Cluster c("n1");
  c.replacePods({pod("a", "n1", "10.244.1.2"), pod("b", "n1", "10.244.1.3"),
                 pod("c", "n1", "10.244.1.4", {{"app", "db"}})});
  EXPECT_EQ(c.labelSets(), 2u);
  EXPECT_EQ(c.pods().at("x").at("a").labels.get(), c.pods().at("x").at("b").labels.get());
  EXPECT_TRUE(c.removePod("x", "c"));
  EXPECT_EQ(c.labelSets(), 1u);
  EXPECT_TRUE(c.upsertPod(pod("a", "n1", "10.244.1.2", {{"app", "api"}})));
  EXPECT_TRUE(c.removePod("x", "b"));
  EXPECT_EQ(c.labelSets(), 1u) << "only {app: api} is held";
}

TEST(ClusterTest, AnUpdateThatChangesNothingEnforcementReadsSaysSo) {
  Cluster c("n1");
  c.replacePods({pod("a", "n1", "10.244.1.2")});
  auto same = pod("a", "n1", "10.244.1.2");
  same.resourceVersion = "99";
  EXPECT_FALSE(c.upsertPod(same)) << "a status heartbeat";
  EXPECT_TRUE(c.upsertPod(pod("a", "n1", "10.244.1.3")));
  EXPECT_FALSE(c.removePod("x", "nobody"));
  model::NetworkPolicyObject p;
  p.ns = "x";
  p.name = "p";
  p.resourceVersion = "1";
  EXPECT_TRUE(c.upsertPolicy(p));
  p.resourceVersion = "2";
  EXPECT_FALSE(c.upsertPolicy(p));
  p.ingress = true;
  EXPECT_TRUE(c.upsertPolicy(p));
}

TEST(ClusterTest, AListArrivesOneAtATimeBesideThePodsInUse) {
  Cluster c("n1");
  EXPECT_FALSE(c.synced());
  c.replacePods({pod("old", "n1", "10.244.1.2")});
  c.beginPods();
  c.stagePod(pod("new", "n1", "10.244.1.3"));
  EXPECT_TRUE(c.pods().at("x").contains("old")) << "still in use while the list arrives";
  c.beginPods();  // the list failed and starts over
  c.stagePod(pod("new2", "n1", "10.244.1.4"));
  c.commitPods();
  EXPECT_EQ(c.podCount(), 1u);
  EXPECT_TRUE(c.pods().at("x").contains("new2"));
  EXPECT_EQ(c.labelSets(), 1u);
  c.replaceNamespaces({});
  c.replacePolicies({});
  EXPECT_TRUE(c.synced());
}

}  // namespace
}  // namespace routelet::policy
