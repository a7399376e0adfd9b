#include "cni/config/net_conf.h"

#include <gtest/gtest.h>

#include "cni/config/codes.h"
#include "cni/config/version.h"
#include "common/bridge/bridge.h"

namespace routelet::cni::config {
namespace {

const char* kDualStack = R"({
  "cniVersion": "1.1.0", "name": "routelet", "type": "routelet-cni", "bridge": "cni0",
  "mtu": 1450, "dataDir": "/tmp/rl",
  "ranges": [{"subnet": "10.244.1.0/24", "gateway": "10.244.1.1"},
             {"subnet": "fd00:10:244:1::/64"}],
  "bridgeMac": "02:00:00:00:00:01", "logFile": "/var/log/rl.log", "logLevel": "debug",
  "hairpinMode": false, "cni.dev/reserved": true, "unknownKey": {"x": 1}
})";

TEST(NetConfTest, ParsesEveryFieldAndDefaultsTheIpv6Gateway) {
  auto c = parse(kDualStack);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->cniVersion, "1.1.0");
  EXPECT_EQ(c->name, "routelet");
  EXPECT_EQ(c->type, "routelet-cni");
  EXPECT_EQ(c->bridge, "cni0");
  EXPECT_EQ(c->mtu, 1450u);
  EXPECT_EQ(c->dataDir, "/tmp/rl");
  ASSERT_EQ(c->ranges.size(), 2u);
  EXPECT_EQ(c->ranges[0].subnet.str(), "10.244.1.0/24");
  EXPECT_EQ(c->ranges[0].gateway.str(), "10.244.1.1");
  EXPECT_EQ(c->ranges[1].gateway.str(), "fd00:10:244:1::1");
  ASSERT_NE(c->range(ip::Family::kV6), nullptr);
  EXPECT_EQ(c->range(ip::Family::kV6)->subnet.str(), "fd00:10:244:1::/64");
  ASSERT_TRUE(c->bridgeMac.has_value());
  EXPECT_EQ((*c->bridgeMac)[5], 1);
  EXPECT_EQ(c->logFile, "/var/log/rl.log");
  EXPECT_EQ(c->logLevel, "debug");
  EXPECT_FALSE(c->hairpinMode);
}

TEST(NetConfTest, DefaultsApplyWhenOptionalFieldsAreAbsent) {
  auto c = parse(
      R"({"cniVersion":"0.4.0","name":"n","bridge":"br0","ranges":[{"subnet":"10.0.0.0/30"}]})");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->mtu, kDefaultMtu);
  EXPECT_EQ(c->dataDir, kDefaultDataDir);
  EXPECT_EQ(c->type, kPluginType);
  EXPECT_FALSE(c->bridgeMac.has_value());
  EXPECT_TRUE(c->hairpinMode);
  EXPECT_EQ(c->ranges[0].gateway.str(), "10.0.0.1");
  EXPECT_EQ(c->range(ip::Family::kV6), nullptr);
}

TEST(NetConfTest, SerialisesAndParsesBackToAnEqualConfig) {
  auto c = parse(kDualStack);
  ASSERT_TRUE(c.ok());
  c->ranges[0].rangeStart = *ip::Address::parse("10.244.1.10");
  c->ranges[0].rangeEnd = *ip::Address::parse("10.244.1.20");
  auto back = parse(toJson(*c));
  ASSERT_TRUE(back.ok()) << back.error().message << " in " << toJson(*c);
  EXPECT_EQ(*back, *c);
  // Defaults are written out so the file says everything the plugin uses.
  NetConf minimal;
  minimal.cniVersion = "1.0.0";
  minimal.name = "n";
  minimal.bridge = "cni0";
  minimal.ranges.push_back({*ip::Prefix::parse("10.1.0.0/16"), *ip::Address::parse("10.1.0.1"),
                            std::nullopt, std::nullopt});
  auto doc = toJsonObject(minimal);
  EXPECT_EQ(doc["mtu"], 1500);
  EXPECT_EQ(doc["dataDir"], "/run/routelet/ipam");
  EXPECT_EQ(doc["type"], "routelet-cni");
  EXPECT_FALSE(doc.contains("bridgeMac"));
  auto again = parse(toJson(minimal));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, minimal);
}

