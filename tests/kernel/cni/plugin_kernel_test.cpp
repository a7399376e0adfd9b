// routelet-cni against the real kernel: a "node" netns where the plugin runs (bridge, host
// veths) and pod netns, all made by TestNetns; the plugin binary is exec'd like a runtime
// execs it.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "cni/config/net_conf.h"
#include "cni/ipam/disk_store.h"
#include "common/bridge/bridge.h"
#include "common/netlink/netlink.h"
#include "common/netlink/netns.h"
#include "tests/kernel/cni/plugin_runner.h"
#include "tests/support/netns_fixture.h"
#include "tests/support/temp_dir.h"

namespace routelet::testing {
namespace {
using nlohmann::json;
namespace ipam = cni::ipam;
namespace config = cni::config;

// Longer than any plugin run takes here, ASan and a loaded machine included: a run still
// going then is blocked, and is killed so the test fails instead of hanging the suite.
constexpr std::chrono::seconds kBlockedAfter{20};

constexpr const char* kDualStack =
    R"([{"subnet":"10.244.1.0/24"},{"subnet":"fd00:10:244:1::/64","gateway":"fd00:10:244:1::1"}])";

class CniKernelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!requireRootAndIp()) GTEST_SKIP_("(failure recorded above)");
    node_ = std::make_unique<TestNetns>("cnode");
    ASSERT_TRUE(node_->ok());
  }
  void TearDown() override { node_.reset(); }

  std::string conf(const std::string& ranges = kDualStack, const std::string& version = "1.1.0",
                   const std::string& extra = "") const {
    return R"({"cniVersion":")" + version +
           R"(","name":"routelet","type":"routelet-cni","bridge":"cni0","mtu":1400,)"
           R"("dataDir":")" +
           dataDir_ + R"(","ranges":)" + ranges + extra + "}";
  }
  static std::map<std::string, std::string> env(const std::string& command, const std::string& id,
                                                const std::string& netns,
                                                const std::string& ifname = "eth0") {
    return {{"CNI_COMMAND", command},
            {"CNI_CONTAINERID", id},
            {"CNI_NETNS", netns},
            {"CNI_IFNAME", ifname},
            {"CNI_PATH", "/opt/cni/bin"},
            {"CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=" + id}};
  }
  PluginRun run(const std::string& command, const std::string& id, const std::string& netns,
                const std::string& config) const {
    return runPlugin(node_->path(), env(command, id, netns), config);
  }
  PluginProcess start(const std::string& command, const std::string& id, const std::string& netns,
                      const std::string& config) const {
    return PluginProcess(node_->path(), env(command, id, netns), config);
  }
  // ADD that must succeed; returns the parsed result.
  json add(const std::string& id, const TestNetns& pod, const std::string& config = "") {
    auto r = run("ADD", id, pod.path(), config.empty() ? conf() : config);
    EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
    json doc = json::parse(r.out, nullptr, false);
    EXPECT_TRUE(doc.is_object()) << r.out;
    return doc;
  }
  static void expectError(const PluginRun& r, int code, const std::string& mention) {
    EXPECT_NE(r.exitCode, 0) << r.out;
    json doc = json::parse(r.out, nullptr, false);
    ASSERT_TRUE(doc.is_object()) << "stdout must hold one JSON error, got: " << r.out;
    EXPECT_EQ(doc["code"], code) << r.out;
    ASSERT_TRUE(doc["msg"].is_string()) << "not an error object: " << r.out;
    EXPECT_NE(doc["msg"].get<std::string>().find(mention), std::string::npos) << r.out;
  }

  std::vector<ipam::Lease> leases() const {
    auto store = ipam::DiskStore::open(dataDir_, "routelet");
    EXPECT_TRUE(store.ok());
    auto all = store->all();
    EXPECT_TRUE(all.ok());
    return all.ok() ? *all : std::vector<ipam::Lease>{};
  }
  // Links of a namespace, read through netlink from this process.
  static std::vector<netlink::Link> links(const TestNetns& ns) {
    auto fd = netns::Fd::open(ns.path());
    EXPECT_TRUE(fd.ok());
    if (!fd.ok()) return {};
    auto h = netlink::Handle::openIn(fd->get());
    EXPECT_TRUE(h.ok());
    auto l = h->links();
    EXPECT_TRUE(l.ok());
    return l.ok() ? *l : std::vector<netlink::Link>{};
  }
  static std::optional<netlink::Link> link(const TestNetns& ns, const std::string& name) {
    for (auto& l : links(ns))
      if (l.name == name) return l;
    return std::nullopt;
  }
  // Links the plugin names: host veths ("rl" + hex); none may show up in a pod netns.
  static size_t routeletLinks(const TestNetns& ns) {
    size_t n = 0;
    for (auto& l : links(ns))
      if (l.name.rfind("rl", 0) == 0) ++n;
    return n;
  }
  static bool ping(const TestNetns& from, const std::string& address) {
    return from.run("ping -c1 -W2 -q " + address + " >/dev/null 2>&1") == 0;
  }
  static std::string address(const json& result, size_t i) {
    std::string cidr = result["ips"][i]["address"];
    return cidr.substr(0, cidr.find('/'));
  }

  std::unique_ptr<TestNetns> node_;
  routelet::testing::TempDir tmp_{"cni-kernel"};
  std::string dataDir_ = tmp_.path();
};

