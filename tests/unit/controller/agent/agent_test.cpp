// The agent as main.cpp wires it: the loop hosting node setup, peer routes, masquerade and
// status publishing, each against the fake of its edge.
#include "controller/agent/agent.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "common/nft/fake_table_edge.h"
#include "controller/masquerade/masquerade_controller.h"
#include "controller/node/fake_node_edge.h"
#include "controller/node/node_controller.h"
#include "controller/policy/policy_controller.h"
#include "controller/publish/fake_publish_edge.h"
#include "controller/publish/publisher.h"
#include "controller/routes/fake_route_table.h"
#include "controller/routes/fake_tunnel_edge.h"
#include "controller/routes/routes_controller.h"
#include "tests/unit/controller/routes/builders.h"

namespace routelet::agent {
namespace {

using FakeMasqueradeEdge = nft::FakeTableEdge;
using publish::PatchResult;

constexpr const char* kIptablesSysctl = "net.bridge.bridge-nf-call-iptables";

model::Node node(const std::string& name, const std::string& ipText, const std::string& cidr) {
  model::Node n;
  n.name = name;
  n.resourceVersion = "1";
  if (!ipText.empty()) n.internalIPs.push_back(*ip::Address::parse(ipText));
  if (!cidr.empty()) n.podCIDRs.push_back(*ip::Prefix::parse(cidr));
  return n;
}

class AgentTest : public ::testing::Test {
 protected:
  AgentTest() {
    options_.nodeName = "node1";
    options_.cniConfDir = "/etc/cni/net.d";
    // Most tests are about direct routes; the VXLAN ones set auto or vxlan themselves.
    options_.mode = routes::Mode::kHostGw;
  }
  Agent& agent() {
    if (!agent_) {
      nodeSetup_ = std::make_unique<node::NodeController>(options_, host_);
      routes_ = std::make_unique<routes::RoutesController>(config::routesConfig(options_), table_,
                                                           tunnels_, metrics_);
      egress_ = std::make_unique<masquerade::MasqueradeController>(options_, nft_, metrics_);
      policies_ = std::make_unique<policy::PolicyController>(options_, policyNft_, metrics_);
      publisher_ = std::make_unique<publish::Publisher>(options_.nodeName, options_.runDir, api_);
      agent_ = std::make_unique<Agent>(
          LoopOptions{options_.nodeName, options_.resyncPeriod},
          std::vector<Controller*>{nodeSetup_.get(), routes_.get(), egress_.get(), policies_.get(),
                                   publisher_.get()},
          metrics_);
      // The policy watches' lists, all empty: as an agent in a cluster without pods.
      agent_->post([&] {
        policies_->podsListStart();
        policies_->namespacesListed({});
        policies_->policiesListed({});
        return policies_->podsListed();
      });
    }
    return *agent_;
  }
  publish::Publisher& publisher() {
    agent();
    return *publisher_;
  }
  std::vector<model::Node> threeNodes() {
    return {node("node1", "192.168.1.11", "10.244.1.0/24"),
            node("node2", "192.168.1.12", "10.244.2.0/24"),
            node("node3", "192.168.1.13", "10.244.3.0/24")};
  }
  std::string conflist() { return host_.files.file("/etc/cni/net.d/10-routelet.conflist"); }
  std::string statusFile() { return api_.files.file("/run/routelet/status.json"); }
  int writes() { return host_.files.writes() + api_.files.writes(); }  // conflist, status
  // Runs the agent's loop on a thread for d, then stops it.
  void runFor(std::chrono::milliseconds d, std::chrono::milliseconds tick) {
    std::atomic<bool> stop{false};
    std::thread loop([&] { agent().run(stop, tick); });
    std::this_thread::sleep_for(d);
    stop = true;
    agent().wake();
    loop.join();
  }

