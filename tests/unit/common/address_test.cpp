#include "common/ip/address.h"

#include <gtest/gtest.h>

#include <vector>

namespace routelet::ip {
namespace {

TEST(AddressTest, ParsesAndFormatsRoundTrip) {
  for (const char* text : {"10.244.1.1", "0.0.0.0", "255.255.255.255", "fd00:10:244:1::1",
                           "::", "::1", "2001:db8::"}) {
    auto a = Address::parse(text);
    ASSERT_TRUE(a.ok()) << text;
    EXPECT_EQ(a->str(), text);
  }
}

TEST(AddressTest, RejectsGarbageNamingTheValue) {
  for (const char* text : {"", "10.244.1", "10.244.1.256", "1.2.3.4.5", "fd00::1::2", "abc",
                           " 10.0.0.1", "10.0.0.1/24"}) {
    auto a = Address::parse(text);
    ASSERT_FALSE(a.ok()) << text;
    EXPECT_NE(a.error().message.find("invalid IP address"), std::string::npos);
  }
  auto a = Address::parse("10.0.0.300");
  EXPECT_EQ(a.error().message, "invalid IP address \"10.0.0.300\"");
}

TEST(AddressTest, HostileLengthIsBounded) {
  std::string huge(100000, '1');
  auto a = Address::parse(huge);
  ASSERT_FALSE(a.ok());
  EXPECT_LT(a.error().message.size(), 200u);
}

TEST(AddressTest, OffsetCarriesAcrossBytesBothWays) {
  EXPECT_EQ(Address::parse("10.0.0.255")->offset(1).str(), "10.0.1.0");
  EXPECT_EQ(Address::parse("10.0.1.0")->offset(-1).str(), "10.0.0.255");
  EXPECT_EQ(Address::parse("fd00::ffff")->offset(1).str(), "fd00::1:0");
  EXPECT_EQ(Address::parse("fd00::1:0")->offset(-2).str(), "fd00::fffe");
  EXPECT_EQ(Address::parse("10.0.0.1")->offset(256 * 256).str(), "10.1.0.1");
}

TEST(AddressTest, Classifies) {
  EXPECT_TRUE(Address::parse("127.0.0.5")->isLoopback());
  EXPECT_TRUE(Address::parse("::1")->isLoopback());
  EXPECT_TRUE(Address::parse("224.0.0.1")->isMulticast());
  EXPECT_TRUE(Address::parse("ff02::1")->isMulticast());
  EXPECT_TRUE(Address::parse("0.0.0.0")->isUnspecified());
  EXPECT_FALSE(Address::parse("10.0.0.1")->isUnspecified());
}

TEST(PrefixTest, StrictParseRejectsHostBits) {
  auto p = Prefix::parse("10.244.1.5/24");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().message,
            "invalid CIDR \"10.244.1.5/24\": host bits set (network is 10.244.1.0/24)");
  auto q = Prefix::parseInterface("10.244.1.5/24");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->str(), "10.244.1.5/24");
  EXPECT_EQ(q->network().str(), "10.244.1.0/24");
}

TEST(PrefixTest, RejectsBadLengths) {
  for (const char* text : {"10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/", "10.0.0.0", "fd00::/129",
                           "10.0.0.0/24x", "/24", "10.0.0.0/024a"}) {
    EXPECT_FALSE(Prefix::parse(text).ok()) << text;
  }
}

TEST(PrefixTest, ContainsOverlapsAndIndexes) {
  auto p = *Prefix::parse("10.244.1.0/24");
  EXPECT_TRUE(p.contains(*Address::parse("10.244.1.200")));
  EXPECT_FALSE(p.contains(*Address::parse("10.244.2.1")));
  EXPECT_FALSE(p.contains(*Address::parse("fd00::1")));
  EXPECT_TRUE(p.overlaps(*Prefix::parse("10.244.0.0/16")));
  EXPECT_FALSE(p.overlaps(*Prefix::parse("10.244.2.0/24")));
  EXPECT_EQ(p.size(), 256u);
  EXPECT_EQ(p.nth(1).str(), "10.244.1.1");
  EXPECT_EQ(p.indexOf(*Address::parse("10.244.1.77")), 77u);
  auto v6 = *Prefix::parse("fd00:10:244:1::/64");
  EXPECT_EQ(v6.nth(0x10001).str(), "fd00:10:244:1::1:1");
  EXPECT_EQ(v6.indexOf(*Address::parse("fd00:10:244:1::1:1")), 0x10001u);
  EXPECT_EQ(v6.size(), uint64_t{1} << 63);
  EXPECT_EQ(Prefix::parse("0.0.0.0/0")->size(), uint64_t{1} << 32);
}

TEST(PrefixTest, OverlapsMeansTheShorterPrefixContainsTheOther) {
  // Every pair, against the definition; lengths off byte boundaries, host bits set,
  // /0 and both families.
  std::vector<Prefix> all;
  for (const char* text :
       {"10.244.1.0/24", "10.244.1.77/24", "10.244.0.0/16", "10.244.1.128/25", "10.244.1.0/25",
        "10.245.0.0/16", "10.244.3.0/23", "10.0.0.0/7", "11.0.0.0/8", "0.0.0.0/0", "10.244.1.1/32",
        "fd00:10:244:1::/64", "fd00:10:244::/48", "fd00:10:244:2::/63", "fd00::1/128", "::/0"}) {
    auto p = Prefix::parseInterface(text);
    ASSERT_TRUE(p.ok()) << text;
    all.push_back(*p);
  }
  for (const auto& a : all) {
    for (const auto& b : all) {
      bool want = false;
      if (a.family() == b.family()) {
        const Prefix& wider = a.length() <= b.length() ? a : b;
        const Prefix& other = a.length() <= b.length() ? b : a;
        want = wider.network().contains(other.network().address());
      }
      EXPECT_EQ(a.overlaps(b), want) << a.str() << " " << b.str();
      EXPECT_EQ(a.overlaps(b), b.overlaps(a)) << a.str() << " " << b.str();
    }
  }
}

TEST(PrefixTest, OrdersForStableOutput) {
  EXPECT_LT(*Prefix::parse("10.244.1.0/24"), *Prefix::parse("10.244.2.0/24"));
}

}  // namespace
}  // namespace routelet::ip
