#include "cni/plugin/naming.h"

#include <gtest/gtest.h>

#include <set>

namespace routelet::cni::plugin {
namespace {

TEST(NamingTest, HostVethNameIsShortStableAndPerAttachment) {
  std::string a = hostVethName("0123456789abcdef0123456789abcdef", "eth0");
  EXPECT_EQ(a.size(), 12u);
  EXPECT_LE(a.size(), 15u);
  EXPECT_EQ(a.substr(0, 2), "rl");
  EXPECT_EQ(a, hostVethName("0123456789abcdef0123456789abcdef", "eth0"));
  EXPECT_NE(a, hostVethName("0123456789abcdef0123456789abcdef", "eth1"));
  EXPECT_NE(hostVethName("ab", "c"), hostVethName("a", "bc"));  // the separator matters
  EXPECT_TRUE(isHostVethName(a));
}

TEST(NamingTest, ThousandContainersGetDistinctNamesAndMacs) {
  std::set<std::string> names;
  std::set<config::MacBytes> macs;
  for (int i = 0; i < 1000; ++i) {
    std::string id = "container" + std::to_string(i);
    names.insert(hostVethName(id, "eth0"));
    macs.insert(hostVethMac(id, "eth0"));
    macs.insert(podMac(id, "eth0"));
  }
  EXPECT_EQ(names.size(), 1000u);
  EXPECT_EQ(macs.size(), 2000u);
}

TEST(NamingTest, IsHostVethNameRejectsForeignNames) {
  for (const char* n : {"", "rl", "eth0", "rl0123456789a", "rl012345678", "rl01234567Z9",
                        "xl0123456789", "cni0", "veth0123abcd"})
    EXPECT_FALSE(isHostVethName(n)) << n;
  EXPECT_TRUE(isHostVethName("rl0123456789"));
}

TEST(NamingTest, MacsAreLocallyAdministeredUnicast) {
  for (auto mac : {hostVethMac("c", "eth0"), podMac("c", "eth0")}) {
    EXPECT_EQ(mac[0] & 0x01, 0);
    EXPECT_EQ(mac[0] & 0x02, 0x02);
  }
  EXPECT_NE(hostVethMac("c", "eth0"), podMac("c", "eth0"));
}

}  // namespace
}  // namespace routelet::cni::plugin