  config::Options options_;
  node::FakeNodeEdge host_;
  routes::FakeRouteTable table_;
  routes::FakeTunnelEdge tunnels_;
  FakeMasqueradeEdge nft_;
  nft::FakeTableEdge policyNft_;
  publish::FakePublishEdge api_;
  Metrics metrics_;
  std::unique_ptr<node::NodeController> nodeSetup_;
  std::unique_ptr<routes::RoutesController> routes_;
  std::unique_ptr<masquerade::MasqueradeController> egress_;
  std::unique_ptr<policy::PolicyController> policies_;
  std::unique_ptr<publish::Publisher> publisher_;
  std::unique_ptr<Agent> agent_;
};

TEST_F(AgentTest, ThreeNodesGiveTwoPeerRoutesBridgeConfigAndStatus) {
  agent().nodesListed(threeNodes());
  agent().pass();
  publisher().publishStatus();
  auto routes = table_.routes();
  ASSERT_EQ(routes.size(), 2u);
  EXPECT_EQ(routes[0].dst.str(), "10.244.2.0/24");
  EXPECT_EQ(routes[0].gateway->str(), "192.168.1.12");
  EXPECT_EQ(routes[0].protocol, 201);
  EXPECT_EQ(routes[1].gateway->str(), "192.168.1.13");
  EXPECT_EQ(host_.bridgeName, "cni0");
  EXPECT_EQ(host_.bridgeMtu, 1450u);  // from the node IP's interface
  ASSERT_EQ(host_.bridgeGateways.size(), 1u);
  EXPECT_EQ(host_.bridgeGateways[0].str(), "10.244.1.1/24");
  EXPECT_TRUE(host_.sysctls.count("net.ipv4.ip_forward"));
  EXPECT_FALSE(host_.sysctls.count("net.ipv6.conf.all.forwarding"));
  auto conf = nlohmann::json::parse(conflist());
  // libcni 1.1.x reads only cniVersion and cannot parse a 1.1.0 result; 1.2+ picks 1.1.0
  // from cniVersions (the runtime suite runs containerd 1.6 against this conflist).
  EXPECT_EQ(conf["cniVersion"], "1.0.0");
  EXPECT_EQ(conf["cniVersions"], nlohmann::json::parse(R"(["1.0.0","1.1.0"])"));
  EXPECT_EQ(conf["plugins"][0]["type"], "routelet-cni");
  EXPECT_EQ(conf["plugins"][0]["ranges"][0]["subnet"], "10.244.1.0/24");
  EXPECT_EQ(conf["plugins"].size(), 1u);  // no portmap binary present
  ASSERT_EQ(api_.patches.size(), 1u);
  auto patch = nlohmann::json::parse(api_.patches[0]);
  EXPECT_EQ(patch["metadata"]["annotations"]["routelet.io/state"], "ready");
  EXPECT_EQ(patch["metadata"]["annotations"]["routelet.io/node-ips"], "192.168.1.11");
  EXPECT_EQ(patch["status"]["conditions"][0]["status"], "False");
  EXPECT_TRUE(agent().health().ready);
  EXPECT_EQ(metrics_.value("routelet_peers"), 2);
  EXPECT_EQ(metrics_.value("routelet_routes", {{"state", "programmed"}}), 2);
}

TEST_F(AgentTest, SecondPassChangesNothingAndSendsNoPatch) {
  agent().nodesListed(threeNodes());
  agent().pass();
  publisher().publishStatus();
  size_t opsBefore = table_.opsApplied();
  int writesBefore = writes();
  // The watch brings the patched own Node back.
  auto own = threeNodes()[0];
  auto patch = nlohmann::json::parse(api_.patches[0]);
  for (auto& [k, v] : patch["metadata"]["annotations"].items()) own.annotations[k] = v;
  own.networkUnavailable = "False";
  own.resourceVersion = "2";
  agent().nodeUpserted(own);
  agent().pass();
  publisher().publishStatus();
  EXPECT_EQ(table_.opsApplied(), opsBefore);
  EXPECT_EQ(writes(), writesBefore);
  EXPECT_EQ(api_.patches.size(), 1u);
}

TEST_F(AgentTest, SamePatchIsNotResentBeforeTheWatchCatchesUp) {
  agent().nodesListed(threeNodes());
  agent().pass();
  publisher().publishStatus();
  agent().pass();
  publisher().publishStatus();
  EXPECT_EQ(api_.patches.size(), 1u);
}

TEST_F(AgentTest, NotReadyUntilPodCIDRArrives) {
  auto nodes = threeNodes();
  nodes[0].podCIDRs.clear();
  agent().nodesListed(nodes);
  agent().pass();
  EXPECT_FALSE(agent().health().ready);
  EXPECT_NE(agent().health().notReadyReason.find("no spec.podCIDRs"), std::string::npos);
  EXPECT_TRUE(conflist().empty());
  EXPECT_TRUE(table_.routes().empty());
  agent().nodeUpserted(node("node1", "192.168.1.11", "10.244.1.0/24"));
  agent().pass();
  EXPECT_TRUE(agent().health().ready);
  EXPECT_FALSE(conflist().empty());
  EXPECT_EQ(table_.routes().size(), 2u);
}

TEST_F(AgentTest, UnsyncedCacheNeverDeletes) {
  // A routelet route from before a restart, for a node the agent has not seen yet.
  netlink::Route stale;
  stale.dst = *ip::Prefix::parse("10.244.9.0/24");
  stale.gateway = *ip::Address::parse("192.168.1.19");
  stale.protocol = 201;
  table_.put(stale);
  for (auto& n : threeNodes()) agent().nodeUpserted(n);  // events, but no complete LIST
  agent().pass();
  EXPECT_EQ(table_.routes().size(), 3u);
  EXPECT_FALSE(agent().health().ready);
  agent().nodesListed(threeNodes());
  agent().pass();
  EXPECT_EQ(table_.routes().size(), 2u);
}

TEST_F(AgentTest, RemovedRouteEventTriggersHeal) {
  agent().nodesListed(threeNodes());
  agent().pass();
  auto gone = table_.routes()[0];
  table_.erase(gone.key());
  netlink::Event e{netlink::Event::Kind::kRouteRemoved, 0, "", gone, {}};
  agent().kernelEvents({e});
  std::atomic<bool> stop{false};
  std::thread loop([&] { agent().run(stop, std::chrono::milliseconds(10)); });
  while (table_.routes().size() != 2u) std::this_thread::yield();
  stop = true;
  agent().wake();
  loop.join();
  EXPECT_EQ(metrics_.value("routelet_route_heals_total"), 1);
}

TEST_F(AgentTest, ForeignRouteEventsDoNotWakeTheLoop) {
  agent().nodesListed(threeNodes());
  agent().pass();
  uint64_t passes = agent().passes();
  netlink::Route foreign;
  foreign.dst = *ip::Prefix::parse("172.16.0.0/16");
  foreign.protocol = 4;
  agent().kernelEvents(
      {netlink::Event{netlink::Event::Kind::kRouteRemoved, 0, "", foreign, {}},
       netlink::Event{netlink::Event::Kind::kLinkChanged, 7, "rl12345", std::nullopt, {}}});
  runFor(std::chrono::milliseconds(50), std::chrono::milliseconds(5));
  EXPECT_EQ(agent().passes(), passes);
}

TEST_F(AgentTest, PeerNotOnLinkIsSkippedCountedAndDegradesState) {
  auto nodes = threeNodes();
  nodes[2].internalIPs = {*ip::Address::parse("10.9.9.9")};
  agent().nodesListed(nodes);
  agent().pass();
  publisher().publishStatus();
  EXPECT_EQ(table_.routes().size(), 1u);
  EXPECT_EQ(metrics_.value("routelet_unreachable_peers"), 1);
  auto patch = nlohmann::json::parse(api_.patches.at(0));
  EXPECT_EQ(patch["metadata"]["annotations"]["routelet.io/state"], "degraded: 1 peers not on-link");
}

TEST_F(AgentTest, PortmapChainedWhenThePluginIsInstalled) {
  host_.installed.insert("/opt/cni/bin/portmap");
  host_.pluginAnswers["/opt/cni/bin/portmap"] = {"0.4.0", "1.0.0", "1.1.0"};
  agent().nodesListed(threeNodes());
  agent().pass();
  auto conf = nlohmann::json::parse(conflist());
  ASSERT_EQ(conf["plugins"].size(), 2u);
  EXPECT_EQ(conf["plugins"][1]["type"], "portmap");
  EXPECT_EQ(conf["cniVersions"], nlohmann::json::parse(R"(["1.0.0","1.1.0"])"));
}

// A runtime with libcni 1.2+ would hand 1.1.0 to a portmap that refuses it (Debian 12's
// portmap 1.1.1 speaks up to 1.0.0), failing every pod: the conflist then offers 1.0.0 only.
TEST_F(AgentTest, ConflistOffersOnlyVersionsTheChainedPortmapSpeaks) {
  host_.installed.insert("/opt/cni/bin/portmap");
  host_.pluginAnswers["/opt/cni/bin/portmap"] = {"0.3.1", "0.4.0", "1.0.0"};
  agent().nodesListed(threeNodes());
  agent().pass();
  auto conf = nlohmann::json::parse(conflist());
  EXPECT_EQ(conf["cniVersion"], "1.0.0");
  EXPECT_EQ(conf["cniVersions"], nlohmann::json::parse(R"(["1.0.0"])"));

  // A portmap that cannot be asked counts as one that does not speak 1.1.0.
  host_.pluginAnswers.clear();
  agent().pass();
  EXPECT_EQ(nlohmann::json::parse(conflist())["cniVersions"],
            nlohmann::json::parse(R"(["1.0.0"])"));

  // An upgraded portmap brings 1.1.0 back.
  host_.pluginAnswers["/opt/cni/bin/portmap"] = {"1.0.0", "1.1.0"};
  agent().pass();
  EXPECT_EQ(nlohmann::json::parse(conflist())["cniVersions"],
            nlohmann::json::parse(R"(["1.0.0","1.1.0"])"));
}

TEST_F(AgentTest, OwnNodeIPOverrideWins) {
  options_.nodeIPs = {*ip::Address::parse("192.168.1.111")};
  agent().nodesListed(threeNodes());
  agent().pass();
  publisher().publishStatus();
  auto patch = nlohmann::json::parse(api_.patches.at(0));
  EXPECT_EQ(patch["metadata"]["annotations"]["routelet.io/node-ips"], "192.168.1.111");
}

}  // namespace
}  // namespace routelet::agent