TEST_F(CniKernelTest, AddConnectsDualStackPodsToTheGatewayAndEachOther) {
  TestNetns pod1("cpod"), pod2("cpod");
  json r1 = add("c1", pod1);
  json r2 = add("c2", pod2);
  ASSERT_EQ(r1["ips"].size(), 2u);
  ASSERT_EQ(r2["ips"].size(), 2u);
  EXPECT_EQ(r1["cniVersion"], "1.1.0");

  // Over both families: pod -> gateway, pod -> other pod.
  EXPECT_TRUE(ping(pod1, "10.244.1.1"));
  EXPECT_TRUE(ping(pod1, "fd00:10:244:1::1"));
  EXPECT_TRUE(ping(pod1, address(r2, 0)));
  EXPECT_TRUE(ping(pod1, address(r2, 1)));
  EXPECT_TRUE(ping(pod2, address(r1, 1)));

  // The pod interface: its name, MAC, MTU, up, addresses without DAD, loopback up.
  auto eth0 = link(pod1, "eth0");
  ASSERT_TRUE(eth0);
  EXPECT_EQ(netlink::macString(eth0->mac), r1["interfaces"][2]["mac"]);
  EXPECT_EQ(eth0->mtu, 1400u);
  EXPECT_TRUE(eth0->up);
  EXPECT_EQ(pod1.output("cat /proc/sys/net/ipv6/conf/eth0/accept_dad"), "0\n");
  EXPECT_EQ(pod1.run("ip -6 addr show dev eth0 | grep -q tentative"), 1) << "no tentative address";
  EXPECT_TRUE(link(pod1, "lo")->up);
  EXPECT_EQ(pod1.run("ip route show default | grep -q 'via 10.244.1.1 dev eth0'"), 0);
  EXPECT_EQ(pod1.run("ip -6 route show default | grep -q 'via fd00:10:244:1::1 dev eth0'"), 0);
  EXPECT_EQ(routeletLinks(pod1), 0u) << "the pod end has only CNI_IFNAME as its name";

  // Node side: bridge with a fixed MAC and both gateways; host veth on it, up, with its MAC.
  auto br = link(*node_, "cni0");
  ASSERT_TRUE(br);
  EXPECT_EQ(br->kind, "bridge");
  EXPECT_EQ(br->mac, bridge::bridgeMacFor("cni0"));
  EXPECT_EQ(netlink::macString(br->mac), r1["interfaces"][0]["mac"]);
  EXPECT_EQ(node_->run("ip addr show dev cni0 | grep -q 'inet 10.244.1.1/24'"), 0);
  EXPECT_EQ(node_->run("ip addr show dev cni0 | grep -q 'inet6 fd00:10:244:1::1/64'"), 0);
  std::string hostName = r1["interfaces"][1]["name"];
  auto host = link(*node_, hostName);
  ASSERT_TRUE(host);
  EXPECT_EQ(host->master, br->index);
  EXPECT_TRUE(host->up);
  EXPECT_EQ(netlink::macString(host->mac), r1["interfaces"][1]["mac"]);
  EXPECT_EQ(leases().size(), 4u);

  // IPv6: the pod has its link-local address; the host veth, a bridge port, makes none.
  EXPECT_NE(pod1.output("ip -6 addr show dev eth0 scope link"), "");
  EXPECT_EQ(node_->run("ip -d link show dev " + hostName + " | grep -q 'addrgenmode none'"), 0);
  EXPECT_EQ(node_->output("ip -6 addr show dev " + hostName), "");

  // One transmit and one receive queue on each end, not one per possible CPU.
  EXPECT_EQ(
      node_->run("ip -d link show dev " + hostName + " | grep -q 'numtxqueues 1 numrxqueues 1 '"),
      0);
  EXPECT_EQ(pod1.run("ip -d link show dev eth0 | grep -q 'numtxqueues 1 numrxqueues 1 '"), 0);

  // The bridge port reflects frames back to their sender (a pod reaching a Service whose
  // endpoint is itself): hairpin mode, on unless the config turns it off.
  EXPECT_EQ(node_->run("ip -d link show dev " + hostName + " | grep -q 'hairpin on'"), 0);
}

