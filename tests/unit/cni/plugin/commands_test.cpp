#include "cni/plugin/commands.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "cni/config/codes.h"
#include "cni/config/names.h"
#include "cni/ipam/allocator.h"
#include "cni/ipam/disk_store.h"
#include "cni/ipam/records.h"
#include "cni/plugin/naming.h"
#include "common/bridge/bridge.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/cni/plugin/fake_dataplane.h"

namespace routelet::cni::plugin {
namespace {
using config::Command;
using config::Env;
using nlohmann::json;

class CommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dp_.netnses = {"/var/run/netns/p1", "/var/run/netns/p2", "/var/run/netns/p3"};
  }

  std::string conf(const std::string& version = "1.1.0",
                   const std::string& ranges = R"([{"subnet":"10.244.1.0/24"},)"
                                               R"({"subnet":"fd00:10:244:1::/64"}])",
                   const std::string& extra = "") {
    return R"({"cniVersion":")" + version +
           R"(","name":"routelet","type":"routelet-cni","bridge":"cni0","mtu":1400,)"
           R"("dataDir":")" +
           dir_ + R"(","ranges":)" + ranges + extra + "}";
  }
  static Env env(Command c, const std::string& id = "c1",
                 const std::string& netns = "/var/run/netns/p1") {
    Env e;
    e.command = c;
    e.containerId = id;
    e.ifname = "eth0";
    e.netns = netns;
    return e;
  }
  Outcome run(const Env& e, const std::string& input) { return plugin::run(e, input, dp_); }
  std::vector<ip::Address> leases(const std::string& id, const std::string& ifname = "eth0") {
    auto store = ipam::DiskStore::open(dir_, "routelet");
    EXPECT_TRUE(store.ok());
    auto l = ipam::Allocator(*store).leasesOf({id, ifname});
    EXPECT_TRUE(l.ok());
    return l.ok() ? *l : std::vector<ip::Address>{};
  }
  size_t leaseCount() {
    auto store = ipam::DiskStore::open(dir_, "routelet");
    auto all = store->all();
    return all.ok() ? all->size() : 999;
  }
  static void expectError(const Outcome& o, int code, const std::string& mention,
                          const std::string& version = "") {
    EXPECT_NE(o.exitCode, 0);
    json doc = json::parse(o.stdoutText, nullptr, false);
    ASSERT_TRUE(doc.is_object()) << o.stdoutText;
    EXPECT_EQ(doc["code"], code) << o.stdoutText;
    EXPECT_NE(doc["msg"].get<std::string>().find(mention), std::string::npos) << o.stdoutText;
    if (!version.empty()) {
      EXPECT_EQ(doc["cniVersion"], version);
    }
  }
  Outcome add(const std::string& id, const std::string& netns = "/var/run/netns/p1") {
    return run(env(Command::kAdd, id, netns), conf());
  }

  routelet::testing::TempDir tmp_{"cni-test"};
  std::string dir_ = tmp_.path();
  FakeDataplane dp_;
};

TEST_F(CommandsTest, VersionEchoesTheInputVersionAndIgnoresTheRest) {
  auto o = run(env(Command::kVersion), R"({"cniVersion":"0.4.0"})");
  EXPECT_EQ(o.exitCode, 0);
  json doc = json::parse(o.stdoutText);
  EXPECT_EQ(doc["cniVersion"], "0.4.0");
  EXPECT_EQ(doc["supportedVersions"], json::parse(R"(["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"])"));
  EXPECT_EQ(json::parse(run(env(Command::kVersion), "").stdoutText)["cniVersion"], "1.1.0");
  EXPECT_EQ(dp_.attachCalls, 0);
}