TEST(NetConfTest, BridgeMacIsFixedLocallyAdministeredAndDerivedFromTheName) {
  auto a = bridge::bridgeMacFor("cni0");
  EXPECT_EQ(a, bridge::bridgeMacFor("cni0"));
  EXPECT_NE(a, bridge::bridgeMacFor("cni1"));
  EXPECT_EQ(a[0] & 0x03, 0x02);  // unicast, locally administered
  NetConf c;
  c.bridge = "cni0";
  EXPECT_EQ(effectiveBridgeMac(c), a);
  c.bridgeMac = MacBytes{0x02, 0, 0, 0, 0, 9};
  EXPECT_EQ(effectiveBridgeMac(c), *c.bridgeMac);
}

struct BadCase {
  const char* input;
  int code;
  const char* mustMention;  // the field and the value the message names
};

class NetConfBadInputTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(NetConfBadInputTest, FailsWithTheContractCodeNamingFieldAndValue) {
  const BadCase& b = GetParam();
  auto c = parse(b.input);
  ASSERT_FALSE(c.ok()) << b.input;
  EXPECT_EQ(c.error().code, b.code) << c.error().message;
  EXPECT_NE(c.error().message.find(b.mustMention), std::string::npos)
      << "message \"" << c.error().message << "\" does not mention " << b.mustMention;
}

#define RL_BASE "\"cniVersion\":\"1.0.0\",\"name\":\"n\""
#define RL_BR "\"bridge\":\"cni0\""
#define RL_R4 "\"ranges\":[{\"subnet\":\"10.0.0.0/24\"}]"