TEST_F(CniKernelTest, HairpinModeFalseLeavesTheBridgePortPlain) {
  TestNetns pod("cpod");
  std::string config = conf(R"([{"subnet":"10.244.1.0/24"}])");
  config.insert(config.size() - 1, R"(,"hairpinMode":false)");
  json r = add("c1", pod, config);
  std::string hostName = r["interfaces"][1]["name"];
  EXPECT_EQ(node_->run("ip -d link show dev " + hostName + " | grep -q 'hairpin off'"), 0);
  EXPECT_TRUE(ping(pod, "10.244.1.1"));
}

TEST_F(CniKernelTest, Ipv4OnlyPodMakesNoIpv6LinkLocalAddress) {
  TestNetns pod("cpod");
  json r = add("c1", pod, conf(R"([{"subnet":"10.244.1.0/24"}])"));
  EXPECT_TRUE(ping(pod, "10.244.1.1"));
  // No IPv6 address on the pod's interface, now or later: nothing of IPv6 to flood the
  // bridge with. Loopback keeps ::1, so programs that bind [::1] still work.
  EXPECT_EQ(pod.run("ip -d link show dev eth0 | grep -q 'addrgenmode none'"), 0);
  EXPECT_EQ(pod.output("ip -6 addr show dev eth0"), "");
  EXPECT_NE(pod.output("ip -6 addr show dev lo"), "");
  std::string hostName = r["interfaces"][1]["name"];
  EXPECT_EQ(node_->run("ip -d link show dev " + hostName + " | grep -q 'addrgenmode none'"), 0);
}

TEST_F(CniKernelTest, Ipv4OnlyPodBelowIpv6MinimumMtuWorks) {
  // Below 1280 bytes a link has no IPv6 state, and the kernel refuses to turn off what is
  // not there (EAFNOSUPPORT): the ADD goes on.
  std::string config = conf(R"([{"subnet":"10.244.1.0/24"}])");
  config.replace(config.find(R"("mtu":1400)"), 10, R"("mtu":1200)");
  TestNetns pod("cpod");
  json r = add("c1", pod, config);
  EXPECT_EQ(r["interfaces"][2]["mtu"], 1200);
  EXPECT_TRUE(ping(pod, "10.244.1.1"));
  EXPECT_EQ(pod.output("ip -6 addr show dev eth0"), "");
}

