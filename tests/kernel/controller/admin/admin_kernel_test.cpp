// `routelet status` and `routelet cleanup` on a real kernel. A node namespace holds what
// the agent and routelet-cni leave on a node (bridge with routelet's MAC, a pod veth,
// routes with proto 201, the nftables table inet routelet, conflist, IPAM store,
// status.json) next to things that are not routelet's (a static route, another tool's
// nftables table, a CNI config of another plugin), and the built binary runs inside it
// with `ip netns exec`.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "common/bridge/bridge.h"
#include "common/netlink/netlink.h"
#include "tests/support/netns_fixture.h"
#include "tests/support/temp_dir.h"

namespace routelet::testing {
namespace {

namespace fsys = std::filesystem;

constexpr const char* kStatusJson = R"({
  "node": "lab-1", "ready": true, "state": "ready", "bridge": "cni0", "mtu": 1500,
  "podCIDRs": ["10.244.1.0/24", "fd00:10:244:1::/64"], "nodeIPs": ["192.168.1.11", "fd00::11"],
  "cniConfig": "@DIR@/net.d/10-routelet.conflist", "routeProtocol": 201,
  "masquerade": {"enabled": true, "detail": "2 destination ranges exempt", "table": "inet routelet"},
  "bridgeNetfilter": {"enabled": true}, "hairpin": true,
  "peers": [
    {"node": "lab-2", "family": "4", "podCIDR": "10.244.2.0/24", "nodeIP": "192.168.1.12", "state": "programmed"},
    {"node": "lab-2", "family": "6", "podCIDR": "fd00:10:244:2::/64", "nodeIP": "fd00::12", "state": "programmed"},
    {"node": "lab-3", "family": "4", "podCIDR": "10.244.3.0/24", "nodeIP": "192.168.1.13", "state": "programmed"},
    {"node": "lab-3", "family": "6", "podCIDR": "fd00:10:244:3::/64", "nodeIP": "fd00::13", "state": "programmed"}
  ]})";

struct CommandRun {
  int code;
  std::string out;
};

class AdminKernelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!requireRootAndIp()) GTEST_SKIP_("(failure recorded above)");
    if (shell("command -v nft >/dev/null 2>&1") != 0) {
      ADD_FAILURE() << "REAL-KERNEL TEST CANNOT RUN: `nft` (package nftables) is missing; run "
                       "scripts/setup";
      GTEST_SKIP_("(failure recorded above)");
    }
    node_ = std::make_unique<TestNetns>("admin");
    pod_ = std::make_unique<TestNetns>("apod");
    ASSERT_TRUE(node_->ok() && pod_->ok());
    std::string mac = netlink::macString(bridge::bridgeMacFor("cni0"));
    // The underlay: a veth pair with both ends in the node namespace (no dummy links here).
    ASSERT_EQ(node_->run("set -e\n"
                         "ip link add eth0 type veth peer name eth0p\n"
                         "ip link set eth0p up; ip link set eth0 up\n"
                         "ip addr add 192.168.1.11/24 dev eth0\n"
                         "ip addr add fd00::11/64 dev eth0 nodad\n"
                         "ip link add cni0 address " +
                         mac +
                         " type bridge\n"
                         "ip link set cni0 up\n"
                         "ip addr add 10.244.1.1/24 dev cni0\n"
                         "ip link add rl0123456789 type veth peer name eth0 netns " +
                         pod_->name() +
                         "\n"
                         "ip link set rl0123456789 master cni0 up\n"
                         "ip route add 10.244.2.0/24 via 192.168.1.12 proto 201\n"
                         "ip route add 10.244.3.0/24 via 192.168.1.13 proto 201\n"
                         "ip -6 route add fd00:10:244:2::/64 via fd00::12 proto 201\n"
                         "ip -6 route add fd00:10:244:3::/64 via fd00::13 proto 201\n"
                         "ip route add 10.99.0.0/16 via 192.168.1.1 proto static\n"
                         "ip -6 route add fd00:99::/64 via fd00::1 proto static\n"
                         // The agent's table as its masquerade script makes it, and another
                         // tool's of the same family.
                         "nft add table inet routelet\n"
                         "nft add chain inet routelet postrouting '{ type nat hook postrouting "
                         "priority srcnat; policy accept; }'\n"
                         "nft add table inet other\n"
                         "nft add chain inet other postrouting '{ type nat hook postrouting "
                         "priority srcnat; policy accept; }'\n"),
              0);
    fsys::create_directories(dir_ + "/net.d");
    fsys::create_directories(dir_ + "/run/ipam/routelet/leases");
    fsys::create_directories(dir_ + "/run/ipam/routelet/attachments");
    write("net.d/10-routelet.conflist", R"({"cniVersion":"1.0.0","name":"routelet","plugins":[]})");
    write("net.d/99-other.conflist", R"({"cniVersion":"1.0.0","name":"other","plugins":[]})");
    write("run/ipam/routelet/lock", "");
    write("run/ipam/routelet/leases/10.244.1.2", "abc\neth0\n");
    write("run/ipam/routelet/attachments/abc:eth0", "abc\neth0\n10.244.1.2\n");
    std::string status = kStatusJson;
    status.replace(status.find("@DIR@"), 5, dir_);
    write("run/status.json", status);
    // Stands in for the agent's endpoints: python's http.server answers GET /healthz and
    // /readyz from files of those names.
    fsys::create_directories(dir_ + "/www");
    write("www/healthz", "ok");
    write("www/readyz", "ok");
  }

  void TearDown() override {
    stopEndpoints();
    pod_.reset();
    node_.reset();
  }

  // status.json of an agent in mode auto that reaches lab-4 over routelet.vxlan.
  void writeVxlanStatus() {
    std::string status = kStatusJson;
    status.replace(status.find("@DIR@"), 5, dir_);
    status.replace(status.find("\"peers\""), 0,
                   R"("vxlan": {"mode": "auto", "devices": [{"name": "routelet.vxlan",
                      "ready": true, "mac": "0e:72:0a:f4:01:00"}], "direct": 4,
                      "encapsulated": 1, "entries": 2},
                   )");
    status.replace(status.rfind(']'), 0,
                   R"(, {"node": "lab-4", "family": "4", "podCIDR": "10.244.4.0/24",
                      "nodeIP": "10.9.9.14", "state": "programmed", "path": "vxlan"})");
    write("run/status.json", status);
  }

  void write(const std::string& rel, const std::string& content) {
    std::ofstream(dir_ + "/" + rel) << content;
  }

  std::string flags() const {
    return " --run-dir " + dir_ + "/run --ipam-data-dir " + dir_ + "/run/ipam --cni-conf-dir " +
           dir_ + "/net.d --listen 127.0.0.1:9654";
  }

  CommandRun routelet(const std::string& args) {
    CommandRun r;
    std::string out =
        node_->output(std::string(ROUTELET_BIN) + " " + args + flags() + " 2>&1; echo \"exit=$?\"");
    auto at = out.rfind("exit=");
    if (at == std::string::npos) return {-1, out};
    r.code = std::stoi(out.substr(at + 5));
    r.out = out.substr(0, at);
    return r;
  }

  bool endpointsOpen() const {
    return node_->run(
               "python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", 9654))' "
               "2>/dev/null") == 0;
  }
  // Polls with a deadline until open is what it should be (not a timing assertion).
  bool waitEndpoints(bool open) const {
    for (int i = 0; i < 200; ++i) {
      if (endpointsOpen() == open) return true;
      ::usleep(50 * 1000);
    }
    return false;
  }
  void startEndpoints() {
    std::string pid = node_->output("python3 -m http.server 9654 --bind 127.0.0.1 --directory " +
                                    dir_ + "/www >/dev/null 2>&1 & echo $!");
    serverPid_ = std::stoi(pid);
    if (!waitEndpoints(true)) ADD_FAILURE() << "the stand-in endpoints did not start";
  }
  void stopEndpoints() {
    if (serverPid_ <= 0) return;
    ::kill(serverPid_, SIGTERM);
    serverPid_ = -1;
    // Until the port is closed, cleanup would take it for a running agent.
    if (!waitEndpoints(false)) ADD_FAILURE() << "the stand-in endpoints did not stop";
  }

  // Everything cleanup could touch, to compare before and after.
  std::string snapshot() {
    return node_->output(
               "ip -d link show | grep -v 'link/\\|^ ' ; ip route show table main; "
               "ip -6 route show table main; nft list tables; "
               "cat /proc/sys/net/bridge/bridge-nf-call-ip*tables 2>/dev/null") +
           shellOutput("cd " + dir_ + " && find . | sort");
  }

  // The bridge sysctls exist only where br_netfilter is loaded, on the host and so in every
  // namespace; the test does not load it (that would change every bridge on the machine).
  bool bridgeNetfilterLoaded() const {
    return node_->run("test -e /proc/sys/net/bridge/bridge-nf-call-iptables") == 0;
  }

  std::unique_ptr<TestNetns> node_;
  std::unique_ptr<TestNetns> pod_;
  routelet::testing::TempDir tmp_{"admin-kernel"};
  std::string dir_ = tmp_.path();
  int serverPid_ = -1;
};

