#include "controller/admin/commands.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "common/bridge/bridge.h"
#include "controller/admin/fake_system.h"

namespace routelet::admin {
namespace {

using testing::FakeSystem;
using testing::vxlanLink;

netlink::Route route(const char* dst, const char* via, uint8_t proto) {
  netlink::Route r;
  r.dst = *ip::Prefix::parse(dst);
  r.gateway = *ip::Address::parse(via);
  r.protocol = proto;
  r.oif = 2;
  return r;
}

constexpr const char* kStatus = R"({"node":"lab-1","ready":true,"state":"ready","bridge":"cni0",
  "mtu":1500,"podCIDRs":["10.244.1.0/24"],"nodeIPs":["192.168.1.11"],
  "cniConfig":"/etc/cni/net.d/10-routelet.conflist","routeProtocol":201,
  "masquerade":{"enabled":true,"detail":"3 destination ranges exempt","table":"inet routelet"},
  "bridgeNetfilter":{"enabled":true},"hairpin":true,"peers":[
  {"node":"lab-2","family":"4","podCIDR":"10.244.2.0/24","nodeIP":"192.168.1.12","state":"programmed"}]})";

// A node as the agent leaves it: status, config, bridge, a pod, a route, a lease, the
// masquerade table (beside another tool's) and bridge netfilter on.
FakeSystem node() {
  FakeSystem s;
  s.routeTable = {route("10.244.2.0/24", "192.168.1.12", 201),
                  route("10.99.0.0/16", "192.168.1.1", 4)};
  netlink::Link br;
  br.index = 3;
  br.name = "cni0";
  br.kind = "bridge";
  br.up = true;
  br.mtu = 1500;
  br.mac = bridge::bridgeMacFor("cni0");
  netlink::Link pod;
  pod.index = 4;
  pod.name = "rl0123456789";
  pod.kind = "veth";
  netlink::Link eth;
  eth.index = 2;
  eth.name = "eth0";
  eth.kind = "veth";
  s.linkTable = {eth, br, pod};
  s.addFile("/run/routelet/status.json", kStatus);
  s.addFile("/etc/cni/net.d/10-routelet.conflist", "{}");
  s.addFile("/etc/cni/net.d/99-loopback.conf", "{}");
  s.addFile("/run/routelet/ipam/routelet/lock");
  s.addFile("/run/routelet/ipam/routelet/leases/10.244.1.2", "abc\neth0\n");
  s.addFile("/run/routelet/ipam/routelet/attachments/abc:eth0", "abc\neth0\n10.244.1.2\n");
  s.nftTables = {"inet routelet", "inet other"};
  s.addFile("/proc/sys/net/bridge/bridge-nf-call-iptables", "1\n");
  s.addFile("/proc/sys/net/bridge/bridge-nf-call-ip6tables", "1\n");
  s.http["/healthz"] = {200, "ok"};
  s.http["/readyz"] = {200, "ok"};
  return s;
}

struct CommandRun {
  int code;
  std::string out;
  std::string err;
};

CommandRun status(FakeSystem& s, std::vector<std::string> args) {
  std::ostringstream out, err;
  int code = runStatusOn(s, config::Options{}, args, out, err);
  return {code, out.str(), err.str()};
}

CommandRun cleanup(FakeSystem& s, std::vector<std::string> args) {
  std::ostringstream out, err;
  int code = runCleanupOn(s, config::Options{}, args, out, err);
  return {code, out.str(), err.str()};
}

TEST(StatusCommandTest, HealthyExitsZeroDegradedExitsOne) {
  auto s = node();
  auto r = status(s, {});
  EXPECT_EQ(r.code, kExitOk) << r.out;
  EXPECT_NE(r.out.find("lab-2  4    192.168.1.12  10.244.2.0/24  -     programmed"),
            std::string::npos)
      << r.out;

  s.routeTable.erase(s.routeTable.begin());
  r = status(s, {});
  EXPECT_EQ(r.code, kExitProblem);
  EXPECT_NE(r.out.find("missing: no route with proto 201"), std::string::npos) << r.out;
}

