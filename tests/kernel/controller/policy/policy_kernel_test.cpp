// The NetworkPolicy table against the real kernel, in namespaces of its own: a node with a
// bridge and three local pods (bridged traffic passes netfilter through bridge netfilter),
// and a pod of another node routed through it. The plans of controller/policy/ruleset.h go
// through the agent's own edge (libnftables and netfilter netlink), and TCP connections,
// IPv4 and IPv6, show what passes.
#include <gtest/gtest.h>

#include <string>

#include "common/netlink/monitor.h"
#include "common/nft/kernel_table_edge.h"
#include "controller/policy/cluster.h"
#include "controller/policy/desired.h"
#include "controller/policy/ruleset.h"
#include "tests/support/netns_fixture.h"

namespace routelet::policy {
namespace {

using testing::inside;
using testing::requireRootAndIp;
using testing::shell;
using testing::TestNetns;

const std::string kLib = std::string(ROUTELET_SOURCE_DIR) + "/scripts/lib/";

bool requireTools() {
  if (shell("command -v nft >/dev/null && command -v python3 >/dev/null") != 0) {
    ADD_FAILURE() << "this test needs nft (Debian package nftables) and python3";
    return false;
  }
  return true;
}

model::PodObject pod(const std::string& name, const std::string& node, std::vector<std::string> ips,
                     model::Labels labels, std::vector<model::ContainerPort> ports = {}) {
  model::PodObject p;
  p.ns = "default";
  p.name = name;
  p.nodeName = node;
  for (const auto& a : ips) p.ips.push_back(*ip::Address::parse(a));
  p.labels = std::move(labels);
  p.ports = std::move(ports);
  return p;
}

model::LabelSelector app(const std::string& value) {
  return {{{"app", model::LabelRequirement::Op::kIn, {value}}}};
}

// A node "n1" (bridge, pods a b c) and a pod r of node n2 routed through it.
class PolicyKernelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!requireRootAndIp() || !requireTools()) GTEST_SKIP() << "cannot run (failure recorded)";
    ASSERT_TRUE(node_.ok() && a_.ok() && b_.ok() && c_.ok() && r_.ok());
    std::string br =
        "ip link add br0 type bridge && ip link set br0 up && "
        "ip addr add 10.244.1.1/24 dev br0 && ip addr add fd00:1::1/64 dev br0 nodad && "
        "sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 && "
        "sysctl -qw net.bridge.bridge-nf-call-iptables=1 "
        "net.bridge.bridge-nf-call-ip6tables=1";
    ASSERT_EQ(node_.run(br), 0) << "bridge netfilter needs the br_netfilter module";
    int i = 2;
    for (TestNetns* p : {&a_, &b_, &c_}) {
      std::string n = std::to_string(i++);
      std::string host = "v" + n;
      ASSERT_EQ(shell("ip link add " + host + " netns " + node_.name() +
                      " type veth peer name eth0 netns " + p->name()),
                0);
      ASSERT_EQ(node_.run("ip link set " + host + " master br0 && ip link set " + host + " up"), 0);
      ASSERT_EQ(p->run("ip link set eth0 up && ip addr add 10.244.1." + n +
                       "/24 dev eth0 && ip addr add fd00:1::" + n +
                       "/64 dev eth0 nodad && ip route add default via 10.244.1.1 && "
                       "ip -6 route add default via fd00:1::1"),
                0);
    }
    ASSERT_EQ(shell("ip link add rem netns " + node_.name() + " type veth peer name eth0 netns " +
                    r_.name()),
              0);
    ASSERT_EQ(node_.run("ip link set rem up && ip addr add 10.244.2.1/24 dev rem && "
                        "ip addr add fd00:2::1/64 dev rem nodad"),
              0);
    ASSERT_EQ(
        r_.run("ip link set eth0 up && ip addr add 10.244.2.2/24 dev eth0 && "
               "ip addr add fd00:2::2/64 dev eth0 nodad && "
               "ip route add default via 10.244.2.1 && ip -6 route add default via fd00:2::1"),
        0);
    std::vector<std::pair<TestNetns*, std::string>> servers = {
        {&a_, "a"}, {&b_, "b"}, {&c_, "c"}, {&r_, "r"}};
    for (auto& [ns, name] : servers)
      for (const char* port : {"80", "8080"}) {
        std::string ready = "/tmp/" + ns->name() + "." + port;
        std::string pid =
            ns->output("python3 " + kLib + "echo_server.py --name " + name + " --port " + port +
                       " --ready-file " + ready + " >/dev/null 2>&1 & echo $!");
        servers_.push_back(std::stoi(pid));
        ASSERT_EQ(shell("for i in $(seq 100); do [ -e " + ready +
                        " ] && exit 0; sleep 0.05; done; exit 1"),
                  0);
        shell("rm -f " + ready);
      }
    cluster_.replaceNamespaces({{"default", "", {{"ns", "default"}}}});
    cluster_.replacePolicies({});
    std::vector<model::PodObject> pods = {
        pod("a", "n1", {"10.244.1.2", "fd00:1::2"}, {{"app", "a"}},
            {{"http", model::Protocol::kTCP, 8080}}),
        pod("b", "n1", {"10.244.1.3", "fd00:1::3"}, {{"app", "b"}}),
        pod("c", "n1", {"10.244.1.4", "fd00:1::4"}, {{"app", "c"}},
            {{"http", model::Protocol::kTCP, 8080}}),
        pod("r", "n2", {"10.244.2.2", "fd00:2::2"}, {{"app", "r"}})};
    cluster_.replacePods(std::move(pods));
  }

  void TearDown() override {
    // By pid: the machine may run other echo servers (a lab).
    for (int pid : servers_) shell("kill " + std::to_string(pid) + " 2>/dev/null");
  }

  // Writes what the cluster asks for now, as the agent does: the difference from what was
  // written before (whole the first time). Returns the plan.
  Plan write() {
    Desired want = desired(cluster_);
    Plan p = plan(applied_ ? &*applied_ : nullptr, want);
    inside(node_, [&](netlink::Handle&) {
      nft::KernelTableEdge edge(kPolicyTable);
      Status st = applyPlan(edge, p);
      EXPECT_TRUE(st.ok()) << st.error().message << "\n" << p.sets << p.rest;
    });
    applied_ = std::move(want);
    return p;
  }

  // A TCP connection from `from` to addr:port is answered.
  static bool reaches(const TestNetns& from, const std::string& addr, int port) {
    return from.run("python3 " + kLib + "echo_client.py " + addr + " " + std::to_string(port) +
                    " --timeout 0.5 >/dev/null 2>&1") == 0;
  }

  TestNetns node_{"pol-node"}, a_{"pol-a"}, b_{"pol-b"}, c_{"pol-c"}, r_{"pol-r"};
  std::vector<int> servers_;
  Cluster cluster_{"n1"};
  std::optional<Desired> applied_;
};