namespace routelet::agent {
namespace {

TEST_F(AgentTest, StatusFileListsEveryPeerWithItsState) {
  options_.runDir = "/run/routelet";
  auto nodes = threeNodes();
  nodes[2].internalIPs = {*ip::Address::parse("10.9.9.9")};
  agent().nodesListed(nodes);
  agent().pass();
  auto doc = nlohmann::json::parse(statusFile());
  EXPECT_EQ(doc["node"], "node1");
  EXPECT_EQ(doc["ready"], true);
  ASSERT_EQ(doc["peers"].size(), 2u);
  EXPECT_EQ(doc["peers"][0]["node"], "node2");
  EXPECT_EQ(doc["peers"][0]["state"], "programmed");
  EXPECT_EQ(doc["peers"][0]["nodeIP"], "192.168.1.12");
  EXPECT_EQ(doc["peers"][1]["node"], "node3");
  EXPECT_EQ(doc["peers"][1]["state"], "not-on-link");
  EXPECT_NE(doc["peers"][1]["detail"].get<std::string>().find("10.9.9.9"), std::string::npos);
}

TEST_F(AgentTest, StatusFileNamesAForeignRouteInTheWay) {
  options_.runDir = "/run/routelet";
  netlink::Route foreign;
  foreign.dst = *ip::Prefix::parse("10.244.2.0/24");
  foreign.gateway = *ip::Address::parse("192.168.1.99");
  foreign.protocol = 4;
  table_.put(foreign);
  agent().nodesListed(threeNodes());
  agent().pass();
  auto doc = nlohmann::json::parse(statusFile());
  EXPECT_EQ(doc["peers"][0]["state"], "conflict");
  EXPECT_EQ(table_.find(foreign.key())->gateway->str(), "192.168.1.99");  // never fought
}

}  // namespace
}  // namespace routelet::agent

