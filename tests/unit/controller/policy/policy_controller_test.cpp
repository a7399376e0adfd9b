// The policy controller against a fake table edge: when it writes, whole or as a
// difference, how it heals, what it reports, and that off means off.
#include "controller/policy/policy_controller.h"

#include <gtest/gtest.h>

#include "common/nft/fake_table_edge.h"
#include "controller/policy/ruleset.h"

namespace routelet::policy {
namespace {

using kube::WatchEventType;

model::PodObject pod(const std::string& name, const std::string& ip, model::Labels labels) {
  model::PodObject p;
  p.ns = "x";
  p.name = name;
  p.nodeName = "n1";
  p.ips.push_back(*ip::Address::parse(ip));
  p.labels = std::move(labels);
  return p;
}

model::NetworkPolicyObject denyAll() {
  model::NetworkPolicyObject p;
  p.ns = "x";
  p.name = "deny";
  p.podSelector = model::LabelSelector{};
  p.ingress = true;
  return p;
}

// Every pod of x, isolated, reached from pods labelled app=b on any port.
model::NetworkPolicyObject fromAppB() {
  auto p = denyAll();
  p.name = "from-b";
  model::PolicyRule rule;
  rule.peers.push_back({model::LabelSelector{{{"app", model::LabelRequirement::Op::kIn, {"b"}}}},
                        std::nullopt,
                        std::nullopt,
                        {}});
  rule.anyPort = true;
  p.ingressRules = {rule};
  return p;
}

netlink::Event commit(uint32_t pid, uint32_t portid = 0) {
  netlink::Event e{netlink::Event::Kind::kNftCommit, 0, "", std::nullopt, {}};
  e.nft.pid = pid;
  e.nft.portid = portid;
  e.nft.tables = {{1, "routelet_policy"}};
  return e;
}

class PolicyControllerTest : public ::testing::Test {
 protected:
  PolicyControllerTest() { options_.nodeName = "n1"; }
  PolicyController& controller() {
    if (!controller_) controller_ = std::make_unique<PolicyController>(options_, edge_, metrics_);
    return *controller_;
  }
  void list(std::vector<model::PodObject> pods, std::vector<model::NetworkPolicyObject> policies) {
    controller().podsListStart();
    for (const auto& p : pods) controller().podListed(p);
    controller().podsListed();
    controller().namespacesListed({{"x", "", {}}});
    controller().policiesListed(std::move(policies));
  }
  agent::Pass pass(bool whole) {
    agent::Pass p(nodes_);
    p.whole = whole;
    p.detail = whole;
    controller().sync(p);
    return p;
  }
  std::string scripts() {
    std::string all;
    for (const auto& s : edge_.scripts) all += s;
    return all;
  }