TEST_F(PolicyKernelTest, IngressIsolatesTheSelectedPodAndAllowsOnlyItsPeers) {
  ASSERT_TRUE(reaches(c_, "10.244.1.2", 80)) << "no policy: everything passes";
  model::NetworkPolicyObject p;
  p.ns = "default";
  p.name = "a-from-b";
  p.podSelector = app("a");
  p.ingress = true;
  model::PolicyRule rule;
  rule.peers.push_back({app("b"), std::nullopt, std::nullopt, {}});
  rule.ports.push_back({model::Protocol::kTCP, 80, 0, ""});
  p.ingressRules.push_back(rule);
  cluster_.upsertPolicy(p);
  write();
  for (const char* a : {"10.244.1.2", "fd00:1::2"}) {
    EXPECT_TRUE(reaches(b_, a, 80)) << "b -> a " << a << ": the policy allows it";
    EXPECT_FALSE(reaches(b_, a, 8080)) << "b -> a " << a << ":8080: not an allowed port";
    EXPECT_FALSE(reaches(c_, a, 80)) << "c -> a " << a << ": same node, not a peer";
    EXPECT_FALSE(reaches(r_, a, 80)) << "r -> a " << a << ": another node, not a peer";
    EXPECT_TRUE(reaches(node_, a, 80)) << "the node itself (the kubelet's probes) passes";
  }
  EXPECT_TRUE(reaches(a_, "10.244.1.4", 80)) << "a's own connections and their replies pass";
  EXPECT_TRUE(reaches(c_, "10.244.1.3", 80)) << "b is not isolated";

  // c takes b's label: an element of the peer set, nothing else.
  cluster_.upsertPod(pod("c", "n1", {"10.244.1.4", "fd00:1::4"}, {{"app", "b"}}));
  Plan p2 = write();
  EXPECT_EQ(p2.sets, "");
  EXPECT_EQ(p2.rest, "");
  ASSERT_EQ(p2.elements.size(), 2u);
  EXPECT_TRUE(reaches(c_, "10.244.1.2", 80));
  EXPECT_TRUE(reaches(c_, "fd00:1::2", 80));

  // The policy goes: a is open again, and the table holds nothing of it.
  cluster_.removePolicy("default", "a-from-b");
  write();
  EXPECT_TRUE(reaches(r_, "10.244.1.2", 80));
  std::string listed = node_.output("nft list table inet routelet_policy");
  EXPECT_EQ(listed.find("chain pi_"), std::string::npos) << listed;
  EXPECT_EQ(listed.find("set s"), std::string::npos) << listed;
}