namespace routelet::agent {
namespace {

TEST_F(AgentTest, StatusFileIsRebuiltAtMostOncePerSecondButNeverLeftStale) {
  options_.runDir = "/run/routelet";
  agent().nodesListed(threeNodes());
  agent().pass();
  auto changed = threeNodes()[2];
  changed.internalIPs = {*ip::Address::parse("10.9.9.9")};
  agent().nodeUpserted(changed);
  agent().pass();  // within the second: routes change at once, the file may wait
  EXPECT_EQ(table_.routes().size(), 1u);
  std::atomic<bool> stop{false};
  std::thread loop([&] { agent().run(stop, std::chrono::milliseconds(10)); });
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  auto state = [&] {
    auto doc = nlohmann::json::parse(statusFile());
    return doc["peers"][1]["state"].get<std::string>();
  };
  while (state() != "not-on-link" && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  stop = true;
  agent().wake();
  loop.join();
  EXPECT_EQ(state(), "not-on-link");
}

}  // namespace
}  // namespace routelet::agent

namespace routelet::agent {
namespace {

// --- targeted passes: peer events and heals after a clean whole pass, without a dump

using routes::testing::makeRoute;

std::string gatewayOf(const routes::FakeRouteTable& table, const std::string& dst) {
  for (const auto& r : table.routes())
    if (r.dst.str() == dst) return r.gateway ? r.gateway->str() : "";
  return "none";
}

TEST_F(AgentTest, PeerEventsAfterACleanPassChangeRoutesWithoutADump) {
  agent().nodesListed(threeNodes());
  agent().pass();
  ASSERT_EQ(table_.dumpCalls(), 1u);

  agent().nodeUpserted(node("node2", "192.168.1.22", "10.244.2.0/24"));  // new IP
  agent().pass();
  EXPECT_EQ(gatewayOf(table_, "10.244.2.0/24"), "192.168.1.22");
  agent().nodeDeleted("node3");
  agent().pass();
  EXPECT_EQ(gatewayOf(table_, "10.244.3.0/24"), "none");
  agent().nodeUpserted(node("node4", "192.168.1.14", "10.244.4.0/24"));  // joins
  agent().pass();
  EXPECT_EQ(gatewayOf(table_, "10.244.4.0/24"), "192.168.1.14");
  agent().nodeUpserted(node("node4", "192.168.1.14", "10.244.40.0/24"));  // renumbered
  agent().pass();
  EXPECT_EQ(gatewayOf(table_, "10.244.4.0/24"), "none");
  EXPECT_EQ(gatewayOf(table_, "10.244.40.0/24"), "192.168.1.14");

  EXPECT_EQ(table_.dumpCalls(), 1u);
  EXPECT_EQ(metrics_.value("routelet_targeted_passes_total"), 4);
  EXPECT_EQ(metrics_.value("routelet_route_operations_total", {{"op", "update"}, {"result", "ok"}}),
            1);
  EXPECT_EQ(metrics_.value("routelet_route_operations_total", {{"op", "delete"}, {"result", "ok"}}),
            2);
  // The whole pass that follows finds the table exactly as the targeted ones left it.
  size_t ops = table_.opsApplied();
  agent().requestPass();
  agent().pass();
  EXPECT_EQ(table_.dumpCalls(), 2u);
  EXPECT_EQ(table_.opsApplied(), ops);
}

TEST_F(AgentTest, TargetedAddNeverOverwritesAnotherOwnersRoute) {
  agent().nodesListed(threeNodes());
  agent().pass();
  // An admin's route at the podCIDR of a node about to join; its event not seen yet.
  auto admin = makeRoute("10.244.4.0/24", "192.168.1.200", 4);
  table_.put(admin);
  agent().nodeUpserted(node("node4", "192.168.1.14", "10.244.4.0/24"));
  agent().pass();  // targeted: the create fails with EEXIST
  EXPECT_EQ(gatewayOf(table_, "10.244.4.0/24"), "192.168.1.200");
  EXPECT_EQ(table_.dumpCalls(), 1u);
  agent().pass();  // the whole pass it asked for reports the conflict, still not touching it
  EXPECT_EQ(table_.dumpCalls(), 2u);
  EXPECT_EQ(gatewayOf(table_, "10.244.4.0/24"), "192.168.1.200");
  EXPECT_EQ(metrics_.value("routelet_routes", {{"state", "conflict"}}), 1);
  // With a conflict standing, Node events go to whole passes.
  agent().nodeUpserted(node("node2", "192.168.1.22", "10.244.2.0/24"));
  agent().pass();
  EXPECT_EQ(table_.dumpCalls(), 3u);
  EXPECT_EQ(gatewayOf(table_, "10.244.2.0/24"), "192.168.1.22");
}

TEST_F(AgentTest, OverlappingPodCIDRsAreLeftToAWholePass) {
  agent().nodesListed(threeNodes());
  agent().pass();
  agent().nodeUpserted(node("node0", "192.168.1.10", "10.244.3.0/25"));  // inside node3's
  agent().pass();
  EXPECT_EQ(table_.dumpCalls(), 2u);
  // node0 sorts first by name, yet node3's route was programmed first and stays: a Node
  // cannot take another's range by what it is called. node0 is refused and reported.
  EXPECT_EQ(gatewayOf(table_, "10.244.3.0/25"), "none");
  EXPECT_EQ(gatewayOf(table_, "10.244.3.0/24"), "192.168.1.13");
  EXPECT_EQ(metrics_.value("routelet_refused_peers"), 1);
  publisher().publishStatus();
  ASSERT_FALSE(api_.patches.empty());
  auto patch = nlohmann::json::parse(api_.patches.back());
  EXPECT_EQ(patch["metadata"]["annotations"]["routelet.io/state"],
            "degraded: 1 peer routes refused");

  // The kept route deleted by hand comes back: the contested range is not handed to nobody.
  ASSERT_TRUE(table_.erase(makeRoute("10.244.3.0/24", "192.168.1.13", 201).key()));
  agent().kernelEvents({netlink::Event{netlink::Event::Kind::kRouteRemoved,
                                       0,
                                       "",
                                       makeRoute("10.244.3.0/24", "192.168.1.13", 201),
                                       {}}});
  agent().pass();
  EXPECT_EQ(gatewayOf(table_, "10.244.3.0/24"), "192.168.1.13");
  EXPECT_EQ(gatewayOf(table_, "10.244.3.0/25"), "none");
}

TEST_F(AgentTest, HealIsTargetedAndEchoesOfOwnChangesAreNot) {
  agent().nodesListed(threeNodes());
  agent().pass();
  auto gone = table_.routes()[0];
  ASSERT_TRUE(table_.erase(gone.key()));
  agent().kernelEvents({netlink::Event{netlink::Event::Kind::kRouteRemoved, 0, "", gone, {}}});
  agent().pass();
  EXPECT_EQ(table_.routes().size(), 2u);
  EXPECT_EQ(metrics_.value("routelet_route_heals_total"), 1);

  // The agent's own replace: the old route's removal event must not bring it back.
  agent().nodeUpserted(node("node2", "192.168.1.22", "10.244.2.0/24"));
  agent().pass();
  size_t ops = table_.opsApplied();
  agent().kernelEvents({netlink::Event{netlink::Event::Kind::kRouteRemoved,
                                       0,
                                       "",
                                       makeRoute("10.244.2.0/24", "192.168.1.12", 201),
                                       {}}});
  agent().pass();
  EXPECT_EQ(table_.opsApplied(), ops);
  EXPECT_EQ(gatewayOf(table_, "10.244.2.0/24"), "192.168.1.22");
  EXPECT_EQ(table_.dumpCalls(), 1u);
  EXPECT_EQ(metrics_.value("routelet_route_heals_total"), 1);
}

TEST_F(AgentTest, AnotherOwnersRouteAtAPeersPodCIDRSendsTheNextPassWhole) {
  agent().nodesListed(threeNodes());
  agent().pass();
  agent().kernelEvents({netlink::Event{
      netlink::Event::Kind::kRouteAdded, 0, "", makeRoute("10.244.9.0/24", "192.168.1.9", 4), {}}});
  agent().nodeUpserted(node("node2", "192.168.1.22", "10.244.2.0/24"));
  agent().pass();
  EXPECT_EQ(table_.dumpCalls(), 1u);  // not a peer's podCIDR: still targeted
  agent().kernelEvents({netlink::Event{
      netlink::Event::Kind::kRouteAdded, 0, "", makeRoute("10.244.3.0/24", "192.168.1.9", 4), {}}});
  agent().pass();
  EXPECT_EQ(table_.dumpCalls(), 2u);
}

TEST_F(AgentTest, ManyChangedPeersAtOnceGetOneWholePass) {
  agent().nodesListed(threeNodes());
  agent().pass();
  for (int i = 20; i < 90; ++i)  // 70 joins between two passes
    agent().nodeUpserted(node("node" + std::to_string(i), "192.168.1." + std::to_string(i),
                              "10.244." + std::to_string(i) + ".0/24"));
  agent().pass();
  EXPECT_EQ(table_.dumpCalls(), 2u);
  EXPECT_EQ(table_.routes().size(), 72u);
  EXPECT_EQ(metrics_.value("routelet_targeted_passes_total"), 0);
}

TEST_F(AgentTest, AWholePassFollowsTargetedOnesOnceEventsAreQuiet) {
  agent().nodesListed(threeNodes());
  agent().pass();
  agent().nodeUpserted(node("node2", "192.168.1.22", "10.244.2.0/24"));
  std::atomic<bool> stop{false};
  std::thread loop([&] { agent().run(stop, std::chrono::milliseconds(10)); });
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  // Metrics are safe to read while the loop runs; the fake table is not.
  while (metrics_.value("routelet_reconcile_passes_total") < 2 &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  stop = true;
  agent().wake();
  loop.join();
  EXPECT_EQ(metrics_.value("routelet_targeted_passes_total"), 1);
  EXPECT_EQ(table_.dumpCalls(), 2u) << "no whole pass followed the targeted one";
}

// The own Node's problems are logged when they appear; only the current ones are kept,
// so a problem that went away is logged again when it comes back (and a stream of
// edited bad values cannot grow the agent's memory).
TEST_F(AgentTest, OwnNodeProblemsAreLoggedWhenTheyAppear) {
  auto nodes = threeNodes();
  agent().nodesListed(nodes);
  auto passWithProblems = [&](std::vector<std::string> problems, std::string rv) {
    nodes[0].problems = std::move(problems);
    nodes[0].resourceVersion = std::move(rv);
    agent().nodeUpserted(nodes[0]);
    ::testing::internal::CaptureStderr();
    agent().pass();
    return ::testing::internal::GetCapturedStderr();
  };
  auto logged = [](const std::string& out, const std::string& what) {
    return out.find("own Node: " + what) != std::string::npos;
  };
  EXPECT_TRUE(logged(passWithProblems({"spec.podCIDR \"a\": bad"}, "2"), "spec.podCIDR \"a\""));
  EXPECT_FALSE(logged(passWithProblems({"spec.podCIDR \"a\": bad"}, "3"), "spec.podCIDR"));
  EXPECT_FALSE(logged(passWithProblems({}, "4"), "spec.podCIDR"));
  EXPECT_TRUE(logged(passWithProblems({"spec.podCIDR \"a\": bad"}, "5"), "spec.podCIDR \"a\""));
}

// Issue 23, row 1: node2 listing an address inside node3's podCIDR used to cost node3 its
// route on every node. The address is passed over, logged once, and nobody loses a route.
TEST_F(AgentTest, AnAddressInsideAnotherNodesPodCIDRIsLoggedOnceAndCostsNobodyTheirRoute) {
  auto nodes = threeNodes();
  nodes[1].externalIPs.push_back(*ip::Address::parse("10.244.3.77"));
  agent().nodesListed(nodes);
  ::testing::internal::CaptureStderr();
  agent().pass();
  std::string first = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(table_.routes().size(), 2u);
  const std::string line =
      "Node node2: status.addresses 10.244.3.77 lies in the podCIDR 10.244.3.0/24 of node node3";
  EXPECT_NE(first.find(line), std::string::npos) << first;
  agent().requestPass();
  ::testing::internal::CaptureStderr();
  agent().pass();
  EXPECT_EQ(::testing::internal::GetCapturedStderr().find(line), std::string::npos);
  EXPECT_EQ(table_.routes().size(), 2u);
}

// Issue 23, row 2: an own podCIDR over the node's segment put the segment gateway's address
// on cni0 (ARP answered twice), 128.0.0.0/1 routed half of IPv4 into the bridge, and 0.0.0.0/0
// deleted every peer route while /readyz said ok. Now nothing is set up from it, the node
// says why, and a corrected Node is picked up.
TEST_F(AgentTest, ARefusedOwnPodCIDRSetsUpNothingAndKeepsTheNodeNotReady) {
  auto nodes = threeNodes();
  for (const char* bad : {"192.168.1.0/24", "128.0.0.0/1", "0.0.0.0/0"}) {
    SCOPED_TRACE(bad);
    nodes[0].podCIDRs = {*ip::Prefix::parse(bad)};
    nodes[0].resourceVersion += "1";
    agent().nodesListed(nodes);
    agent().pass();
    EXPECT_EQ(host_.bridgeCalls, 0);
    EXPECT_EQ(conflist(), "");
    EXPECT_TRUE(table_.routes().empty());
    EXPECT_TRUE(nft_.scripts.empty());
    EXPECT_FALSE(agent().health().ready);
    EXPECT_NE(agent().health().notReadyReason.find("own podCIDR refused: spec.podCIDRs"),
              std::string::npos)
        << agent().health().notReadyReason;
  }
  publisher().publishStatus();
  ASSERT_FALSE(api_.patches.empty());
  auto patch = nlohmann::json::parse(api_.patches.back());
  EXPECT_EQ(patch["metadata"]["annotations"]["routelet.io/state"], "degraded: own podCIDR refused");
  EXPECT_EQ(patch["status"]["conditions"][0]["status"], "True");  // NetworkUnavailable

  nodes[0].podCIDRs = {*ip::Prefix::parse("10.244.1.0/24")};
  nodes[0].resourceVersion += "1";
  agent().nodeUpserted(nodes[0]);
  agent().pass();
  EXPECT_EQ(host_.bridgeCalls, 1);
  EXPECT_EQ(table_.routes().size(), 2u);
  EXPECT_TRUE(agent().health().ready);
}

// A failed PATCH used to start the next whole pass at once, which sent it again: on a 403
// or a 429 every agent spun, dumping the kernel and hammering the API server.
TEST_F(AgentTest, AFailedStatusPatchWaitsForItsBackoffNotForPasses) {
  api_.answer = [] { return PatchResult(makeError("403 Forbidden")); };
  agent().nodesListed(threeNodes());
  runFor(std::chrono::milliseconds(300), std::chrono::milliseconds(10));
  EXPECT_EQ(agent().passes(), 1u);
  EXPECT_EQ(api_.patchCalls, 1);  // the next try is a backoff (about 1 s) away
  auto retry = publisher().statusRetryAt();
  ASSERT_TRUE(retry);
  EXPECT_GT(*retry - std::chrono::steady_clock::now(), std::chrono::milliseconds(400));
}

TEST_F(AgentTest, RetryAfterIsHonouredAndANewerPatchWaitsForIt) {
  api_.answer = [] {
    return PatchResult(makeError("429 Too Many Requests"), std::chrono::seconds(30));
  };
  agent().nodesListed(threeNodes());
  agent().pass();
  publisher().publishStatus();
  EXPECT_EQ(api_.patchCalls, 1);
  auto retry = publisher().statusRetryAt();
  ASSERT_TRUE(retry);
  EXPECT_GT(*retry - std::chrono::steady_clock::now(), std::chrono::seconds(29));
  // The own Node changes: a newer patch replaces the waiting one, and waits as long.
  auto own = threeNodes()[0];
  own.resourceVersion = "2";
  own.annotations["routelet.io/mtu"] = "9000";
  agent().nodeUpserted(own);
  agent().pass();
  publisher().publishStatus();
  EXPECT_EQ(api_.patchCalls, 1);
  EXPECT_EQ(publisher().statusRetryAt(), retry);
}

TEST_F(AgentTest, AStuckStatusPatchDoesNotDelayHealing) {
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  api_.answer = [&] {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, std::chrono::seconds(5), [&] { return release; });
    return PatchResult(makeError("timeout"));
  };
  agent().nodesListed(threeNodes());
  std::atomic<bool> stop{false};
  std::thread loop([&] { agent().run(stop, std::chrono::milliseconds(10)); });
  while (api_.patchCalls == 0) std::this_thread::yield();
  auto gone = table_.routes()[0];
  table_.erase(gone.key());
  agent().kernelEvents({netlink::Event{netlink::Event::Kind::kRouteRemoved, 0, "", gone, {}}});
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (table_.routes().size() != 2u && std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
  EXPECT_EQ(table_.routes().size(), 2u) << "the route was not healed while the patch hung";
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  stop = true;
  agent().wake();
  loop.join();
}

// --- Egress masquerade, bridge netfilter, hairpin

netlink::Event nftCommit(uint32_t pid, std::vector<std::pair<uint8_t, std::string>> tables,
                         uint32_t portid = 0) {
  netlink::Event e{netlink::Event::Kind::kNftCommit, 0, "", std::nullopt, {}};
  e.nft.pid = pid;
  e.nft.portid = portid;
  e.nft.tables = std::move(tables);
  return e;
}
constexpr uint8_t kInet = 1;  // NFPROTO_INET

masquerade::MasqueradeRules threeNodeRules() {
  return {{*ip::Prefix::parse("10.244.1.0/24")},
          {*ip::Prefix::parse("10.244.1.0/24"), *ip::Prefix::parse("10.244.2.0/24"),
           *ip::Prefix::parse("10.244.3.0/24")}};
}
masquerade::SetChange exempt(bool add, const std::string& key) {
  return {"exempt_v4_24", ip::Family::kV4, add, {*ip::Address::parse(key)}, {}};
}

TEST_F(AgentTest, MasqueradeTableIsWrittenWholeAtTheFirstPassAndNotAgainWhenNothingChanged) {
  agent().nodesListed(threeNodes());
  agent().pass();
  ASSERT_EQ(nft_.scripts.size(), 1u);
  EXPECT_EQ(nft_.scripts[0], masquerade::masqueradeScript(threeNodeRules()));
  ASSERT_EQ(nft_.elementWrites.size(), 1u);
  EXPECT_EQ(nft_.elementWrites[0], masquerade::masqueradeElements(threeNodeRules()));
  agent().requestPass();
  agent().pass();
  EXPECT_EQ(nft_.scripts.size(), 1u);
  EXPECT_EQ(nft_.elementWrites.size(), 1u);
  EXPECT_EQ(metrics_.value("routelet_masquerade_exempt_ranges"), 3);
  EXPECT_EQ(
      metrics_.value("routelet_masquerade_writes_total", {{"kind", "table"}, {"result", "ok"}}), 1);
  auto status = nlohmann::json::parse(statusFile());
  EXPECT_EQ(status["masquerade"]["enabled"], true);
  EXPECT_EQ(status["masquerade"]["table"], "inet routelet");
  EXPECT_EQ(status["masquerade"]["detail"], "3 destination ranges exempt");
}

TEST_F(AgentTest, NoMasqueradeBeforeTheNodeListIsComplete) {
  // From a partial cache, pods would be masqueraded towards peers not listed yet.
  agent().nodeUpserted(threeNodes()[0]);
  agent().pass();
  EXPECT_TRUE(nft_.scripts.empty());
}

TEST_F(AgentTest, ANewPeerIsExemptedByAnElementUpdateInTheTargetedPass) {
  agent().nodesListed(threeNodes());
  agent().pass();
  uint64_t wholePasses = agent().passes();
  agent().nodeUpserted(node("node4", "192.168.1.14", "10.244.4.0/24"));
  agent().pass();
  EXPECT_EQ(agent().passes(), wholePasses);  // targeted
  ASSERT_EQ(nft_.elementWrites.size(), 2u);
  EXPECT_EQ(nft_.elementWrites[1], std::vector<masquerade::SetChange>{exempt(true, "10.244.4.0")});
  agent().nodeDeleted("node2");
  agent().pass();
  ASSERT_EQ(nft_.elementWrites.size(), 3u);
  EXPECT_EQ(nft_.elementWrites[2], std::vector<masquerade::SetChange>{exempt(false, "10.244.2.0")});
  EXPECT_EQ(nft_.scripts.size(), 1u);  // the shape never changed
}

TEST_F(AgentTest, ARefusedElementUpdateFallsBackToTheWholeTable) {
  agent().nodesListed(threeNodes());
  agent().pass();
  nft_.elementFailures = 1;  // someone removed the set meanwhile
  agent().nodeUpserted(node("node4", "192.168.1.14", "10.244.4.0/24"));
  agent().pass();
  ASSERT_EQ(nft_.scripts.size(), 2u);
  EXPECT_EQ(nft_.scripts[1], nft_.scripts[0]);
  ASSERT_EQ(nft_.elementWrites.size(), 3u);
  EXPECT_EQ(nft_.elementWrites[2][0].keys.size(), 4u);  // every exempt range, node4's too
  EXPECT_EQ(metrics_.value("routelet_masquerade_writes_total",
                           {{"kind", "elements"}, {"result", "error"}}),
            1);
}

TEST_F(AgentTest, AnotherProcessTouchingTheTableGetsItRewrittenAtOnce) {
  agent().nodesListed(threeNodes());
  agent().pass();
  uint64_t wholePasses = agent().passes();
  // The first write's two commits come back: the shape (libnftables' own socket) and the
  // elements (the agent's socket, by port id). The kernel names the agent by a pid that
  // need not be getpid() (a container), so it is learned from the second, and the first,
  // held until then, is judged by it: ours.
  constexpr uint32_t kOwnPid = 31337;
  agent().kernelEvents({nftCommit(kOwnPid, {{kInet, "routelet"}}),
                        nftCommit(kOwnPid, {{kInet, "routelet"}}, FakeMasqueradeEdge::kPortId)});
  // Another table, or a table of that name in another family: not ours.
  agent().kernelEvents({nftCommit(1, {{kInet, "filter"}, {2, "routelet"}})});
  // Later commits of the agent, through either socket.
  agent().kernelEvents({nftCommit(kOwnPid, {{kInet, "routelet"}})});
  runFor(std::chrono::milliseconds(150), std::chrono::milliseconds(10));
  EXPECT_EQ(nft_.scripts.size(), 1u);
  // `nft delete table inet routelet` by someone else.
  agent().kernelEvents({nftCommit(4242, {{kInet, "filter"}, {kInet, "routelet"}})});
  agent().pass();
  ASSERT_EQ(nft_.scripts.size(), 2u);
  EXPECT_EQ(nft_.scripts[1], nft_.scripts[0]);  // the whole table, not elements
  ASSERT_EQ(nft_.elementWrites.size(), 2u);
  EXPECT_EQ(nft_.elementWrites[1], nft_.elementWrites[0]);
  EXPECT_EQ(agent().passes(), wholePasses);  // without a whole pass
  EXPECT_EQ(metrics_.value("routelet_masquerade_heals_total"), 1);
}

TEST_F(AgentTest, AForeignCommitBeforeTheAgentKnowsItsOwnPidIsStillHealed) {
  agent().nodesListed(threeNodes());
  agent().pass();
  // Someone deleted the table between the agent's two commits.
  agent().kernelEvents({nftCommit(31337, {{kInet, "routelet"}}),
                        nftCommit(4242, {{kInet, "routelet"}}),
                        nftCommit(31337, {{kInet, "routelet"}}, FakeMasqueradeEdge::kPortId)});
  agent().pass();
  EXPECT_EQ(nft_.scripts.size(), 2u);
}

TEST_F(AgentTest, WithoutTheNftablesMonitorEachResyncRewritesTheTable) {
  options_.resyncPeriod = std::chrono::seconds(1);
  agent();
  egress_->monitorUnavailable();
  agent().nodesListed(threeNodes());
  agent().pass();
  agent().requestPass();
  agent().pass();  // before the resync is due: nothing to write
  EXPECT_EQ(nft_.scripts.size(), 1u);
  std::this_thread::sleep_for(std::chrono::milliseconds(1050));
  agent().pass();
  EXPECT_EQ(nft_.scripts.size(), 2u);
  EXPECT_EQ(metrics_.value("routelet_masquerade_heals_total"), 1);
}

TEST_F(AgentTest, MasqueradeOffRemovesTheTableOnceAndIgnoresTheMonitor) {
  options_.masquerade = false;
  agent().nodesListed(threeNodes());
  agent().pass();
  ASSERT_EQ(nft_.scripts.size(), 1u);
  EXPECT_EQ(nft_.scripts[0], masquerade::masqueradeRemovalScript());
  agent().kernelEvents({nftCommit(4242, {{kInet, "routelet"}})});
  agent().requestPass();
  agent().pass();
  EXPECT_EQ(nft_.scripts.size(), 1u);
  EXPECT_TRUE(nft_.elementWrites.empty());
  auto status = nlohmann::json::parse(statusFile());
  EXPECT_EQ(status["masquerade"]["enabled"], false);
}

TEST_F(AgentTest, NonMasqueradeCIDRsAreExempt) {
  options_.nonMasqueradeCIDRs = {*ip::Prefix::parse("172.16.0.0/12")};
  agent().nodesListed(threeNodes());
  agent().pass();
  ASSERT_EQ(nft_.elementWrites.size(), 1u);
  EXPECT_EQ(nft_.elementWrites[0][0],
            (masquerade::SetChange{
                "exempt_v4_12", ip::Family::kV4, true, {*ip::Address::parse("172.16.0.0")}, {}}));
}

TEST_F(AgentTest, AFailedMasqueradeWriteDegradesTheNodeAndIsRetriedWhole) {
  nft_.nftFailures = 1;
  agent().nodesListed(threeNodes());
  agent().pass();
  publisher().publishStatus();
  ASSERT_EQ(api_.patches.size(), 1u);
  auto patch = nlohmann::json::parse(api_.patches[0]);
  EXPECT_EQ(patch["metadata"]["annotations"]["routelet.io/state"],
            "degraded: masquerade not programmed");
  auto status = nlohmann::json::parse(statusFile());
  EXPECT_NE(status["masquerade"]["error"].get<std::string>().find("No such file"),
            std::string::npos);
  agent().requestPass();
  agent().pass();
  ASSERT_EQ(nft_.scripts.size(), 2u);
  EXPECT_EQ(nft_.scripts[1], nft_.scripts[0]);
}

TEST_F(AgentTest, BridgeNetfilterIsSetEveryWholePassAndItsFailureReported) {
  const std::string error = "net.bridge.bridge-nf-call-iptables: permission denied";
  host_.sysctlErrors[kIptablesSysctl] = {error, EACCES};
  agent().nodesListed(threeNodes());
  agent().pass();
  EXPECT_EQ(host_.sysctlCalls[kIptablesSysctl], 1);
  auto status = nlohmann::json::parse(statusFile());
  EXPECT_EQ(status["bridgeNetfilter"]["enabled"], true);
  EXPECT_EQ(status["bridgeNetfilter"]["error"], error);
  publisher().publishStatus();
  ASSERT_EQ(api_.patches.size(), 1u);
  auto patch = nlohmann::json::parse(api_.patches[0]);
  EXPECT_EQ(patch["metadata"]["annotations"]["routelet.io/state"],
            "degraded: bridge netfilter not set");
  host_.sysctlErrors.clear();
  agent().requestPass();
  agent().pass();
  EXPECT_EQ(host_.sysctlCalls[kIptablesSysctl], 2);
  publisher().publishStatus();
  ASSERT_EQ(api_.patches.size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(api_.patches[1])["metadata"]["annotations"]["routelet.io/state"],
            "ready");
}

TEST_F(AgentTest, BridgeNetfilterOffLeavesTheSysctlsAlone) {
  options_.bridgeNetfilter = false;
  agent().nodesListed(threeNodes());
  agent().pass();
  EXPECT_EQ(host_.sysctlCalls[kIptablesSysctl], 0);
}

TEST_F(AgentTest, HairpinSettingReachesTheConflist) {
  agent().nodesListed(threeNodes());
  agent().pass();
  EXPECT_EQ(nlohmann::json::parse(conflist())["plugins"][0]["hairpinMode"], true);
  options_.hairpin = false;
  agent_.reset();
  agent().nodesListed(threeNodes());
  agent().pass();
  EXPECT_EQ(nlohmann::json::parse(conflist())["plugins"][0]["hairpinMode"], false);
}

// A cluster over two segments: node1 and node2 on 192.168.1.0/24, node3 behind a router.
std::vector<model::Node> twoSegments() {
  return {node("node1", "192.168.1.11", "10.244.1.0/24"),
          node("node2", "192.168.1.12", "10.244.2.0/24"),
          node("node3", "192.168.2.13", "10.244.3.0/24")};
}

netlink::Event neighborEvent(netlink::Event::Kind kind, const netlink::Neighbor& n) {
  netlink::Event e{kind, 0, "", std::nullopt, {}};
  e.neighbor = n;
  return e;
}

TEST_F(AgentTest, AutoReachesOnLinkPeersDirectlyAndTheRestOverVxlan) {
  options_.mode = routes::Mode::kAuto;
  options_.vxlanVNI = 42;
  agent().nodesListed(twoSegments());
  agent().pass();
  publisher().publishStatus();
  ASSERT_EQ(tunnels_.vxlans.count("routelet.vxlan"), 1u);
  const auto& [spec, address] = tunnels_.vxlans["routelet.vxlan"];
  EXPECT_EQ(spec.info.vni, 42u);
  EXPECT_EQ(spec.info.port, 8472);
  EXPECT_EQ(spec.info.local->str(), "192.168.1.11");
  EXPECT_FALSE(spec.info.learning);
  EXPECT_EQ(netlink::macString(spec.mac), "0e:72:0a:f4:01:00");
  EXPECT_EQ(spec.mtu, 1400u);  // the underlay's 1450 less 50
  EXPECT_EQ(address.str(), "10.244.1.0/32");
  // Pods fit in the tunnel whichever way their packets go.
  EXPECT_EQ(host_.bridgeMtu, 1400u);
  EXPECT_EQ(nlohmann::json::parse(conflist())["plugins"][0]["mtu"], 1400);

  auto routes = table_.routes();
  ASSERT_EQ(routes.size(), 2u);
  EXPECT_EQ(routes[0].gateway->str(), "192.168.1.12");
  EXPECT_FALSE(routes[0].onlink);
  EXPECT_EQ(routes[1].gateway->str(), "10.244.3.0");
  EXPECT_EQ(routes[1].oif, 7);
  EXPECT_TRUE(routes[1].onlink);
  auto entries = table_.allNeighbors();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].address->str(), "10.244.3.0");
  EXPECT_EQ(entries[1].address->str(), "192.168.2.13");  // the fdb entry: the peer's node IP