TEST(StatusCommandTest, ChecksTheMasqueradeTableAndBridgeSysctlsInTheKernel) {
  auto s = node();
  auto r = status(s, {});
  EXPECT_EQ(r.code, kExitOk) << r.out;
  EXPECT_NE(r.out.find("masquerade  on, table inet routelet, 3 destination ranges exempt\n"
                       "net policy  unknown\n"
                       "bridge nf   on (iptables 1, ip6tables 1)\n"
                       "hairpin     on\n"),
            std::string::npos)
      << r.out;

  s.nftTables.erase("inet routelet");
  s.files["/proc/sys/net/bridge/bridge-nf-call-iptables"] = "0\n";
  r = status(s, {"-o", "json"});
  EXPECT_EQ(r.code, kExitProblem);
  auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["masquerade"]["tablePresent"], false);
  EXPECT_EQ(doc["bridgeNetfilter"]["net.bridge.bridge-nf-call-iptables"], "0");
  EXPECT_EQ(doc["problems"], nlohmann::json::parse(R"([
              "masquerade is on but nftables table inet routelet does not exist",
              "bridge netfilter is on but net.bridge.bridge-nf-call-iptables is 0"])"));

  s.nftError = "nftables: Operation not permitted";
  s.files.erase("/proc/sys/net/bridge/bridge-nf-call-ip6tables");
  r = status(s, {});
  EXPECT_NE(r.out.find("cannot read the kernel's nftables tables: nftables: Operation not "
                       "permitted"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("ip6tables not available"), std::string::npos) << r.out;
}

TEST(StatusCommandTest, OutputFormatsAndBadArguments) {
  auto s = node();
  for (auto args : std::vector<std::vector<std::string>>{
           {"-o", "json"}, {"-ojson"}, {"-o=json"}, {"--output", "json"}, {"--output=json"}}) {
    auto r = status(s, args);
    EXPECT_EQ(r.code, kExitOk) << args[0];
    EXPECT_EQ(nlohmann::json::parse(r.out)["peers"][0]["state"], "programmed") << args[0];
  }
  EXPECT_EQ(status(s, {"-o", "text"}).out, status(s, {}).out);
  for (auto args : std::vector<std::vector<std::string>>{{"-o"}, {"-o", "yaml"}, {"--wat"}}) {
    auto r = status(s, args);
    EXPECT_EQ(r.code, kExitUsage) << args.back();
    EXPECT_TRUE(r.out.empty());
    EXPECT_NE(r.err.find("status"), std::string::npos) << r.err;
  }
}

TEST(StatusCommandTest, StoppedAgentAndNoStatusFileIsDegraded) {
  auto s = node();
  s.http.clear();
  s.files.erase("/run/routelet/status.json");
  auto r = status(s, {"-o", "json"});
  EXPECT_EQ(r.code, kExitProblem);
  auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["healthy"], false);
  EXPECT_EQ(doc["agent"]["healthz"]["status"], 0);
  EXPECT_EQ(doc["extraRoutes"].size(), 1u);  // routelet's route, shown though unexplained
}