TEST_F(CommandsTest, AddAllocatesOnePerFamilyAndPrintsTheResult) {
  auto o = add("c1");
  ASSERT_EQ(o.exitCode, 0) << o.stdoutText;
  json doc = json::parse(o.stdoutText);
  EXPECT_EQ(doc["cniVersion"], "1.1.0");
  ASSERT_EQ(doc["interfaces"].size(), 3u);
  EXPECT_EQ(doc["interfaces"][0]["name"], "cni0");
  EXPECT_EQ(doc["interfaces"][0]["mac"], "02:bb:00:00:00:01");  // the bridge's actual MAC
  EXPECT_EQ(doc["interfaces"][1]["name"], hostVethName("c1", "eth0"));
  EXPECT_EQ(doc["interfaces"][2]["name"], "eth0");
  EXPECT_EQ(doc["interfaces"][2]["sandbox"], "/var/run/netns/p1");
  EXPECT_EQ(doc["interfaces"][2]["mtu"], 1400);
  ASSERT_EQ(doc["ips"].size(), 2u);
  EXPECT_EQ(doc["ips"][0]["gateway"], "10.244.1.1");
  EXPECT_EQ(doc["ips"][0]["interface"], 2);
  EXPECT_EQ(doc["ips"][1]["gateway"], "fd00:10:244:1::1");
  EXPECT_EQ(doc["routes"][0], (json{{"dst", "0.0.0.0/0"}, {"gw", "10.244.1.1"}}));
  EXPECT_EQ(doc["routes"][1], (json{{"dst", "::/0"}, {"gw", "fd00:10:244:1::1"}}));
  // What the dataplane was asked to make.
  const AttachSpec& s = dp_.lastSpec;
  EXPECT_EQ(s.hostVeth, hostVethName("c1", "eth0"));
  EXPECT_EQ(s.hostMac, hostVethMac("c1", "eth0"));
  EXPECT_EQ(s.podMac, podMac("c1", "eth0"));
  EXPECT_EQ(s.ifname, "eth0");
  EXPECT_EQ(s.bridgeMac, bridge::bridgeMacFor("cni0"));
  EXPECT_EQ(s.mtu, 1400u);
  ASSERT_EQ(s.bridgeAddresses.size(), 2u);
  EXPECT_EQ(s.bridgeAddresses[0].str(), "10.244.1.1/24");
  EXPECT_EQ(s.bridgeAddresses[1].str(), "fd00:10:244:1::1/64");
  ASSERT_EQ(s.podAddresses.size(), 2u);
  EXPECT_EQ(s.podAddresses[0].str(), doc["ips"][0]["address"]);
  EXPECT_EQ(s.podAddresses[1].str(), doc["ips"][1]["address"]);
  // The lease is held by the attachment.
  auto held = leases("c1");
  ASSERT_EQ(held.size(), 2u);
  EXPECT_EQ(held[0], s.podAddresses[0].address());
}

TEST_F(CommandsTest, AddResultUsesTheConfigVersionsSchema) {
  for (const char* v : {"0.3.0", "0.3.1", "0.4.0", "1.0.0"}) {
    auto o = run(env(Command::kAdd, std::string("c-") + v), conf(v));
    ASSERT_EQ(o.exitCode, 0) << o.stdoutText;
    json doc = json::parse(o.stdoutText);
    EXPECT_EQ(doc["cniVersion"], v);
    EXPECT_EQ(doc["ips"][0].contains("version"), std::string(v) != "1.0.0") << v;
  }
}

TEST_F(CommandsTest, ConfigErrorsGetTheirCodesAndNoAllocation) {
  expectError(run(env(Command::kAdd), "{not json"), kCodeDecode, "not valid JSON", "1.1.0");
  expectError(run(env(Command::kAdd), conf("0.2.0")), kCodeIncompatibleVersion, "\"0.2.0\"",
              "0.2.0");
  expectError(run(env(Command::kAdd), conf("1.0.0", R"([{"subnet":"10.0.0.0/8x"}])")),
              kCodeInvalidConfig, "ranges[0].subnet", "1.0.0");
  EXPECT_EQ(dp_.attachCalls, 0);
  EXPECT_EQ(leaseCount(), 0u);
}