TEST_F(CniKernelTest, OldConfigVersionsGetTheirResultShape) {
  TestNetns pod("cpod");
  json r = add("c1", pod, conf(kDualStack, "0.3.1"));
  EXPECT_EQ(r["cniVersion"], "0.3.1");
  EXPECT_EQ(r["ips"][0]["version"], "4");
  EXPECT_EQ(r["ips"][1]["version"], "6");
  EXPECT_TRUE(ping(pod, "10.244.1.1"));
}

TEST_F(CniKernelTest, CheckPassesThenReportsARemovedAddress) {
  TestNetns pod("cpod");
  json r = add("c1", pod);
  std::string withPrev = conf();
  withPrev.pop_back();
  withPrev += R"(,"prevResult":)" + r.dump() + "}";
  auto ok = run("CHECK", "c1", pod.path(), withPrev);
  EXPECT_EQ(ok.exitCode, 0) << ok.out << ok.err;
  EXPECT_EQ(ok.out, "");

  std::string v4 = r["ips"][0]["address"];
  ASSERT_EQ(pod.run("ip addr del " + v4 + " dev eth0"), 0);
  auto bad = run("CHECK", "c1", pod.path(), withPrev);
  expectError(bad, 104, "address " + v4 + " is missing");
}

TEST_F(CniKernelTest, DelTwiceSucceedsAndLeavesNothing) {
  TestNetns pod("cpod");
  add("c1", pod);
  for (int i = 0; i < 2; ++i) {
    auto r = run("DEL", "c1", pod.path(), conf());
    EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
    EXPECT_EQ(r.out, "");
  }
  EXPECT_TRUE(leases().empty());
  EXPECT_EQ(routeletLinks(*node_), 0u);
  EXPECT_FALSE(link(pod, "eth0"));
  // DEL for a container never added succeeds too.
  EXPECT_EQ(run("DEL", "never", pod.path(), conf()).exitCode, 0);
}

TEST_F(CniKernelTest, DelAfterTheNetnsIsGoneReleasesLeaseAndVeth) {
  auto pod = std::make_unique<TestNetns>("cpod");
  add("c1", *pod);
  const std::string path = pod->path();
  pod.reset();  // the runtime removed the sandbox before DEL
  auto r = run("DEL", "c1", path, conf());
  EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_TRUE(leases().empty());
  EXPECT_EQ(routeletLinks(*node_), 0u);
}

TEST_F(CniKernelTest, DelWithEmptyNetnsRemovesTheHostVethAndTheLease) {
  TestNetns pod("cpod");
  add("c1", pod);
  auto r = run("DEL", "c1", "", conf());
  EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_TRUE(leases().empty());
  EXPECT_EQ(routeletLinks(*node_), 0u);
  EXPECT_FALSE(link(pod, "eth0")) << "the pod end goes with its host end";
}