  EXPECT_EQ(metrics_.value("routelet_peer_routes", {{"path", "direct"}}), 1);
  EXPECT_EQ(metrics_.value("routelet_peer_routes", {{"path", "vxlan"}}), 1);
  ASSERT_EQ(api_.patches.size(), 1u);
  auto patch = nlohmann::json::parse(api_.patches[0]);
  EXPECT_EQ(patch["metadata"]["annotations"]["routelet.io/mode"], "auto");
  EXPECT_EQ(patch["metadata"]["annotations"]["routelet.io/vtep-macs"], "0e:72:0a:f4:01:00");
  EXPECT_EQ(patch["metadata"]["annotations"]["routelet.io/state"], "ready");
  auto status = nlohmann::json::parse(statusFile());
  EXPECT_EQ(status["vxlan"]["encapsulated"], 1);
  EXPECT_EQ(status["peers"][0]["path"], "direct");
  EXPECT_EQ(status["peers"][1]["path"], "vxlan");
}

TEST_F(AgentTest, VxlanEntriesRemovedOrChangedByHandComeBackAndOwnEchoesDoNot) {
  options_.mode = routes::Mode::kAuto;
  agent().nodesListed(twoSegments());
  agent().pass();
  auto wanted = table_.allNeighbors();
  ASSERT_EQ(wanted.size(), 2u);
  size_t ops = table_.opsApplied();

  // Echoes of the agent's own writes change nothing.
  agent().kernelEvents({neighborEvent(netlink::Event::Kind::kNeighborChanged, wanted[1])});
  agent().pass();
  EXPECT_EQ(table_.opsApplied(), ops);
  uint64_t passes = agent().passes();

  // `bridge fdb del`: healed without a whole pass.
  ASSERT_TRUE(table_.eraseNeighbor(wanted[1].key()));
  agent().kernelEvents({neighborEvent(netlink::Event::Kind::kNeighborRemoved, wanted[1])});
  agent().pass();
  EXPECT_EQ(table_.allNeighbors(), wanted);
  EXPECT_EQ(agent().passes(), passes) << "a heal needs no whole pass";
  EXPECT_EQ(metrics_.value("routelet_vxlan_heals_total"), 1);

  // `ip neigh replace ... lladdr <other>`: put back too.
  auto changed = wanted[0];
  changed.mac = *netlink::parseMac("0e:72:00:00:00:01");
  table_.putNeighbor(changed);
  agent().kernelEvents({neighborEvent(netlink::Event::Kind::kNeighborChanged, changed)});
  agent().pass();
  EXPECT_EQ(table_.allNeighbors(), wanted);
  EXPECT_EQ(metrics_.value("routelet_vxlan_heals_total"), 2);

  // Events on other devices are not ours to act on.
  auto other = wanted[0];
  other.index = 3;
  ops = table_.opsApplied();
  agent().kernelEvents({neighborEvent(netlink::Event::Kind::kNeighborRemoved, other)});
  agent().pass();
  EXPECT_EQ(table_.opsApplied(), ops);
}

TEST_F(AgentTest, APeerMovingSegmentsSwitchesPathInATargetedPass) {
  options_.mode = routes::Mode::kAuto;
  agent().nodesListed(twoSegments());
  agent().pass();
  uint64_t passes = agent().passes();
  // node2 leaves our segment.
  agent().nodeUpserted(node("node2", "192.168.2.12", "10.244.2.0/24"));
  agent().pass();
  EXPECT_EQ(agent().passes(), passes) << "one peer changed: a targeted pass";
  auto routes = table_.routes();
  EXPECT_EQ(routes[0].gateway->str(), "10.244.2.0");
  EXPECT_TRUE(routes[0].onlink);
  EXPECT_EQ(table_.allNeighbors().size(), 4u);
  // node3 joins our segment: direct, and its entries go.
  agent().nodeUpserted(node("node3", "192.168.1.13", "10.244.3.0/24"));
  agent().pass();
  routes = table_.routes();
  EXPECT_EQ(routes[1].gateway->str(), "192.168.1.13");
  EXPECT_FALSE(routes[1].onlink);
  auto entries = table_.allNeighbors();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].address->str(), "10.244.2.0");
  // A targeted pass keeps what heals compare against: a later removal comes back.
  ASSERT_TRUE(table_.eraseNeighbor(entries[1].key()));
  agent().kernelEvents({neighborEvent(netlink::Event::Kind::kNeighborRemoved, entries[1])});
  agent().pass();
  EXPECT_EQ(table_.allNeighbors(), entries);
}