TEST_F(CommandsTest, SecondAddForTheSameAttachmentIsRefused) {
  ASSERT_EQ(add("c1").exitCode, 0);
  auto first = leases("c1");
  auto o = add("c1");
  expectError(o, kCodeAlreadyAttached, "already holds");
  EXPECT_EQ(dp_.attachCalls, 1);
  EXPECT_EQ(leases("c1"), first);
  // Another ifname of the same container is another attachment.
  auto e = env(Command::kAdd);
  e.ifname = "net1";
  EXPECT_EQ(run(e, conf()).exitCode, 0);
}

TEST_F(CommandsTest, AddFailureAfterAllocationReleasesTheLease) {
  dp_.failAttach = makeError("CNI_IFNAME \"eth0\" already exists", kCodeIfnameExists);
  expectError(add("c1"), kCodeIfnameExists, "already exists");
  EXPECT_TRUE(leases("c1").empty());
  EXPECT_EQ(leaseCount(), 0u);
  dp_.failAttach = Error{0, ""};
  expectError(add("c1", "/var/run/netns/gone"), kCodeUnknownContainer, "/var/run/netns/gone");
  EXPECT_EQ(leaseCount(), 0u);
  // The address is usable again.
  EXPECT_EQ(add("c1").exitCode, 0);
}

TEST_F(CommandsTest, ExhaustedRangeIsAClearError) {
  // /30: network, gateway, one pod address, broadcast.
  std::string small = conf("1.1.0", R"([{"subnet":"10.9.0.0/30"}])");
  ASSERT_EQ(run(env(Command::kAdd, "a"), small).exitCode, 0);
  auto o = run(env(Command::kAdd, "b"), small);
  expectError(o, kCodeExhausted, "10.9.0.0/30");
  EXPECT_EQ(dp_.attachCalls, 1);
  // STATUS says the node cannot serve an ADD now...
  expectError(run(env(Command::kStatus, ""), small), kCodeStatusCannotAdd, "exhausted");
  // ... and can again after a DEL.
  ASSERT_EQ(run(env(Command::kDel, "a"), small).exitCode, 0);
  auto s = run(env(Command::kStatus, ""), small);
  EXPECT_EQ(s.exitCode, 0) << s.stdoutText;
  EXPECT_EQ(s.stdoutText, "");
}

TEST_F(CommandsTest, DelRemovesVethAndLeaseAndIsIdempotent) {
  ASSERT_EQ(add("c1").exitCode, 0);
  ASSERT_EQ(add("c2", "/var/run/netns/p2").exitCode, 0);
  auto o = run(env(Command::kDel), conf());
  EXPECT_EQ(o.exitCode, 0) << o.stdoutText;
  EXPECT_EQ(o.stdoutText, "");
  EXPECT_EQ(dp_.byHostVeth.count(hostVethName("c1", "eth0")), 0u);
  EXPECT_TRUE(leases("c1").empty());
  EXPECT_EQ(leases("c2").size(), 2u);  // the other pod keeps its addresses
  EXPECT_EQ(dp_.byHostVeth.count(hostVethName("c2", "eth0")), 1u);
  EXPECT_EQ(run(env(Command::kDel), conf()).exitCode, 0);
  EXPECT_EQ(run(env(Command::kDel, "never-added"), conf()).exitCode, 0);
}

TEST_F(CommandsTest, DelOfAnAttachmentNoAddAcceptsSucceedsAndTouchesNothing) {
  ASSERT_EQ(add("c1").exitCode, 0);
  auto e = env(Command::kDel, std::string(config::kMaxContainerIdBytes + 1, 'c'));
  e.neverAdded = "CNI_CONTAINERID is too long";
  auto o = run(e, conf());
  EXPECT_EQ(o.exitCode, 0) << o.stdoutText;
  EXPECT_TRUE(o.stdoutText.empty());
  EXPECT_EQ(dp_.detachCalls, 0);
  EXPECT_EQ(leaseCount(), 2u);  // c1's two leases untouched
}