TEST(CleanupCommandTest, RemovesRouteletsThingsAndASecondRunIsANoOp) {
  auto s = node();
  s.http.clear();  // the DaemonSet is gone
  auto r = cleanup(s, {});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(s.routeTable.size(), 1u);
  EXPECT_EQ(s.routeTable[0].protocol, 4);  // the admin's static route survives
  ASSERT_EQ(s.linkTable.size(), 1u);
  EXPECT_EQ(s.linkTable[0].name, "eth0");
  EXPECT_EQ(s.files.count("/etc/cni/net.d/10-routelet.conflist"), 0u);
  EXPECT_EQ(s.files.count("/etc/cni/net.d/99-loopback.conf"), 1u);
  EXPECT_EQ(s.files.count("/run/routelet/status.json"), 0u);
  EXPECT_EQ(s.dirs.count("/run/routelet/ipam"), 0u);
  EXPECT_EQ(s.dirs.count("/run/routelet"), 1u);
  EXPECT_EQ(s.nftTables, (std::set<std::string>{"inet other"}));
  EXPECT_EQ(s.files["/proc/sys/net/bridge/bridge-nf-call-iptables"], "1\n");
  EXPECT_NE(r.out.find("delete bridge cni0\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("delete route 10.244.2.0/24 via 192.168.1.12 dev 2 proto 201\n"
                       "delete nftables table inet routelet\n"
                       "remove IPAM file"),
            std::string::npos)
      << r.out;

  int before = s.mutations;
  const std::string sysctlsKept =
      "left in place: net.bridge.bridge-nf-call-iptables = 1: not reverted, kube-proxy and "
      "others need it\n"
      "left in place: net.bridge.bridge-nf-call-ip6tables = 1: not reverted, kube-proxy and "
      "others need it\n";
  r = cleanup(s, {});
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_EQ(r.out, sysctlsKept + "nothing to clean up\n");
  EXPECT_EQ(s.mutations, before);
}

// Mode vxlan: lab-2 over routelet.vxlan; another tool's VXLAN device beside it.
FakeSystem vxlanNode() {
  auto s = node();
  std::string status = kStatus;
  status.replace(status.find("\"peers\""), 0,
                 R"("vxlan":{"mode":"vxlan","devices":[{"name":"routelet.vxlan","ready":true,
                    "mac":"0e:72:0a:f4:01:00"}],"direct":0,"encapsulated":1,"entries":2},)");
  status.replace(status.find("\"state\":\"programmed\""), 0, R"("path":"vxlan",)");
  s.addFile("/run/routelet/status.json", status);
  s.linkTable.push_back(vxlanLink(7, "routelet.vxlan"));
  s.linkTable.push_back(vxlanLink(8, "other.vxlan"));
  s.routeTable[0] = route("10.244.2.0/24", "10.244.2.0", 201);
  s.routeTable[0].oif = 7;
  s.routeTable[0].onlink = true;
  return s;
}

TEST(StatusCommandTest, ShowsTheVxlanDeviceAsTheKernelHasIt) {
  auto s = vxlanNode();
  auto r = status(s, {});
  EXPECT_EQ(r.code, kExitOk) << r.out;
  EXPECT_NE(r.out.find("mode        vxlan: 0 peer routes direct, 1 over VXLAN, 2 tunnel entries\n"
                       "vxlan       routelet.vxlan up, mtu 1450, vni 1, port 8472, local "
                       "192.168.1.11, mac 0e:72:0a:f4:01:00\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("10.244.2.0/24  vxlan  programmed"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("other.vxlan"), std::string::npos) << r.out;

  std::erase_if(s.linkTable, [](const netlink::Link& l) { return l.name == "routelet.vxlan"; });
  r = status(s, {"-o", "json"});
  EXPECT_EQ(r.code, kExitProblem);
  auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["vxlan"]["devices"][0]["present"], false);
  EXPECT_EQ(doc["problems"][0], "VXLAN device routelet.vxlan (mode vxlan) does not exist");
}

TEST(CleanupCommandTest, RemovesRouteletsVxlanDeviceAndItsRoutesOnly) {
  auto s = vxlanNode();
  s.http.clear();
  auto r = cleanup(s, {"--dry-run"});
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_EQ(s.mutations, 0);
  EXPECT_NE(r.out.find("would delete VXLAN device routelet.vxlan (vni 1, port 8472) and its 1 "
                       "route with proto 201\n"),
            std::string::npos)
      << r.out;
  r = cleanup(s, {});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out.find("already gone"), std::string::npos) << r.out;
  std::vector<std::string> left;
  for (const auto& l : s.linkTable) left.push_back(l.name);
  EXPECT_EQ(left, (std::vector<std::string>{"eth0", "other.vxlan"}));
  ASSERT_EQ(s.routeTable.size(), 1u);
  EXPECT_EQ(s.routeTable[0].protocol, 4);
}

