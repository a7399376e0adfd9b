#include "cni/plugin/result.h"

#include <gtest/gtest.h>

#include "cni/config/codes.h"
#include "cni/config/version.h"

namespace routelet::cni::plugin {
namespace {
using nlohmann::json;

AddResult dualStack() {
  AddResult r;
  r.interfaces = {{"cni0", {0x02, 0xaa, 0, 0, 0, 1}, "", 1500},
                  {"rl0123456789", {0x02, 0xbb, 0, 0, 0, 2}, "", 1500},
                  {"eth0", {0x02, 0xcc, 0, 0, 0, 3}, "/var/run/netns/p1", 1500}};
  r.ips = {{*ip::Prefix::parseInterface("10.244.1.2/24"), *ip::Address::parse("10.244.1.1"), 2},
           {*ip::Prefix::parseInterface("fd00::2/64"), *ip::Address::parse("fd00::1"), 2}};
  r.routes = {{*ip::Prefix::parse("0.0.0.0/0"), *ip::Address::parse("10.244.1.1")},
              {*ip::Prefix::parse("::/0"), *ip::Address::parse("fd00::1")}};
  return r;
}

TEST(ResultTest, GoldenOneDotZero) {
  EXPECT_EQ(resultJson(dualStack(), "1.0.0"),
            R"({"cniVersion":"1.0.0","dns":{},"interfaces":[)"
            R"({"mac":"02:aa:00:00:00:01","name":"cni0"},)"
            R"({"mac":"02:bb:00:00:00:02","name":"rl0123456789"},)"
            R"({"mac":"02:cc:00:00:00:03","name":"eth0","sandbox":"/var/run/netns/p1"}],)"
            R"("ips":[{"address":"10.244.1.2/24","gateway":"10.244.1.1","interface":2},)"
            R"({"address":"fd00::2/64","gateway":"fd00::1","interface":2}],)"
            R"("routes":[{"dst":"0.0.0.0/0","gw":"10.244.1.1"},{"dst":"::/0","gw":"fd00::1"}]})");
}

struct VersionShape {
  const char* version;
  bool ipsVersion;    // "version":"4"/"6" in each ips entry (0.3.x, 0.4.0)
  bool interfaceMtu;  // "mtu" in interfaces (new in 1.1.0)
};

class ResultVersionTest : public ::testing::TestWithParam<VersionShape> {};

TEST_P(ResultVersionTest, ShapeFollowsTheConfigVersion) {
  const auto& p = GetParam();
  json doc = json::parse(resultJson(dualStack(), p.version));
  EXPECT_EQ(doc["cniVersion"], p.version);
  EXPECT_TRUE(doc["dns"].is_object());
  EXPECT_TRUE(doc["dns"].empty());
  ASSERT_EQ(doc["ips"].size(), 2u);
  EXPECT_EQ(doc["ips"][0].contains("version"), p.ipsVersion);
  if (p.ipsVersion) {
    EXPECT_EQ(doc["ips"][0]["version"], "4");
    EXPECT_EQ(doc["ips"][1]["version"], "6");
  }
  EXPECT_EQ(doc["interfaces"][0].contains("mtu"), p.interfaceMtu);
  EXPECT_EQ(doc["ips"][1]["interface"], 2);
  EXPECT_EQ(doc["interfaces"][2]["sandbox"], "/var/run/netns/p1");
  EXPECT_FALSE(doc["interfaces"][0].contains("sandbox"));
  // Whatever the version, a prevResult in it reads back to the same result.
  auto back = parseResult(doc);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->ips, dualStack().ips);
  EXPECT_EQ(back->routes, dualStack().routes);
  EXPECT_EQ(back->interfaces[2].mac, dualStack().interfaces[2].mac);
  EXPECT_EQ(back->interfaces[2].sandbox, "/var/run/netns/p1");
}

INSTANTIATE_TEST_SUITE_P(AllSupported, ResultVersionTest,
                         ::testing::Values(VersionShape{"0.3.0", true, false},
                                           VersionShape{"0.3.1", true, false},
                                           VersionShape{"0.4.0", true, false},
                                           VersionShape{"1.0.0", false, false},
                                           VersionShape{"1.1.0", false, true}));

TEST(ResultTest, ParseRejectsMalformedPrevResultNamingTheField) {
  struct Case {
    const char* json;
    const char* mention;
  };
  for (const Case& c : std::vector<Case>{
           {R"([])", "must be an object"},
           {R"({"ips":{}})", "ips must be an array"},
           {R"({"ips":[{"gateway":"10.0.0.1"}]})", "ips[0].address is missing"},
           {R"({"ips":[{"address":"10.0.0.300/24"}]})", "ips[0].address"},
           {R"({"ips":[{"address":"10.0.0.2/24","interface":3}]})", "ips[0].interface 3"},
           {R"({"interfaces":[{"mac":"02:00:00:00:00:01"}]})", "interfaces[0].name is missing"},
           {R"({"interfaces":[{"name":"eth0","mac":"nope"}]})", "interfaces[0].mac \"nope\""},
           {R"({"routes":[{"gw":"10.0.0.1"}]})", "routes[0].dst is missing"},
           {R"({"routes":[{"dst":"0.0.0.0/0","gw":5}]})", "routes[0].gw must be a string"},
           // An interface MTU is a u32 (IFLA_MTU); a wider number was cut to its low bits.
           {R"({"interfaces":[{"name":"eth0","mtu":4294967296}]})",
            "interfaces[0].mtu 4294967296 is not an MTU"},
           {R"({"interfaces":[{"name":"eth0","mtu":-1}]})", "interfaces[0].mtu -1 is not an MTU"},
           {R"({"interfaces":[{"name":"eth0","mtu":"1500"}]})",
            "interfaces[0].mtu \"1500\" is not an MTU"},
           {R"({"ips":[{"address":"10.0.0.2/24","interface":18446744073709551615}]})",
            "ips[0].interface 18446744073709551615"},
       }) {
    auto r = parseResult(json::parse(c.json));
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_EQ(r.error().code, kCodeInvalidConfig);
    EXPECT_NE(r.error().message.find("prevResult: "), std::string::npos);
    EXPECT_NE(r.error().message.find(c.mention), std::string::npos) << r.error().message;
  }
}

TEST(ErrorJsonTest, HasTheSpecShape) {
  json doc = json::parse(errorJson("0.4.0", 7, "bridge \"\" is not valid", "more"));
  EXPECT_EQ(doc, (json{{"cniVersion", "0.4.0"},
                       {"code", 7},
                       {"msg", "bridge \"\" is not valid"},
                       {"details", "more"}}));
  doc = json::parse(errorJson("1.1.0", 4, "x"));
  EXPECT_FALSE(doc.contains("details"));
  EXPECT_TRUE(doc["code"].is_number_unsigned());
}

TEST(ErrorJsonTest, NeverThrowsOnBytesThatAreNotUtf8) {
  std::string bad = "netns \xff\xfe";
  json doc = json::parse(errorJson("1.0.0", 3, bad));
  EXPECT_EQ(doc["code"], 3);
  EXPECT_NE(doc["msg"].get<std::string>().find("netns"), std::string::npos);
}

TEST(VersionJsonTest, EchoesTheVersionAndListsAllSupported) {
  for (const char* v : {"0.3.0", "1.0.0", "1.1.0", "0.2.0"}) {
    EXPECT_EQ(versionJson(v), std::string(R"({"cniVersion":")") + v +
                                  R"(","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0",)"
                                  R"("1.1.0"]})");
  }
}

}  // namespace
}  // namespace routelet::cni::plugin