// The env check and the store refuse container IDs from the same length on: one longer than
// the env check allows would reach the store and fail there with code 5 on every retry.
TEST(ContainerIdLimitTest, TheEnvCheckAndTheStoreAgree) {
  const std::string longest(config::kMaxContainerIdBytes, 'a');
  EXPECT_TRUE(ipam::checkAttachment({longest, "eth0"}).ok());
  EXPECT_FALSE(ipam::checkAttachment({longest + "a", "eth0"}).ok());
}

TEST_F(CommandsTest, VersionAnswersItsOwnVersionsWhateverItIsHanded) {
  for (const char* input : {R"({"cniVersion":"9.9.9"})", R"({"cniVersion":"0.1.0"})",
                            R"({"cniVersion":7})", "not json"}) {
    auto o = run(env(Command::kVersion), input);
    EXPECT_EQ(o.exitCode, 0) << input;
    json doc = json::parse(o.stdoutText);
    EXPECT_EQ(doc["cniVersion"], "1.1.0") << input;
    EXPECT_EQ(doc["supportedVersions"],
              json::parse(R"(["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"])"));
  }
}

TEST_F(CommandsTest, DelWithoutNetnsStillReleasesEverything) {
  ASSERT_EQ(add("c1").exitCode, 0);
  auto e = env(Command::kDel, "c1", "");
  EXPECT_EQ(run(e, conf()).exitCode, 0);
  EXPECT_TRUE(dp_.byHostVeth.empty());
  EXPECT_TRUE(leases("c1").empty());
}

TEST_F(CommandsTest, DelKeepsTheLeaseWhenTheVethCannotBeRemoved) {
  ASSERT_EQ(add("c1").exitCode, 0);
  dp_.failDetach.insert(hostVethName("c1", "eth0"));
  expectError(run(env(Command::kDel), conf()), kCodeKernel, hostVethName("c1", "eth0"));
  // Releasing now would hand the address to another pod while this one still uses it.
  EXPECT_EQ(leases("c1").size(), 2u);
}

class CheckTest : public CommandsTest {
 protected:
  void SetUp() override {
    CommandsTest::SetUp();
    auto o = add("c1");
    ASSERT_EQ(o.exitCode, 0);
    prev_ = json::parse(o.stdoutText);
    dp_.viewSet = true;
    PodView& v = dp_.view;
    v.podLinkFound = v.podUp = v.hostLinkFound = v.hostOnBridge = v.hostUp = true;
    v.podMac = podMac("c1", "eth0");
    for (const auto& a : dp_.lastSpec.podAddresses) v.podAddresses.push_back(a);
    v.podAddresses.push_back(*ip::Prefix::parseInterface("fe80::1/64"));
    for (const auto& gw : dp_.lastSpec.gateways)
      v.podRoutes.push_back({*ip::Prefix::parse(gw.isV4() ? "0.0.0.0/0" : "::/0"), gw});
  }
  std::string checkConf(const std::string& version = "1.1.0") {
    std::string c = conf(version);
    c.pop_back();
    return c + R"(,"prevResult":)" + prev_.dump() + "}";
  }
  json prev_;
};

TEST_F(CheckTest, PassesWhenEverythingMatches) {
  auto o = run(env(Command::kCheck), checkConf());
  EXPECT_EQ(o.exitCode, 0) << o.stdoutText;
  EXPECT_EQ(o.stdoutText, "");
}