TEST_F(PolicyKernelTest, EgressWithANamedPortAndAnIpBlock) {
  model::NetworkPolicyObject p;
  p.ns = "default";
  p.name = "b-out";
  p.podSelector = app("b");
  p.ingress = true;  // and nothing may reach b
  p.egress = true;
  model::PolicyRule named;
  named.peers.push_back({app("a"), std::nullopt, std::nullopt, {}});
  named.ports.push_back({model::Protocol::kTCP, 0, 0, "http"});
  model::PolicyRule block;
  block.peers.push_back({std::nullopt,
                         std::nullopt,
                         *ip::Prefix::parse("10.244.2.0/24"),
                         {*ip::Prefix::parse("10.244.2.2/32")}});
  block.peers.push_back({std::nullopt, std::nullopt, *ip::Prefix::parse("fd00:2::/64"), {}});
  block.anyPort = true;
  p.egressRules = {named, block};
  cluster_.upsertPolicy(p);
  write();
  EXPECT_TRUE(reaches(b_, "10.244.1.2", 8080)) << "a names 8080 http";
  EXPECT_TRUE(reaches(b_, "fd00:1::2", 8080));
  EXPECT_FALSE(reaches(b_, "10.244.1.2", 80)) << "port 80 is not http";
  EXPECT_FALSE(reaches(b_, "10.244.1.4", 8080)) << "c names http too, but is not a peer";
  EXPECT_FALSE(reaches(b_, "10.244.2.2", 80)) << "the block's exception";
  EXPECT_TRUE(reaches(b_, "fd00:2::2", 80)) << "inside the IPv6 block";
  EXPECT_FALSE(reaches(a_, "10.244.1.3", 80)) << "b is isolated for ingress with no rule";
  EXPECT_TRUE(reaches(node_, "10.244.1.3", 80)) << "except from its own node";
  EXPECT_TRUE(reaches(a_, "10.244.1.4", 80)) << "a and c are not isolated";
}