INSTANTIATE_TEST_SUITE_P(
    Contract, NetConfBadInputTest,
    ::testing::Values(
        // Bad JSON: code 6.
        BadCase{"{", kCodeDecode, "not valid JSON"}, BadCase{"", kCodeDecode, "not valid JSON"},
        BadCase{"[1,2]", kCodeDecode, "must be a JSON object"},
        BadCase{"{\"a\":1} trailing", kCodeDecode, "not valid JSON"},
        // cniVersion: code 1.
        BadCase{"{\"name\":\"n\"," RL_BR "," RL_R4 "}", kCodeIncompatibleVersion, "cniVersion"},
        BadCase{"{\"cniVersion\":\"2.0.0\",\"name\":\"n\"," RL_BR "," RL_R4 "}",
                kCodeIncompatibleVersion, "\"2.0.0\""},
        BadCase{"{\"cniVersion\":\"0.2.0\",\"name\":\"n\"," RL_BR "," RL_R4 "}",
                kCodeIncompatibleVersion, "\"0.2.0\""},
        BadCase{"{\"cniVersion\":1,\"name\":\"n\"," RL_BR "," RL_R4 "}", kCodeIncompatibleVersion,
                "cniVersion"},
        // Network name: code 7.
        BadCase{"{\"cniVersion\":\"1.0.0\"," RL_BR "," RL_R4 "}", kCodeInvalidConfig,
                "name is required"},
        BadCase{"{\"cniVersion\":\"1.0.0\",\"name\":\"-bad\"," RL_BR "," RL_R4 "}",
                kCodeInvalidConfig, "name \"-bad\""},
        BadCase{"{\"cniVersion\":\"1.0.0\",\"name\":\"a/b\"," RL_BR "," RL_R4 "}",
                kCodeInvalidConfig, "name \"a/b\""},
        BadCase{"{\"cniVersion\":\"1.0.0\",\"name\":7," RL_BR "," RL_R4 "}", kCodeInvalidConfig,
                "name must be a string, got 7"},
        // Bridge.
        BadCase{"{" RL_BASE "," RL_R4 "}", kCodeInvalidConfig, "bridge is required"},
        BadCase{"{" RL_BASE ",\"bridge\":\"\"," RL_R4 "}", kCodeInvalidConfig, "bridge \"\""},
        BadCase{"{" RL_BASE ",\"bridge\":\"a-very-long-bridge\"," RL_R4 "}", kCodeInvalidConfig,
                "bridge \"a-very-long-bridge\""},
        BadCase{"{" RL_BASE ",\"bridge\":\"br 0\"," RL_R4 "}", kCodeInvalidConfig, "whitespace"},
        // The kernel would make "br" and the result would report "br\u0000x".
        BadCase{"{" RL_BASE ",\"bridge\":\"br\\u0000x\"," RL_R4 "}", kCodeInvalidConfig,
                "bridge \"br\\x00x\" is not a valid interface name: it may not contain a NUL"},
        BadCase{"{" RL_BASE ",\"bridge\":\"br\\u001b\"," RL_R4 "}", kCodeInvalidConfig,
                "bridge \"br\\x1b\" is not a valid interface name: it may not contain control"},
        // Ranges.
        BadCase{"{" RL_BASE "," RL_BR "}", kCodeInvalidConfig, "ranges is required"},
        BadCase{"{" RL_BASE "," RL_BR ",\"ranges\":[]}", kCodeInvalidConfig, "got 0"},
        BadCase{"{" RL_BASE "," RL_BR ",\"ranges\":{}}", kCodeInvalidConfig,
                "ranges must be an array"},
        BadCase{"{" RL_BASE "," RL_BR ",\"ranges\":[{\"subnet\":\"10.0.0.0/33\"}]}",
                kCodeInvalidConfig, "ranges[0].subnet: invalid CIDR \"10.0.0.0/33\""},
        BadCase{"{" RL_BASE "," RL_BR ",\"ranges\":[{\"subnet\":\"10.0.0.300/24\"}]}",
                kCodeInvalidConfig, "\"10.0.0.300/24\""},
        BadCase{"{" RL_BASE "," RL_BR ",\"ranges\":[{\"subnet\":\"10.0.0.5/24\"}]}",
                kCodeInvalidConfig, "host bits set"},
        BadCase{"{" RL_BASE "," RL_BR ",\"ranges\":[{\"subnet\":\"10.0.0.0/31\"}]}",
                kCodeInvalidConfig, "ranges[0].subnet \"10.0.0.0/31\" is too small"},
        BadCase{"{" RL_BASE "," RL_BR ",\"ranges\":[{\"gateway\":\"10.0.0.1\"}]}",
                kCodeInvalidConfig, "ranges[0].subnet is required"},
        BadCase{"{" RL_BASE "," RL_BR
                ",\"ranges\":[{\"subnet\":\"10.0.0.0/24\",\"gateway\":\"10.0.1.1\"}]}",
                kCodeInvalidConfig, "ranges[0].gateway \"10.0.1.1\" is not a host address"},
        BadCase{"{" RL_BASE "," RL_BR
                ",\"ranges\":[{\"subnet\":\"10.0.0.0/24\",\"gateway\":\"10.0.0.255\"}]}",
                kCodeInvalidConfig, "\"10.0.0.255\""},
        BadCase{"{" RL_BASE "," RL_BR
                ",\"ranges\":[{\"subnet\":\"10.0.0.0/24\",\"gateway\":\"10.0.0.0\"}]}",
                kCodeInvalidConfig, "\"10.0.0.0\""},
        BadCase{"{" RL_BASE "," RL_BR
                ",\"ranges\":[{\"subnet\":\"10.0.0.0/24\",\"gateway\":\"fd00::1\"}]}",
                kCodeInvalidConfig, "\"fd00::1\""},
        BadCase{"{" RL_BASE "," RL_BR
                ",\"ranges\":[{\"subnet\":\"10.0.0.0/24\",\"gateway\":\"nope\"}]}",
                kCodeInvalidConfig, "ranges[0].gateway \"nope\" is not an IP address"},
        BadCase{"{" RL_BASE "," RL_BR
                ",\"ranges\":[{\"subnet\":\"10.0.0.0/16\"},{\"subnet\":\"10.0.1.0/24\"}]}",
                kCodeInvalidConfig,
                "ranges[0].subnet 10.0.0.0/16 overlaps ranges[1].subnet "
                "10.0.1.0/24"},
        BadCase{"{" RL_BASE "," RL_BR
                ",\"ranges\":[{\"subnet\":\"10.0.0.0/24\"},{\"subnet\":\"10.1.0.0/24\"}]}",
                kCodeInvalidConfig, "both IPv4"},
        BadCase{"{" RL_BASE "," RL_BR
                ",\"ranges\":[{\"subnet\":\"fd00::/64\"},{\"subnet\":\"fd01::/64\"}]}",
                kCodeInvalidConfig, "both IPv6"},
        BadCase{"{" RL_BASE "," RL_BR
                ",\"ranges\":[{\"subnet\":\"10.0.0.0/24\"},{\"subnet\":\"fd00::/64\"},"
                "{\"subnet\":\"10.1.0.0/24\"}]}",
                kCodeInvalidConfig, "got 3"},
        BadCase{"{" RL_BASE "," RL_BR ",\"ranges\":[\"10.0.0.0/24\"]}", kCodeInvalidConfig,
                "ranges[0] must be an object"},
        BadCase{"{" RL_BASE "," RL_BR
                ",\"ranges\":[{\"subnet\":\"10.0.0.0/24\",\"rangeStart\":\"10.0.0.20\","
                "\"rangeEnd\":\"10.0.0.10\"}]}",
                kCodeInvalidConfig, "rangeEnd 10.0.0.10 is before rangeStart 10.0.0.20"},
        BadCase{"{" RL_BASE "," RL_BR
                ",\"ranges\":[{\"subnet\":\"10.0.0.0/24\",\"rangeStart\":\"10.0.1.20\"}]}",
                kCodeInvalidConfig, "ranges[0].rangeStart \"10.0.1.20\""},
        // MTU.
        BadCase{"{" RL_BASE "," RL_BR "," RL_R4 ",\"mtu\":\"1500\"}", kCodeInvalidConfig,
                "mtu must be an integer, got \"1500\""},
        BadCase{"{" RL_BASE "," RL_BR "," RL_R4 ",\"mtu\":1500.5}", kCodeInvalidConfig,
                "mtu must be an integer"},
        BadCase{"{" RL_BASE "," RL_BR "," RL_R4 ",\"mtu\":20}", kCodeInvalidConfig, "mtu 20"},
        BadCase{"{" RL_BASE "," RL_BR "," RL_R4 ",\"mtu\":70000}", kCodeInvalidConfig, "mtu 70000"},
        // Above INT64_MAX JSON holds it unsigned; read as int64 it was reported as -1.
        BadCase{"{" RL_BASE "," RL_BR "," RL_R4 ",\"mtu\":18446744073709551615}",
                kCodeInvalidConfig, "mtu 18446744073709551615 is out of range"},
        BadCase{"{" RL_BASE "," RL_BR "," RL_R4 ",\"mtu\":9223372036854775808}", kCodeInvalidConfig,
                "mtu 9223372036854775808 is out of range"},
        BadCase{"{" RL_BASE "," RL_BR "," RL_R4 ",\"mtu\":-1}", kCodeInvalidConfig,
                "mtu -1 is out of range"},
        BadCase{"{" RL_BASE "," RL_BR ",\"ranges\":[{\"subnet\":\"fd00::/64\"}],\"mtu\":1000}",
                kCodeInvalidConfig, "IPv6 needs at least 1280"},
        // Paths, MAC, log level.
        BadCase{"{" RL_BASE "," RL_BR "," RL_R4 ",\"dataDir\":\"relative/dir\"}",
                kCodeInvalidConfig, "dataDir \"relative/dir\" must be an absolute path"},
        BadCase{"{" RL_BASE "," RL_BR "," RL_R4 ",\"logFile\":\"x.log\"}", kCodeInvalidConfig,
                "logFile \"x.log\""},
        // A path reaches open(2) as a C string, which would end at the NUL: another place.
        BadCase{"{" RL_BASE "," RL_BR "," RL_R4 ",\"dataDir\":\"/run/a\\u0000b\"}",
                kCodeInvalidConfig, "dataDir \"/run/a\\x00b\" may not contain a NUL byte"},
        BadCase{"{" RL_BASE "," RL_BR "," RL_R4 ",\"logFile\":\"/var/log/a\\u0000b\"}",
                kCodeInvalidConfig, "logFile \"/var/log/a\\x00b\" may not contain a NUL byte"},
        BadCase{"{" RL_BASE "," RL_BR "," RL_R4 ",\"bridgeMac\":\"zz:00\"}", kCodeInvalidConfig,
                "bridgeMac \"zz:00\" is not a MAC"},
        BadCase{"{" RL_BASE "," RL_BR "," RL_R4 ",\"bridgeMac\":\"01:00:5e:00:00:01\"}",
                kCodeInvalidConfig, "must be a unicast"},
        BadCase{"{" RL_BASE "," RL_BR "," RL_R4 ",\"bridgeMac\":\"00:00:00:00:00:00\"}",
                kCodeInvalidConfig, "must be a unicast, non-zero"},
        BadCase{"{" RL_BASE "," RL_BR "," RL_R4 ",\"logLevel\":\"loud\"}", kCodeInvalidConfig,
                "logLevel \"loud\""},
        BadCase{"{" RL_BASE "," RL_BR "," RL_R4 ",\"hairpinMode\":\"yes\"}", kCodeInvalidConfig,
                "hairpinMode must be true or false, got \"yes\""}));