  config::Options options_;
  nft::FakeTableEdge edge_;
  agent::Metrics metrics_;
  model::NodeCache nodes_;
  std::unique_ptr<PolicyController> controller_;
};

TEST_F(PolicyControllerTest, WaitsForAllThreeListsAndIsNotReadyMeanwhile) {
  controller().podsListStart();
  controller().podsListed();
  controller().policiesListed({denyAll()});
  auto p = pass(true);
  ASSERT_EQ(p.notReady.size(), 1u);
  EXPECT_NE(p.notReady[0].find("waiting for the Pod, Namespace and NetworkPolicy lists"),
            std::string::npos);
  EXPECT_TRUE(edge_.scripts.empty()) << "nothing written from a partial view";
  EXPECT_EQ(controller().namespacesListed({}), agent::Wake::kWhole)
      << "the list readiness waited for: a whole pass decides readiness";
  EXPECT_TRUE(pass(true).notReady.empty());
  ASSERT_EQ(edge_.scripts.size(), 1u) << "the table's shape; no pod to isolate";
  EXPECT_NE(edge_.scripts[0].find("add table inet routelet_policy"), std::string::npos);
}

TEST_F(PolicyControllerTest, WritesWholeFirstThenOnlyTheDifference) {
  list({pod("a", "10.244.1.2", {{"app", "a"}}), pod("b", "10.244.1.3", {{"app", "b"}})},
       {denyAll()});
  pass(true);
  // Whole: the table replaced with its chains and maps in one transaction (a pod isolated
  // before never opens), then the elements.
  ASSERT_EQ(edge_.scripts.size(), 1u);
  EXPECT_NE(edge_.scripts[0].find("delete table inet routelet_policy"), std::string::npos);
  EXPECT_NE(edge_.scripts[0].find("10.244.1.2 : jump ii_"), std::string::npos);
  ASSERT_EQ(edge_.elementWrites.size(), 1u);
  EXPECT_EQ(edge_.elementWrites[0][0].set, "owner") << "teaches the monitor its own commits";

  // A new local pod: one verdict-map element.
  EXPECT_EQ(controller().podChanged(WatchEventType::kAdded, pod("c", "10.244.1.4", {})),
            agent::Wake::kSoon);
  pass(false);
  ASSERT_EQ(edge_.scripts.size(), 2u);
  EXPECT_EQ(edge_.scripts[1].find("table inet routelet_policy\n"), std::string::npos);
  EXPECT_NE(edge_.scripts[1].find("add element inet routelet_policy ingress4 { 10.244.1.4 : jump"),
            std::string::npos)
      << edge_.scripts[1];
  // A status heartbeat changes nothing: no pass, no write.
  auto same = pod("c", "10.244.1.4", {});
  same.resourceVersion = "2";
  EXPECT_EQ(controller().podChanged(WatchEventType::kModified, same), agent::Wake::kNo);
  pass(true);
  EXPECT_EQ(edge_.scripts.size(), 2u);
}

// At 150 000 pods most events are of pods no policy of this node looks at: they cost no
// computation of the table.
TEST_F(PolicyControllerTest, AnotherNodesPodThatNoSelectionTakesChangesNothing) {
  auto allowB = fromAppB();
  list({pod("a", "10.244.1.2", {{"app", "a"}})}, {allowB});
  pass(true);
  auto remote = [](const std::string& name, const std::string& ip, const std::string& app) {
    auto p = pod(name, ip, {{"app", app}});
    p.nodeName = "n2";
    return p;
  };
  EXPECT_EQ(controller().podChanged(WatchEventType::kAdded, remote("c", "10.244.2.2", "c")),
            agent::Wake::kNo);
  EXPECT_NE(metrics_.render().find("routelet_policy_pod_events_skipped_total 1"),
            std::string::npos);
  EXPECT_EQ(controller().podChanged(WatchEventType::kAdded, remote("b", "10.244.2.3", "b")),
            agent::Wake::kSoon)
      << "a peer of the policy";
  pass(false);
  EXPECT_EQ(controller().podChanged(WatchEventType::kModified, remote("b", "10.244.2.3", "c")),
            agent::Wake::kSoon)
      << "it leaves the peer set";
  pass(false);
  EXPECT_EQ(controller().podChanged(WatchEventType::kDeleted, remote("b", "10.244.2.3", "c")),
            agent::Wake::kNo);
  EXPECT_EQ(controller().podChanged(WatchEventType::kAdded, pod("d", "10.244.1.9", {})),
            agent::Wake::kSoon)
      << "a pod of this node always counts";
}

// The Kubernetes tier's check 12: another node's new pod at the address of a terminating
// pod takes the address from it, although no selection takes the new pod's labels.
TEST_F(PolicyControllerTest, AnotherNodesPodAtATerminatingPodsAddressCounts) {
  auto allowB = fromAppB();
  auto remote = [](const std::string& name, const std::string& app, bool deleting) {
    auto p = pod(name, "10.244.2.3", {{"app", app}});
    p.nodeName = "n2";
    p.deleting = deleting;
    return p;
  };
  list({pod("a", "10.244.1.2", {{"app", "a"}}), remote("b", "b", false)}, {allowB});
  pass(true);
  EXPECT_EQ(controller().podChanged(WatchEventType::kModified, remote("b", "b", true)),
            agent::Wake::kSoon);
  pass(false);
  EXPECT_EQ(controller().podChanged(WatchEventType::kAdded, remote("b2", "c", false)),
            agent::Wake::kSoon)
      << "its address is a terminating peer's";
  pass(false);
  ASSERT_FALSE(edge_.elementWrites.empty());
  const auto& last = edge_.elementWrites.back();
  ASSERT_EQ(last.size(), 1u);
  EXPECT_FALSE(last[0].add);
  EXPECT_EQ(last[0].keys, std::vector<ip::Address>{*ip::Address::parse("10.244.2.3")});
  EXPECT_EQ(controller().podChanged(WatchEventType::kDeleted, remote("b2", "c", false)),
            agent::Wake::kSoon)
      << "the address goes back to the terminating pod";
}

TEST_F(PolicyControllerTest, AnotherProcessesCommitOnTheTableRewritesItWhole) {
  list({pod("a", "10.244.1.2", {})}, {denyAll()});
  pass(true);
  EXPECT_EQ(controller().kernelEvent(commit(500, nft::FakeTableEdge::kPortId), nodes_),
            agent::Wake::kNo)
      << "its own element socket: pid 500 is the agent";
  EXPECT_EQ(controller().kernelEvent(commit(500), nodes_), agent::Wake::kNo);
  EXPECT_EQ(controller().kernelEvent(commit(4242), nodes_), agent::Wake::kSoon);
  size_t before = edge_.scripts.size();
  pass(false);
  ASSERT_GT(edge_.scripts.size(), before);
  EXPECT_NE(edge_.scripts[before].find("delete table inet routelet_policy"), std::string::npos);
  EXPECT_NE(metrics_.render().find("routelet_policy_heals_total 1"), std::string::npos);
}

TEST_F(PolicyControllerTest, AFailedWriteIsReportedAndTheNextOneIsWhole) {
  list({pod("a", "10.244.1.2", {})}, {denyAll()});
  edge_.nftFailures = 1;
  auto p = pass(true);
  ASSERT_TRUE(p.report.networkPolicy.has_value());
  EXPECT_NE(p.report.networkPolicy->error.find("Could not process rule"), std::string::npos);
  EXPECT_EQ(p.degraded, std::vector<std::string>{"network policy not programmed"});
  auto again = pass(true);
  EXPECT_TRUE(again.degraded.empty());
  EXPECT_NE(edge_.scripts.back().find("jump ii_"), std::string::npos);
  EXPECT_NE(edge_.scripts.back().find("delete table"), std::string::npos);
}

TEST_F(PolicyControllerTest, ReportsEachLocalPodWithThePoliciesIsolatingIt) {
  list({pod("a", "10.244.1.2", {})}, {denyAll()});
  auto p = pass(true);
  ASSERT_EQ(p.report.policyPods.size(), 1u);
  EXPECT_EQ(p.report.policyPods[0].name, "a");
  EXPECT_EQ(p.report.policyPods[0].ingress, std::vector<std::string>{"x/deny"});
  EXPECT_TRUE(p.report.policyPods[0].egress.empty());
  EXPECT_EQ(p.report.networkPolicy->detail, "1 policies, 1 of 1 local pods isolated");
  EXPECT_EQ(p.report.networkPolicy->table, "inet routelet_policy");
}

TEST_F(PolicyControllerTest, OffRemovesTheTableOnceAndIgnoresEveryInput) {
  options_.networkPolicy = false;
  EXPECT_EQ(controller().podChanged(WatchEventType::kAdded, pod("a", "10.244.1.2", {})),
            agent::Wake::kNo);
  EXPECT_EQ(controller().kernelEvent(commit(4242), nodes_), agent::Wake::kNo);
  auto p = pass(true);
  pass(true);
  EXPECT_EQ(edge_.scripts, std::vector<std::string>{removalScript()});
  EXPECT_TRUE(p.notReady.empty());
  ASSERT_TRUE(p.report.networkPolicy.has_value());
  EXPECT_FALSE(p.report.networkPolicy->enabled);
}

}  // namespace
}  // namespace routelet::policy