TEST_F(CniKernelTest, HundredConcurrentAddsGetDistinctReachableAddressesAndDelsLeaveNothing) {
  constexpr int kPods = 100;
  std::vector<std::unique_ptr<TestNetns>> pods;
  for (int i = 0; i < kPods; ++i) {
    pods.push_back(std::make_unique<TestNetns>("cp"));
    ASSERT_TRUE(pods.back()->ok());
  }
  // All 100 processes are started before any is waited for.
  std::vector<PluginProcess> procs;
  for (int i = 0; i < kPods; ++i)
    procs.push_back(start("ADD", "pod" + std::to_string(i), pods[i]->path(), conf()));
  std::set<std::string> v4, v6;
  std::vector<std::string> v4List;
  for (int i = 0; i < kPods; ++i) {
    auto r = procs[i].finish();
    ASSERT_EQ(r.exitCode, 0) << "pod" << i << ": " << r.out << r.err;
    json doc = json::parse(r.out);
    v4.insert(address(doc, 0));
    v6.insert(address(doc, 1));
    v4List.push_back(address(doc, 0));
  }
  EXPECT_EQ(v4.size(), static_cast<size_t>(kPods));
  EXPECT_EQ(v6.size(), static_cast<size_t>(kPods));
  EXPECT_EQ(leases().size(), 2u * kPods);

  // Every pod answers from the node over IPv4 (one shell, one ping each); a few over IPv6
  // and pod to pod.
  std::string script;
  for (const auto& a : v4List) script += "ping -c1 -W2 -q " + a + " >/dev/null || echo " + a + ";";
  EXPECT_EQ(node_->output(script), "") << "unreachable pods listed";
  int i = 0;
  for (const auto& a : v6) {
    if (i++ % 25 == 0) {
      EXPECT_TRUE(ping(*node_, a)) << a;
    }
  }
  EXPECT_TRUE(ping(*pods[0], v4List[kPods - 1]));

  procs.clear();
  for (int k = 0; k < kPods; ++k)
    procs.push_back(start("DEL", "pod" + std::to_string(k), pods[k]->path(), conf()));
  for (int k = 0; k < kPods; ++k) {
    auto r = procs[k].finish();
    EXPECT_EQ(r.exitCode, 0) << "pod" << k << ": " << r.out << r.err;
  }
  EXPECT_TRUE(leases().empty());
  EXPECT_EQ(routeletLinks(*node_), 0u);
  for (const auto& p : pods) EXPECT_FALSE(link(*p, "eth0"));
}

TEST_F(CniKernelTest, SmallRangeRunsOutWithAClearErrorAndStatusSays50) {
  // A /29 has 8 addresses: network, gateway and broadcast leave 5 for pods.
  const std::string small = conf(R"([{"subnet":"10.77.0.0/29"}])");
  std::vector<std::unique_ptr<TestNetns>> pods;
  for (int i = 0; i < 6; ++i) pods.push_back(std::make_unique<TestNetns>("cpod"));
  for (int i = 0; i < 5; ++i) add("p" + std::to_string(i), *pods[i], small);
  EXPECT_EQ(run("STATUS", "", "", small).exitCode, 1) << "pool is now full";
  auto r = run("ADD", "p5", pods[5]->path(), small);
  expectError(r, 100, "10.77.0.0/29");
  EXPECT_FALSE(link(*pods[5], "eth0"));
  EXPECT_EQ(routeletLinks(*node_), 5u);
  EXPECT_EQ(leases().size(), 5u);

  auto status = run("STATUS", "", "", small);
  expectError(status, 50, "exhausted");
  ASSERT_EQ(run("DEL", "p0", pods[0]->path(), small).exitCode, 0);
  status = run("STATUS", "", "", small);
  EXPECT_EQ(status.exitCode, 0) << status.out;
  EXPECT_EQ(status.out, "");
}

TEST_F(CniKernelTest, SecondAddForTheSameAttachmentIsRefusedAndChangesNothing) {
  TestNetns pod("cpod");
  json first = add("c1", pod);
  auto r = run("ADD", "c1", pod.path(), conf());
  expectError(r, 101, "c1");
  EXPECT_EQ(leases().size(), 2u);
  EXPECT_EQ(routeletLinks(*node_), 1u);
  EXPECT_TRUE(ping(pod, "10.244.1.1")) << "the first attachment still works";
  EXPECT_EQ(address(first, 0), pod.output("ip -4 -o addr show dev eth0 | awk '{print $4}' | "
                                          "cut -d/ -f1 | tr -d '\\n'"));
}