TEST(CleanupCommandTest, DryRunPrintsThePlanAndChangesNothing) {
  auto s = node();
  s.http.clear();
  auto r = cleanup(s, {"--dry-run"});
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_EQ(s.mutations, 0);
  EXPECT_NE(r.out.find("would delete route 10.244.2.0/24 via 192.168.1.12 dev 2 proto 201\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("would remove CNI config /etc/cni/net.d/10-routelet.conflist\n"),
            std::string::npos);
  EXPECT_NE(r.out.find("would delete nftables table inet routelet\n"), std::string::npos);
  EXPECT_EQ(s.nftTables.count("inet routelet"), 1u);
  auto real = cleanup(s, {});
  std::string expected;
  std::istringstream lines(r.out);
  for (std::string l; std::getline(lines, l);)  // drop "would "
    expected += l.rfind("would ", 0) == 0 ? l.substr(6) + "\n" : l + "\n";
  EXPECT_EQ(real.out, expected);
}

// Without CAP_NET_ADMIN (or nf_tables) the table cannot be seen: the rest is cleaned up,
// and the exit code says the job is not done.
TEST(CleanupCommandTest, UnreadableNftablesLeavesTheTableAndFails) {
  auto s = node();
  s.http.clear();
  s.nftError = "nftables: Operation not permitted";
  auto r = cleanup(s, {});
  EXPECT_EQ(r.code, kExitProblem);
  EXPECT_NE(r.err.find("cannot read nftables tables, so routelet's tables stay if they exist: "
                       "nftables: Operation not permitted"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.out.find("nftables table"), std::string::npos) << r.out;
  EXPECT_EQ(s.linkTable.size(), 1u);
  EXPECT_EQ(s.nftTables.size(), 2u);

  s.nftError.clear();
  r = cleanup(s, {});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_NE(r.out.find("delete nftables table inet routelet\n"), std::string::npos) << r.out;
  EXPECT_EQ(s.nftTables, (std::set<std::string>{"inet other"}));
}

TEST(CleanupCommandTest, RefusesWhileTheAgentRunsUnlessForced) {
  auto s = node();
  auto r = cleanup(s, {});
  EXPECT_EQ(r.code, kExitProblem);
  EXPECT_EQ(s.mutations, 0);
  EXPECT_NE(r.err.find("the agent is running"), std::string::npos) << r.err;
  r = cleanup(s, {"--dry-run"});
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_NE(r.err.find("warning"), std::string::npos);
  r = cleanup(s, {"--force"});
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_EQ(s.routeTable.size(), 1u);
  EXPECT_EQ(cleanup(s, {"--bogus"}).code, kExitUsage);
}

TEST(CleanupCommandTest, AlreadyGoneIsSuccessOtherFailuresAreReported) {
  auto s = node();
  s.http.clear();
  // The kernel drops a route by itself when its device goes; a delete then finds nothing.
  struct Vanishing : FakeSystem {
    Status deleteLink(const netlink::Link& l) override {
      auto st = FakeSystem::deleteLink(l);
      routeTable.clear();
      return st;
    }
    Status remove(const std::string& path, bool directory) override {
      if (path == "/run/routelet/status.json")
        return makeError("unlink: Read-only file system", EROFS);
      return FakeSystem::remove(path, directory);
    }
  } v;
  static_cast<FakeSystem&>(v) = s;
  auto r = cleanup(v, {});
  EXPECT_EQ(r.code, kExitProblem);
  EXPECT_NE(
      r.out.find("delete route 10.244.2.0/24 via 192.168.1.12 dev 2 proto 201 (already gone)"),
      std::string::npos)
      << r.out;
  EXPECT_NE(r.err.find("remove status file /run/routelet/status.json: unlink: Read-only"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("1 of"), std::string::npos);
}

}  // namespace
}  // namespace routelet::admin