TEST_F(AdminKernelTest, StatusChecksEveryPeerRouteAgainstTheKernel) {
  startEndpoints();
  auto r = routelet("status");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("lab-2  4    192.168.1.12  10.244.2.0/24       -     programmed"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("bridge      cni0 up"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("masquerade  on, table inet routelet, 2 destination ranges exempt\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("hairpin     on\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nhealthy\n"), std::string::npos) << r.out;

  // A route deleted by hand, and a foreign route where routelet's was.
  ASSERT_EQ(node_->run("ip route del 10.244.3.0/24 proto 201 && "
                       "ip -6 route del fd00:10:244:2::/64 proto 201 && "
                       "ip -6 route add fd00:10:244:2::/64 via fd00::1 proto static"),
            0);
  r = routelet("status -o json");
  EXPECT_EQ(r.code, 1) << r.out;
  auto doc = nlohmann::json::parse(r.out);
  std::map<std::string, std::string> states;
  for (const auto& p : doc["peers"]) states[p["podCIDR"].get<std::string>()] = p["state"];
  EXPECT_EQ(states["10.244.2.0/24"], "programmed");
  EXPECT_EQ(states["10.244.3.0/24"], "missing");
  EXPECT_EQ(states["fd00:10:244:2::/64"], "conflict");
  EXPECT_EQ(states["fd00:10:244:3::/64"], "programmed");
  EXPECT_EQ(doc["bridge"]["up"], true);
  EXPECT_EQ(doc["cniConfig"]["present"], true);
  EXPECT_EQ(doc["agent"]["healthz"]["status"], 200);
  EXPECT_EQ(doc["masquerade"]["tablePresent"], true);

  // The masquerade table deleted behind the agent's back; another tool's does not count.
  ASSERT_EQ(node_->run("nft delete table inet routelet"), 0);
  r = routelet("status");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("masquerade  on, table inet routelet MISSING"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("masquerade is on but nftables table inet routelet does not exist"),
            std::string::npos)
      << r.out;

  // A bridge sysctl at 0 in this namespace alone (they are per namespace).
  if (bridgeNetfilterLoaded()) {
    ASSERT_EQ(node_->run("echo 1 > /proc/sys/net/bridge/bridge-nf-call-iptables && "
                         "echo 0 > /proc/sys/net/bridge/bridge-nf-call-ip6tables"),
              0);
    r = routelet("status");
    EXPECT_NE(r.out.find("bridge nf   on (iptables 1, ip6tables 0)"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("bridge netfilter is on but net.bridge.bridge-nf-call-ip6tables is 0"),
              std::string::npos)
        << r.out;
  } else {
    r = routelet("status");
    EXPECT_NE(r.out.find("bridge nf   on (iptables not available, ip6tables not available)"),
              std::string::npos)
        << r.out;
  }

  ASSERT_EQ(node_->run("ip link set cni0 down"), 0);
  stopEndpoints();
  r = routelet("status");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("bridge cni0 is down"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("the agent does not answer on 127.0.0.1:9654"), std::string::npos) << r.out;
}

TEST_F(AdminKernelTest, CleanupRemovesExactlyRouteletsThingsOnceAndDryRunChangesNothing) {
  startEndpoints();
  std::string before = snapshot();
  auto r = routelet("cleanup");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("the agent is running"), std::string::npos) << r.out;
  EXPECT_EQ(snapshot(), before);
  stopEndpoints();

  r = routelet("cleanup --dry-run");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("would delete bridge cni0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("would delete route fd00:10:244:3::/64 via fd00::13"), std::string::npos);
  EXPECT_NE(r.out.find("would delete nftables table inet routelet\n"), std::string::npos) << r.out;
  EXPECT_EQ(snapshot(), before);

  r = routelet("cleanup");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(node_->output("ip route show proto 201; ip -6 route show proto 201"), "");
  EXPECT_NE(node_->output("ip route show 10.99.0.0/16"), "");  // not routelet's: stays
  EXPECT_NE(node_->output("ip -6 route show fd00:99::/64"), "");
  EXPECT_NE(node_->run("ip link show cni0 2>/dev/null"), 0);
  EXPECT_NE(node_->run("ip link show rl0123456789 2>/dev/null"), 0);
  EXPECT_EQ(node_->run("ip link show eth0 >/dev/null && ip link show eth0p >/dev/null"), 0);
  EXPECT_EQ(pod_->run("ip link show eth0 2>/dev/null"), 1);  // the pod end went with the host end
  EXPECT_EQ(node_->output("nft list tables"), "table inet other\n");  // not routelet's: stays
  EXPECT_FALSE(fsys::exists(dir_ + "/net.d/10-routelet.conflist"));
  EXPECT_TRUE(fsys::exists(dir_ + "/net.d/99-other.conflist"));
  EXPECT_FALSE(fsys::exists(dir_ + "/run/ipam"));
  EXPECT_FALSE(fsys::exists(dir_ + "/run/status.json"));
  EXPECT_TRUE(fsys::exists(dir_ + "/run"));

  // Bridge netfilter is left as it was (kube-proxy needs it), and said so.
  std::string kept;
  if (bridgeNetfilterLoaded() &&
      node_->output("cat /proc/sys/net/bridge/bridge-nf-call-iptables") == "1\n") {
    kept =
        "left in place: net.bridge.bridge-nf-call-iptables = 1: not reverted, kube-proxy "
        "and others need it\n";
    EXPECT_NE(r.out.find(kept), std::string::npos) << r.out;
  }

  std::string after = snapshot();
  r = routelet("cleanup");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find(kept), std::string::npos) << r.out;  // "" is found too
  EXPECT_NE(r.out.find("nothing to clean up\n"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("delete"), std::string::npos) << r.out;
  EXPECT_EQ(snapshot(), after);
}

// routelet.vxlan as the agent makes it (static forwarding: nolearning, a route via the peer's
// VTEP address, a permanent neighbour and fdb entry) beside another tool's VXLAN device.
TEST_F(AdminKernelTest, StatusShowsRouteletsVxlanDeviceAndCleanupRemovesOnlyIt) {
  ASSERT_EQ(node_->run("set -e\n"
                       "ip link add routelet.vxlan type vxlan id 1 dstport 8472 local 192.168.1.11 "
                       "dev eth0 nolearning\n"
                       "ip link set routelet.vxlan up\n"
                       "ip link add other.vxlan type vxlan id 42 dstport 4789 local 192.168.1.11 "
                       "dev eth0 nolearning\n"
                       "ip link set other.vxlan up\n"
                       "ip route add 10.244.4.0/24 via 10.244.4.0 dev routelet.vxlan onlink "
                       "proto 201\n"
                       "ip neigh add 10.244.4.0 lladdr 0e:72:0a:f4:04:00 dev routelet.vxlan "
                       "nud permanent\n"
                       "bridge fdb add 0e:72:0a:f4:04:00 dev routelet.vxlan dst 10.9.9.14 self "
                       "permanent\n"),
            0);
  writeVxlanStatus();
  startEndpoints();
  auto r = routelet("status");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("mode        auto: 4 peer routes direct, 1 over VXLAN, 2 tunnel entries\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("vxlan       routelet.vxlan up, mtu "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(", vni 1, port 8472, local 192.168.1.11, mac 0e:72:0a:f4:01:00\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("10.244.4.0/24       vxlan  programmed"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("other.vxlan"), std::string::npos) << r.out;

  r = routelet("status -o json");
  auto doc = nlohmann::json::parse(r.out);
  ASSERT_EQ(doc["vxlan"]["devices"].size(), 1u) << r.out;
  const auto& device = doc["vxlan"]["devices"][0];
  EXPECT_EQ(device["name"], "routelet.vxlan");
  EXPECT_EQ(device["present"], true);
  EXPECT_EQ(device["kind"], "vxlan");
  EXPECT_EQ(device["vni"], 1);
  EXPECT_EQ(device["port"], 8472);
  EXPECT_EQ(device["learning"], false);
  EXPECT_EQ(doc["peers"].back()["path"], "vxlan");
  EXPECT_EQ(doc["peers"].back()["state"], "programmed");

  ASSERT_EQ(node_->run("ip link set routelet.vxlan down"), 0);
  r = routelet("status");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("VXLAN device routelet.vxlan (mode auto) is down"), std::string::npos)
      << r.out;

  // Down took the route through it along (the kernel flushes a downed device's routes).
  ASSERT_EQ(node_->run("ip link set routelet.vxlan up && ip route add 10.244.4.0/24 via "
                       "10.244.4.0 dev routelet.vxlan onlink proto 201"),
            0);

  stopEndpoints();
  r = routelet("cleanup --dry-run");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("would delete VXLAN device routelet.vxlan (vni 1, port 8472) and its 1 "
                       "route with proto 201\n"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(node_->run("ip link show routelet.vxlan >/dev/null"), 0);

  r = routelet("cleanup");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out.find("already gone"), std::string::npos) << r.out;
  EXPECT_NE(node_->run("ip link show routelet.vxlan 2>/dev/null"), 0);
  EXPECT_EQ(node_->output("ip route show proto 201; ip -6 route show proto 201"), "");
  EXPECT_EQ(node_->run("ip link show other.vxlan | grep -q ',UP'"), 0);  // not routelet's

  r = routelet("cleanup");
  EXPECT_EQ(r.out.find("VXLAN"), std::string::npos) << r.out;
}

TEST_F(AdminKernelTest, ABridgeRouteletDidNotMakeSurvivesCleanup) {
  ASSERT_EQ(node_->run("ip link set cni0 address 02:00:00:00:00:01"), 0);
  auto r = routelet("cleanup");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("left in place: bridge cni0: MAC 02:00:00:00:00:01"), std::string::npos)
      << r.out;
  EXPECT_EQ(node_->run("ip link show cni0 >/dev/null"), 0);
}

}  // namespace
}  // namespace routelet::testing