TEST_F(CniKernelTest, GcReleasesEverythingOutsideTheValidList) {
  TestNetns p1("cpod"), p2("cpod"), p3("cpod");
  add("c1", p1);
  json keep = add("c2", p2);
  add("c3", p3);
  // A port routelet did not make stays on the bridge.
  ASSERT_EQ(node_->run("ip link add fv0 type veth peer name fv1 && ip link set fv0 master cni0"),
            0);
  auto r = run("GC", "", "",
               conf(kDualStack, "1.1.0",
                    R"(,"cni.dev/valid-attachments":[{"containerID":"c2","ifname":"eth0"}])"));
  EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "");
  auto held = leases();
  ASSERT_EQ(held.size(), 2u);
  for (const auto& l : held) EXPECT_EQ(l.owner.containerId, "c2");
  EXPECT_EQ(routeletLinks(*node_), 1u);
  EXPECT_TRUE(link(*node_, keep["interfaces"][1]["name"].get<std::string>()));
  EXPECT_TRUE(link(*node_, "fv0"));
  EXPECT_FALSE(link(p1, "eth0"));
  EXPECT_TRUE(ping(p2, "10.244.1.1"));
}

TEST_F(CniKernelTest, ExistingIfnameFailsTheAddAndLeaksNothing) {
  TestNetns pod("cpod");
  ASSERT_EQ(pod.run("ip link add eth0 type veth peer name other0"), 0);
  auto r = run("ADD", "c1", pod.path(), conf());
  expectError(r, 103, "eth0");
  EXPECT_TRUE(leases().empty());
  EXPECT_EQ(routeletLinks(*node_), 0u);
  EXPECT_EQ(routeletLinks(pod), 0u) << "no pod end left behind";
  auto eth0 = link(pod, "eth0");
  ASSERT_TRUE(eth0);
  EXPECT_EQ(eth0->kind, "veth");  // the pod's own interface is untouched
  EXPECT_TRUE(link(pod, "other0"));
}

TEST_F(CniKernelTest, LeftoverHostVethOfTheAttachmentIsReplaced) {
  // A host veth left by an ADD whose lease is gone (here: the store was emptied) has the
  // name this attachment derives. Creating the pair then fails with EEXIST, like a taken
  // CNI_IFNAME would; the plugin must tell the two apart and replace the leftover.
  TestNetns old("cpod"), pod("cpod");
  json first = add("c1", old);
  std::filesystem::remove_all(dataDir_ + "/routelet");
  json second = add("c1", pod);
  EXPECT_EQ(second["interfaces"][1]["name"], first["interfaces"][1]["name"]);
  EXPECT_FALSE(link(old, "eth0")) << "the leftover's pod end went with it";
  EXPECT_TRUE(link(pod, "eth0"));
  EXPECT_EQ(routeletLinks(*node_), 1u);
  EXPECT_TRUE(ping(pod, "10.244.1.1"));
}

TEST_F(CniKernelTest, FailuresAfterAllocationLeakNothing) {
  // 1. The netns path does not exist (allocation happens first, then the netns is opened).
  auto r = run("ADD", "c1", "/var/run/netns/rlt-does-not-exist", conf());
  expectError(r, 3, "rlt-does-not-exist");
  // 2. The netns path is a file, not a namespace.
  std::string notNs = dataDir_ + "/not-a-netns";
  ASSERT_EQ(shell("touch " + notNs), 0);
  r = run("ADD", "c1", notNs, conf());
  expectError(r, 3, "not-a-netns");
  // 3. The bridge name is taken by a link that is not a bridge.
  TestNetns pod("cpod");
  ASSERT_EQ(node_->run("ip link add cni0 type veth peer name cni0p"), 0);
  r = run("ADD", "c1", pod.path(), conf());
  expectError(r, 102, "cni0");
  EXPECT_TRUE(leases().empty());
  EXPECT_EQ(routeletLinks(*node_), 0u);
  EXPECT_EQ(routeletLinks(pod), 0u);
  EXPECT_FALSE(link(pod, "eth0"));
}

