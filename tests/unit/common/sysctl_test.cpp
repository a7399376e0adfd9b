#include "common/sysctl/sysctl.h"

#include <gtest/gtest.h>

namespace routelet::sysctl {
namespace {

TEST(SysctlTest, MapsKeysToProcPathsKeepingDotsInInterfaceNames) {
  EXPECT_EQ(pathOf("net.ipv4.ip_forward"), "/proc/sys/net/ipv4/ip_forward");
  EXPECT_EQ(pathOf("net.ipv6.conf.all.forwarding"), "/proc/sys/net/ipv6/conf/all/forwarding");
  EXPECT_EQ(pathOf("net.ipv6.conf.eth0.100.accept_dad"),
            "/proc/sys/net/ipv6/conf/eth0.100/accept_dad");
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