TEST(NetConfTest, AcceptsEverySupportedVersion) {
  for (auto v : kSupportedVersions) {
    auto c = parse(std::string("{\"cniVersion\":\"") + std::string(v) +
                   "\",\"name\":\"n\"," RL_BR "," RL_R4 "}");
    ASSERT_TRUE(c.ok()) << v << ": " << c.error().message;
    EXPECT_EQ(c->cniVersion, v);
  }
}

TEST(NetConfTest, HostileValuesAreCutShortInMessages) {
  std::string huge(10000, 'x');
  auto c = parse("{" RL_BASE ",\"bridge\":\"" + huge + "\"," RL_R4 "}");
  ASSERT_FALSE(c.ok());
  EXPECT_LT(c.error().message.size(), 300u);
}

TEST(VersionTest, ComparesNumerically) {
  EXPECT_LT(compareVersions("0.3.1", "0.4.0"), 0);
  EXPECT_GT(compareVersions("1.1.0", "1.0.0"), 0);
  EXPECT_EQ(compareVersions("1.0.0", "1.0.0"), 0);
  EXPECT_GT(compareVersions("0.10.0", "0.4.0"), 0);
  EXPECT_TRUE(versionAtLeast("0.4.0", "0.4.0"));
  EXPECT_FALSE(versionAtLeast("0.3.1", "0.4.0"));
  EXPECT_TRUE(isSupportedVersion("0.3.0"));
  EXPECT_FALSE(isSupportedVersion("0.2.0"));
  EXPECT_FALSE(isSupportedVersion("1.1"));
}

}  // namespace
}  // namespace routelet::cni::config
