#include "controller/node/plugin_probe.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tests/support/temp_dir.h"

namespace routelet::node {
namespace {

using namespace std::chrono_literals;

TEST(ParseVersionAnswerTest, ReadsSupportedVersionsAndNamesWhatIsWrong) {
  auto v = parseVersionAnswer(R"({"cniVersion":"1.0.0","supportedVersions":["0.4.0","1.0.0"]})");
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(*v, (std::vector<std::string>{"0.4.0", "1.0.0"}));
  EXPECT_NE(parseVersionAnswer("CNI portmap plugin").error().message.find("not a JSON object"),
            std::string::npos);
  EXPECT_NE(
      parseVersionAnswer(R"({"cniVersion":"1.0.0"})").error().message.find("supportedVersions"),
      std::string::npos);
  EXPECT_NE(
      parseVersionAnswer(R"({"supportedVersions":["1.0.0",7]})").error().message.find("non-string"),
      std::string::npos);
}

class PluginProbeTest : public ::testing::Test {
 protected:
  std::string script(const std::string& name, const std::string& body) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
    ::chmod(path.c_str(), 0755);
    return path;
  }
  routelet::testing::TempDir tmp_{"probe-test"};
  std::string dir_ = tmp_.path();
};

TEST_F(PluginProbeTest, AsksAsLibcniDoesAndReadsTheAnswer) {
  // The answer echoes what the plugin was given, so the test sees the env and stdin.
  auto path = script("echo", R"sh(read -r input
[ "$CNI_COMMAND" = VERSION ] || exit 3
printf '{"cniVersion":"1.0.0","supportedVersions":["%s"]}' "$(echo "$input" | tr -d '"{}')")sh");
  auto v = probePluginVersions(path);
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(*v, (std::vector<std::string>{"cniVersion:1.0.0"}));
}

TEST_F(PluginProbeTest, FailuresAreErrorsNamingThePlugin) {
  auto missing = probePluginVersions(dir_ + "/none");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find(dir_ + "/none"), std::string::npos);
  auto failing = probePluginVersions(script("fail", "exit 1"));
  ASSERT_FALSE(failing.ok());
  EXPECT_NE(failing.error().message.find("VERSION failed"), std::string::npos);
  auto garbage = probePluginVersions(script("garbage", "echo hello"));
  ASSERT_FALSE(garbage.ok());
  EXPECT_NE(garbage.error().message.find("not a JSON object"), std::string::npos);
  // Exits without reading stdin: the agent must not die of SIGPIPE.
  auto early = probePluginVersions(script("early", "exec 0<&-; exit 1"));
  EXPECT_FALSE(early.ok());
}

TEST_F(PluginProbeTest, APluginThatDoesNotAnswerIsKilledAtTheTimeout) {
  auto hung = probePluginVersions(script("hung", "exec sleep 30"), 200ms);
  ASSERT_FALSE(hung.ok());
  EXPECT_NE(hung.error().message.find("no answer within 200 ms"), std::string::npos);
  auto flood = probePluginVersions(script("flood", "exec yes"), 5s);
  ASSERT_FALSE(flood.ok());
  EXPECT_NE(flood.error().message.find("bytes"), std::string::npos);
}

// The real consumer: Debian's portmap (containernetworking-plugins 1.1.1) speaks up to 1.0.0,
// which is why the agent must ask before offering 1.1.0.
TEST(PluginProbeRealTest, DebiansPortmapAnswers) {
  const std::string portmap = "/usr/lib/cni/portmap";
  ASSERT_EQ(::access(portmap.c_str(), X_OK), 0)
      << portmap << " not found: scripts/setup installs containernetworking-plugins";
  auto v = probePluginVersions(portmap);
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_NE(std::find(v->begin(), v->end(), "1.0.0"), v->end());
}

}  // namespace
}  // namespace routelet::node