TEST_F(AgentTest, HostGwRemovesVxlanDevicesAndReportsOffLinkPeers) {
  agent().nodesListed(twoSegments());
  agent().pass();
  publisher().publishStatus();
  EXPECT_TRUE(tunnels_.vxlans.empty());
  EXPECT_EQ(tunnels_.removed, (std::vector<std::string>{"routelet.vxlan", "routelet.vxlan6"}));
  EXPECT_EQ(table_.routes().size(), 1u);
  EXPECT_EQ(host_.bridgeMtu, 1450u);  // nothing to leave room for
  auto patch = nlohmann::json::parse(api_.patches[0]);
  EXPECT_EQ(patch["metadata"]["annotations"]["routelet.io/state"], "degraded: 1 peers not on-link");
  EXPECT_EQ(patch["metadata"]["annotations"]["routelet.io/mode"], "host-gw");
  EXPECT_FALSE(patch["metadata"]["annotations"].contains("routelet.io/vtep-macs"));
}

TEST_F(AgentTest, AVxlanDeviceThatCannotBeMadeDegradesButKeepsDirectPeers) {
  options_.mode = routes::Mode::kAuto;
  tunnels_.vxlanError = "create routelet.vxlan: Operation not supported";
  agent().nodesListed(twoSegments());
  agent().pass();
  publisher().publishStatus();
  auto routes = table_.routes();
  ASSERT_EQ(routes.size(), 1u);
  EXPECT_EQ(routes[0].gateway->str(), "192.168.1.12");
  auto patch = nlohmann::json::parse(api_.patches[0]);
  EXPECT_EQ(patch["metadata"]["annotations"]["routelet.io/state"], "degraded: vxlan not ready");
  EXPECT_EQ(patch["status"]["conditions"][0]["status"], "False") << "pods here still work";
  // Retried by the next whole pass.
  tunnels_.vxlanError.clear();
  agent().requestPass();
  agent().pass();
  EXPECT_EQ(table_.routes().size(), 2u);
}