TEST_F(PolicyKernelTest, TheTableIsWrittenWholeOverAnythingAndOtherTablesStay) {
  ASSERT_EQ(node_.run("nft add table inet other && nft add chain inet other c"), 0);
  model::NetworkPolicyObject deny;
  deny.ns = "default";
  deny.name = "deny";
  deny.podSelector = model::LabelSelector{};
  deny.ingress = true;
  cluster_.upsertPolicy(deny);
  write();
  ASSERT_EQ(node_.run("nft flush chain inet routelet_policy ingress"), 0);
  EXPECT_TRUE(reaches(b_, "10.244.1.2", 80)) << "someone flushed the table's chain";
  applied_.reset();  // what the agent does after another process changed the table
  write();
  EXPECT_FALSE(reaches(b_, "10.244.1.2", 80));
  EXPECT_TRUE(reaches(node_, "10.244.1.2", 80));
  EXPECT_EQ(node_.run("nft list chain inet other c >/dev/null"), 0) << "another table stays";
  inside(node_, [&](netlink::Handle&) {
    nft::KernelTableEdge edge(kPolicyTable);
    EXPECT_TRUE(edge.nft(removalScript()).ok());
    EXPECT_TRUE(edge.nft(removalScript()).ok()) << "removing no table is not an error";
  });
  EXPECT_NE(node_.run("nft list table inet routelet_policy >/dev/null 2>&1"), 0);
  EXPECT_TRUE(reaches(b_, "10.244.1.2", 80));
}

// A whole table of 250 000 pods' addresses: the monitor, told the agent's element socket,
// sees the commit and is not overrun by its 250 000 element notifications, which the
// receive queue cannot hold (without the filter, this test fails so).
TEST(PolicyMonitorTest, TheAgentsOwnElementsDoNotOverrunTheMonitor) {
  if (!requireRootAndIp() || !requireTools()) return;
  TestNetns ns("pol-mon");
  ASSERT_TRUE(ns.ok());
  inside(ns, [&](netlink::Handle&) {
    Cluster c("n1");
    std::vector<model::PodObject> pods;
    for (int i = 0; i < 250000; ++i) {
      uint8_t b[4] = {10, static_cast<uint8_t>(100 + i / 65536), static_cast<uint8_t>(i / 256),
                      static_cast<uint8_t>(i % 256)};
      model::PodObject p = pod("p" + std::to_string(i), i < 10 ? "n1" : "n2", {}, {{"app", "a"}});
      p.ips.push_back(ip::Address::fromBytes(ip::Family::kV4, b));
      pods.push_back(std::move(p));
    }
    c.replacePods(std::move(pods));
    c.replaceNamespaces({{"default", "", {}}});
    model::NetworkPolicyObject p;
    p.ns = "default";
    p.name = "from-all";
    p.podSelector = model::LabelSelector{};
    p.ingress = true;
    model::PolicyRule rule;
    rule.peers.push_back({model::LabelSelector{}, std::nullopt, std::nullopt, {}});
    rule.anyPort = true;
    p.ingressRules = {rule};
    c.replacePolicies({p});
    nft::KernelTableEdge edge(kPolicyTable);
    auto port = edge.portId();
    ASSERT_TRUE(port.ok()) << port.error().message;
    auto monitor = netlink::Monitor::openNftables();
    ASSERT_TRUE(monitor.ok()) << monitor.error().message;
    ASSERT_TRUE(monitor->ignoreElementsFrom({*port}).ok());
    Status st = applyPlan(edge, plan(nullptr, desired(c)));
    ASSERT_TRUE(st.ok()) << st.error().message;
    bool own = false;
    for (int round = 0; round < 20 && !own; ++round) {
      auto events = monitor->wait(std::chrono::milliseconds(100));
      ASSERT_TRUE(events.ok()) << "the monitor overran: " << events.error().message;
      for (const auto& e : *events) own = own || e.nft.portid == *port;
    }
    EXPECT_TRUE(own) << "the commit of the agent's element socket";
  });
}

}  // namespace
}  // namespace routelet::policy