TEST_F(CheckTest, ReportsEveryDifference) {
  dp_.view.podMac = {0x02, 0, 0, 0, 0, 0x99};
  dp_.view.podAddresses.erase(dp_.view.podAddresses.begin());  // the IPv4 address
  dp_.view.podRoutes.pop_back();                               // the IPv6 default route
  dp_.view.hostOnBridge = false;
  auto o = run(env(Command::kCheck), checkConf());
  expectError(o, kCodeCheckFailed, "4 difference(s)");
  const std::string msg = json::parse(o.stdoutText)["msg"];
  EXPECT_NE(msg.find("MAC 02:00:00:00:00:99"), std::string::npos) << msg;
  EXPECT_NE(msg.find("address " + dp_.lastSpec.podAddresses[0].str() + " is missing"),
            std::string::npos);
  EXPECT_NE(msg.find("route ::/0 via fd00:10:244:1::1 is missing"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not on the bridge"), std::string::npos);
}

TEST_F(CheckTest, ReportsMissingInterfacesAndLease) {
  dp_.view.podLinkFound = false;
  dp_.view.hostLinkFound = false;
  auto store = ipam::DiskStore::open(dir_, "routelet");
  ASSERT_TRUE(ipam::Allocator(*store).release({"c1", "eth0"}).ok());
  auto o = run(env(Command::kCheck), checkConf());
  expectError(o, kCodeCheckFailed, "interface eth0 is missing");
  const std::string msg = json::parse(o.stdoutText)["msg"];
  EXPECT_NE(msg.find("host veth " + hostVethName("c1", "eth0") + " is missing"), std::string::npos);
  EXPECT_NE(msg.find("is not held by this container"), std::string::npos);
}

TEST_F(CheckTest, NeedsVersion040AndAPrevResult) {
  expectError(run(env(Command::kCheck), checkConf("0.3.1")), kCodeIncompatibleVersion, "0.4.0");
  expectError(run(env(Command::kCheck), conf()), kCodeInvalidConfig, "prevResult is required");
  EXPECT_EQ(run(env(Command::kCheck), checkConf("0.4.0")).exitCode, 0);
  expectError(run(env(Command::kCheck, "c1", "/var/run/netns/gone"), checkConf()),
              kCodeUnknownContainer, "/var/run/netns/gone");
}

class GcTest : public CommandsTest {
 protected:
  void SetUp() override {
    CommandsTest::SetUp();
    for (const char* id : {"c1", "c2", "c3"}) ASSERT_EQ(add(id).exitCode, 0);
    dp_.foreignPorts["cni0"] = {"eth9", "vethabc"};
  }
  std::string gcConf(const std::string& lists, const std::string& version = "1.1.0") {
    return conf(version, R"([{"subnet":"10.244.1.0/24"},{"subnet":"fd00:10:244:1::/64"}])",
                lists.empty() ? "" : "," + lists);
  }
};

TEST_F(GcTest, ReleasesEverythingOutsideTheValidList) {
  auto o = run(env(Command::kGc, ""),
               gcConf(R"("cni.dev/valid-attachments":[{"containerID":"c2","ifname":"eth0"}])"));
  EXPECT_EQ(o.exitCode, 0) << o.stdoutText;
  EXPECT_EQ(o.stdoutText, "");
  EXPECT_TRUE(leases("c1").empty());
  EXPECT_TRUE(leases("c3").empty());
  EXPECT_EQ(leases("c2").size(), 2u);
  EXPECT_EQ(dp_.byHostVeth.size(), 1u);
  EXPECT_EQ(dp_.byHostVeth.count(hostVethName("c2", "eth0")), 1u);
  // Ports routelet did not name are not touched.
  auto ports = dp_.bridgePorts("cni0");
  EXPECT_EQ(ports->size(), 3u);
}

TEST_F(GcTest, AcceptsTheOlderKeyAndTheUnionOfBoth) {
  auto o = run(env(Command::kGc, ""),
               gcConf(R"("cni.dev/attachments":[{"containerID":"c1","ifname":"eth0"}],)"
                      R"("cni.dev/valid-attachments":[{"containerID":"c3","ifname":"eth0"}])"));
  EXPECT_EQ(o.exitCode, 0) << o.stdoutText;
  EXPECT_EQ(leases("c1").size(), 2u);
  EXPECT_TRUE(leases("c2").empty());
  EXPECT_EQ(leases("c3").size(), 2u);
}

TEST_F(GcTest, WithoutAListNothingIsReleased) {
  auto o = run(env(Command::kGc, ""), gcConf(""));
  EXPECT_EQ(o.exitCode, 0) << o.stdoutText;
  EXPECT_EQ(leaseCount(), 6u);
  EXPECT_EQ(dp_.byHostVeth.size(), 3u);
}

TEST_F(GcTest, AnEmptyListReleasesEverything) {
  auto o = run(env(Command::kGc, ""), gcConf(R"("cni.dev/valid-attachments":[])"));
  EXPECT_EQ(o.exitCode, 0) << o.stdoutText;
  EXPECT_EQ(leaseCount(), 0u);
  EXPECT_TRUE(dp_.byHostVeth.empty());
}

TEST_F(GcTest, GoesOnPastErrorsAndReportsThemAll) {
  dp_.failDetach = {hostVethName("c1", "eth0"), hostVethName("c2", "eth0")};
  auto o = run(env(Command::kGc, ""), gcConf(R"("cni.dev/valid-attachments":[])"));
  expectError(o, kCodeGcIncomplete, "2 error(s)");
  const std::string details = json::parse(o.stdoutText)["details"];
  EXPECT_NE(details.find(hostVethName("c1", "eth0")), std::string::npos) << details;
  EXPECT_NE(details.find(hostVethName("c2", "eth0")), std::string::npos) << details;
  EXPECT_EQ(dp_.byHostVeth.count(hostVethName("c3", "eth0")), 0u);  // went on past them
  EXPECT_EQ(leaseCount(), 0u);
}

TEST_F(GcTest, RejectsOldVersionsAndMalformedLists) {
  expectError(run(env(Command::kGc, ""), gcConf(R"("cni.dev/valid-attachments":[])", "1.0.0")),
              kCodeIncompatibleVersion, "1.1.0");
  expectError(run(env(Command::kGc, ""), gcConf(R"("cni.dev/valid-attachments":{})")),
              kCodeInvalidConfig, "cni.dev/valid-attachments must be an array");
  expectError(
      run(env(Command::kGc, ""), gcConf(R"("cni.dev/valid-attachments":[{"containerID":"c1"}])")),
      kCodeInvalidConfig, "cni.dev/valid-attachments[0]");
  EXPECT_EQ(leaseCount(), 6u);
}

TEST_F(CommandsTest, StatusNeeds110AndReportsAnUnusableConfigAsCode50) {
  EXPECT_EQ(run(env(Command::kStatus, ""), conf()).exitCode, 0);
  expectError(run(env(Command::kStatus, ""), conf("1.0.0")), kCodeIncompatibleVersion, "1.1.0");
  expectError(run(env(Command::kStatus, ""), conf("1.1.0", R"([{"subnet":"10.0.0.0/33"}])")),
              kCodeStatusCannotAdd, "config unusable");
  // A data dir that cannot be created (its parent is a file).
  std::string file = dir_ + "/file";
  ASSERT_EQ(std::system(("touch " + file).c_str()), 0);
  std::string c = conf();
  auto pos = c.find(dir_);
  c.replace(pos, dir_.size(), file + "/sub");
  expectError(run(env(Command::kStatus, ""), c), kCodeStatusCannotAdd, "cannot serve ADD");
}

TEST_F(CommandsTest, ConfigHookSeesTheParsedConfig) {
  std::string seen;
  auto o = plugin::run(env(Command::kStatus, ""), conf(), dp_,
                       [&](const config::NetConf& c) { seen = c.bridge; });
  EXPECT_EQ(o.exitCode, 0);
  EXPECT_EQ(seen, "cni0");
}

}  // namespace
}  // namespace routelet::cni::plugin