TEST_F(AgentTest, ModeVxlanEncapsulatesEvenOnLinkPeers) {
  options_.mode = routes::Mode::kVxlan;
  agent().nodesListed(twoSegments());
  agent().pass();
  for (const auto& r : table_.routes()) EXPECT_TRUE(r.onlink) << netlink::describe(r);
  EXPECT_EQ(table_.allNeighbors().size(), 4u);
}

TEST_F(AgentTest, LosingTheNodeIPReconnectsTheWatchAndAnyAddressChangeRedoesTheHost) {
  options_.mode = routes::Mode::kAuto;
  int reconnects = 0;
  agent();
  nodeSetup_->onNodeAddressGone([&] { ++reconnects; });
  agent().nodesListed(twoSegments());
  agent().pass();
  uint64_t passes = agent().passes();
  auto addressEvent = [](netlink::Event::Kind kind, int index, const std::string& prefix) {
    netlink::Event e{kind, index, "", std::nullopt, {}};
    e.address = *ip::Prefix::parseInterface(prefix);
    return e;
  };
  // The VTEP address the agent put on its own device: nothing to do.
  agent().kernelEvents({addressEvent(netlink::Event::Kind::kAddressAdded, 7, "10.244.1.0/32")});
  EXPECT_EQ(reconnects, 0);
  // A new subnet on the node: on-link peers may have changed, a whole pass looks.
  agent().kernelEvents({addressEvent(netlink::Event::Kind::kAddressAdded, 2, "192.168.2.11/24")});
  agent().pass();
  EXPECT_EQ(agent().passes(), passes + 1);
  EXPECT_EQ(reconnects, 0);
  // Another address going: a pass, no reconnect.
  agent().kernelEvents({addressEvent(netlink::Event::Kind::kAddressRemoved, 2, "192.168.2.11/24")});
  EXPECT_EQ(reconnects, 0);
  // The node IP going: the Node watch's connection came from it.
  agent().kernelEvents({addressEvent(netlink::Event::Kind::kAddressRemoved, 2, "192.168.1.11/24")});
  EXPECT_EQ(reconnects, 1);
}

TEST_F(AgentTest, TheLoopWakesForAVxlanEntryHeal) {
  // pass() alone hides it: run() must count a disturbed entry as work to do.
  options_.mode = routes::Mode::kAuto;
  agent().nodesListed(twoSegments());
  agent().pass();
  auto wanted = table_.allNeighbors();
  ASSERT_EQ(wanted.size(), 2u);
  uint64_t passes = agent().passes();
  ASSERT_TRUE(table_.eraseNeighbor(wanted[1].key()));
  agent().kernelEvents({neighborEvent(netlink::Event::Kind::kNeighborRemoved, wanted[1])});
  runFor(std::chrono::milliseconds(300), std::chrono::seconds(30));
  EXPECT_EQ(table_.allNeighbors(), wanted);
  EXPECT_EQ(agent().passes(), passes) << "healed on its own, no whole pass";
}

}  // namespace
}  // namespace routelet::agent