// Issue 23 row 5. A pod end made in the node's own namespace took the node's default route
// ("replace" via the bridge gateway), and its DEL then deleted it with the link.
TEST_F(CniKernelTest, TheNodesOwnNetnsIsRefusedAndItsDelLeavesTheNodeAlone) {
  ASSERT_EQ(node_->run("ip link add up0 type veth peer name up1 && ip link set up1 up && "
                       "ip link set up0 up && ip addr add 192.0.2.10/24 dev up0 && "
                       "ip route add default via 192.0.2.1"),
            0);
  // IPv6 addresses are left out: their duplicate address detection ends while the test runs.
  const std::string nodeState = "ip -4 route show; ip -6 route show; ip -4 -o addr show";
  const std::string before = node_->output(nodeState);
  ASSERT_NE(before.find("default via 192.0.2.1 dev up0"), std::string::npos) << before;
  // IPv4 alone, as reproduced: with an IPv6 range the ADD failed at the IPv6 route, after
  // the IPv4 one had replaced the node's default route.
  const std::string v4 = conf(R"([{"subnet":"10.244.1.0/24"}])");
  // By the plugin's own /proc path and by the node's bind mount: the namespace is the same.
  for (const std::string& netns : {std::string("/proc/self/ns/net"), node_->path()}) {
    auto r = runPlugin(node_->path(), env("ADD", "c1", netns, "podif0"), v4);
    expectError(r, 4, "CNI_NETNS \"" + netns + "\" is the node's own network namespace");
    EXPECT_FALSE(link(*node_, "podif0")) << netns;
    EXPECT_EQ(routeletLinks(*node_), 0u) << netns;
    EXPECT_TRUE(leases().empty()) << netns;
    std::string withPrev = v4;
    withPrev.pop_back();
    withPrev += R"(,"prevResult":{"interfaces":[],"ips":[]}})";
    expectError(runPlugin(node_->path(), env("CHECK", "c1", netns, "podif0"), withPrev), 4,
                "is the node's own network namespace");
  }
  EXPECT_EQ(node_->output(nodeState), before);
  // DEL with the same variables succeeds (a failing DEL is retried for ever), also with
  // CNI_IFNAME naming the node's uplink: DEL never looks CNI_IFNAME up in CNI_NETNS.
  for (const char* ifname : {"podif0", "up0"}) {
    auto del = runPlugin(node_->path(), env("DEL", "c1", "/proc/self/ns/net", ifname), v4);
    EXPECT_EQ(del.exitCode, 0) << ifname << ": " << del.out << del.err;
    EXPECT_EQ(del.out, "");
  }
  EXPECT_EQ(node_->output(nodeState), before);
  EXPECT_TRUE(link(*node_, "up0"));
}

// Issue 23 row 10: open(2) of a FIFO waits for a writer. As CNI_NETNS it held ADD (and its
// lease) for ever; anything else that is not a namespace is refused the same way.
TEST_F(CniKernelTest, AFifoAsNetnsIsRefusedAtOnceAndLeavesNoLease) {
  const std::string fifo = dataDir_ + "/netns-fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  for (const char* verb : {"ADD", "CHECK"}) {
    std::string config = conf();
    if (std::string(verb) == "CHECK") {
      config.pop_back();
      config += R"(,"prevResult":{"interfaces":[],"ips":[]}})";
    }
    auto r = PluginProcess(node_->path(), env(verb, "c1", fifo), config).finish(kBlockedAfter);
    ASSERT_FALSE(r.killed) << verb << " blocked opening the FIFO " << fifo;
    expectError(
        r, 3, "CNI_NETNS \"" + fifo + "\" cannot be used: " + fifo + " is not a network namespace");
  }
  EXPECT_TRUE(leases().empty());
  EXPECT_EQ(routeletLinks(*node_), 0u);
}

