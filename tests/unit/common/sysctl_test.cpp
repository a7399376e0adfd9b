#include "common/sysctl/sysctl.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/fs/files.h"
#include "tests/support/temp_dir.h"

namespace routelet::sysctl {
namespace {

TEST(SysctlTest, MapsKeysToProcPathsKeepingDotsInInterfaceNames) {
  EXPECT_EQ(pathOf("net.ipv4.ip_forward"), "/proc/sys/net/ipv4/ip_forward");
  EXPECT_EQ(pathOf("net.ipv6.conf.all.forwarding"), "/proc/sys/net/ipv6/conf/all/forwarding");
  EXPECT_EQ(pathOf("net.ipv6.conf.eth0.100.accept_dad"),
            "/proc/sys/net/ipv6/conf/eth0.100/accept_dad");
}

// The DaemonSet's unprivileged agent: the node's /proc/sys/net mounted at /host/proc/sys/net.
TEST(SysctlTest, AnotherRootReadsAndWritesThere) {
  EXPECT_EQ(pathOf("net.ipv6.conf.cni0.accept_ra", "/host/proc/sys"),
            "/host/proc/sys/net/ipv6/conf/cni0/accept_ra");
  testing::TempDir root("sysctl-root");
  std::filesystem::create_directories(root.path() + "/net/ipv4");
  ASSERT_TRUE(fs::writeIfChanged(root.path() + "/net/ipv4/ip_forward", "0\n").ok());
  auto st = set("net.ipv4.ip_forward", "1", root.path());
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(*get("net.ipv4.ip_forward", root.path()), "1");
  auto missing = set("net.ipv4.conf.all.forwarding", "1", root.path());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find(root.path() + "/net/ipv4/conf/all/forwarding"),
            std::string::npos)
      << missing.error().message;
}

TEST(SysctlTest, AValueIsTheFileWithoutItsNewline) {
  EXPECT_EQ(valueOf("1\n"), "1");
  EXPECT_EQ(valueOf("4096\t16384\t4194304\n"), "4096\t16384\t4194304");
  EXPECT_EQ(valueOf(""), "");
}

TEST(SysctlTest, ReadsAKernelValueAndNamesMissingKeys) {
  auto v = get("net.ipv4.ip_forward");
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_TRUE(*v == "0" || *v == "1");
  auto missing = get("net.ipv4.no_such_knob");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("net.ipv4.no_such_knob"), std::string::npos);
}

}  // namespace
}  // namespace routelet::sysctl
