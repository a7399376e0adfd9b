#include "controller/status/node_status.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace routelet::status {
namespace {

PublishedState readyState() {
  PublishedState s;
  s.nodeIPs = {*ip::Address::parse("192.168.1.11")};
  s.podCIDRs = {*ip::Prefix::parse("10.244.1.0/24")};
  s.bridge = "cni0";
  s.mtu = 1500;
  s.version = "0.1.0";
  s.state = "ready";
  s.networkReady = true;
  return s;
}

TEST(NodeStatusTest, FirstPublishSetsAnnotationsAndCondition) {
  model::Node node;
  auto patch = statusPatch(node, readyState(), "2026-11-27T08:00:00Z");
  ASSERT_TRUE(patch.has_value());
  auto j = nlohmann::json::parse(*patch);
  EXPECT_EQ(j["metadata"]["annotations"]["routelet.io/pod-cidrs"], "10.244.1.0/24");
  EXPECT_EQ(j["metadata"]["annotations"]["routelet.io/node-ips"], "192.168.1.11");
  EXPECT_EQ(j["metadata"]["annotations"]["routelet.io/state"], "ready");
  EXPECT_EQ(j["metadata"]["annotations"]["routelet.io/mode"], "host-gw");
  auto cond = j["status"]["conditions"][0];
  EXPECT_EQ(cond["type"], "NetworkUnavailable");
  EXPECT_EQ(cond["status"], "False");
  EXPECT_EQ(cond["reason"], "RouteletReady");
}

TEST(NodeStatusTest, NoPatchWhenNothingChanged) {
  model::Node node;
  node.annotations = annotationsFor(readyState());
  node.networkUnavailable = "False";
  EXPECT_FALSE(statusPatch(node, readyState(), "t").has_value());
}

TEST(NodeStatusTest, PatchCarriesOnlyWhatChanged) {
  model::Node node;
  node.annotations = annotationsFor(readyState());
  node.networkUnavailable = "False";
  PublishedState s = readyState();
  s.state = "degraded: 1 peer not on-link";
  auto j = nlohmann::json::parse(*statusPatch(node, s, "t"));
  EXPECT_EQ(j["metadata"]["annotations"].size(), 1u);
  EXPECT_EQ(j["metadata"]["annotations"]["routelet.io/state"], "degraded: 1 peer not on-link");
  EXPECT_FALSE(j.contains("status"));
}

TEST(NodeStatusTest, NotReadyReportsNetworkUnavailable) {
  model::Node node;
  node.networkUnavailable = "False";
  PublishedState s = readyState();
  s.networkReady = false;
  auto j = nlohmann::json::parse(*statusPatch(node, s, "t"));
  EXPECT_EQ(j["status"]["conditions"][0]["status"], "True");
}

}  // namespace
}  // namespace routelet::status