// Issue 23 row 10: a FIFO in the lease directory held GC, and with it the store's lock, for
// ever: no pod on the node could be set up. GC reports it, releases the rest, and returns.
TEST_F(CniKernelTest, AFifoInTheStoreIsReportedByGcWhichGoesOn) {
  TestNetns p1("cpod"), p2("cpod"), p3("cpod");
  add("c1", p1);
  add("c2", p2);
  const std::string store = dataDir_ + "/routelet";
  for (const std::string& planted : {store + "/leases/10.244.1.250", store + "/attachments/x:eth0"})
    ASSERT_EQ(::mkfifo(planted.c_str(), 0600), 0) << planted;
  auto gc =
      PluginProcess(node_->path(), env("GC", "", "", ""),
                    conf(kDualStack, "1.1.0",
                         R"(,"cni.dev/valid-attachments":[{"containerID":"c2","ifname":"eth0"}])"))
          .finish(kBlockedAfter);
  ASSERT_FALSE(gc.killed) << "GC blocked on a FIFO in the store";
  expectError(gc, 105, "GC finished with 2 error(s)");
  json details = json::parse(gc.out, nullptr, false)["details"];
  ASSERT_TRUE(details.is_string()) << gc.out;
  for (const char* name : {"/leases/10.244.1.250 is a FIFO", "/attachments/x:eth0 is a FIFO"})
    EXPECT_NE(details.get<std::string>().find(store + name), std::string::npos) << gc.out;
  auto held = leases();
  ASSERT_EQ(held.size(), 2u);
  for (const auto& l : held) EXPECT_EQ(l.owner.containerId, "c2");
  EXPECT_FALSE(link(p1, "eth0"));
  // The store is not left locked: the next pod is set up.
  auto r = PluginProcess(node_->path(), env("ADD", "c3", p3.path()), conf()).finish(kBlockedAfter);
  ASSERT_FALSE(r.killed) << "ADD blocked on the store";
  EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
}

TEST_F(CniKernelTest, TheBinarySpeaksTheProtocolOnStdoutAndLogsElsewhere) {
  // VERSION with libcni's dummy variables.
  auto v = runPlugin(node_->path(),
                     {{"CNI_COMMAND", "VERSION"},
                      {"CNI_CONTAINERID", "dummy"},
                      {"CNI_NETNS", "dummy"},
                      {"CNI_IFNAME", "dummy"}},
                     R"({"cniVersion":"1.0.0"})");
  EXPECT_EQ(v.exitCode, 0);
  EXPECT_EQ(json::parse(v.out), json::parse(R"({"cniVersion":"1.0.0","supportedVersions":)"
                                            R"(["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]})"));
  // Missing variables: code 4 naming each, on stdout as one JSON document.
  auto e = runPlugin(node_->path(), {{"CNI_COMMAND", "ADD"}}, conf());
  expectError(e, 4, "CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME");
  EXPECT_EQ(json::parse(e.out)["cniVersion"], "1.1.0");
  // Bad JSON: code 6. Unsupported version: code 1. Bad config: code 7.
  TestNetns pod("cpod");
  expectError(run("ADD", "c1", pod.path(), "{"), 6, "JSON");
  expectError(run("ADD", "c1", pod.path(), conf(kDualStack, "9.9.9")), 1, "9.9.9");
  expectError(
      run("ADD", "c1", pod.path(), conf(R"([{"subnet":"10.1.0.0/16","gateway":"10.2.0.1"}])")), 7,
      "ranges[0].gateway \"10.2.0.1\"");
  EXPECT_TRUE(leases().empty());
  // Logs go to stderr, or to logFile when set; stdout holds only the result.
  TestNetns pod2("cpod");
  std::string logFile = dataDir_ + "/cni.log";
  auto a =
      run("ADD", "c2", pod2.path(), conf(kDualStack, "1.1.0", R"(,"logFile":")" + logFile + "\""));
  ASSERT_EQ(a.exitCode, 0) << a.out;
  EXPECT_TRUE(json::parse(a.out, nullptr, false).is_object());
  EXPECT_EQ(a.err, "");
  EXPECT_EQ(shell("grep -q 'ADD c2 eth0' " + logFile), 0);
}

}  // namespace
}  // namespace routelet::testing
