#include "cni/ipam/records.h"

#include <gtest/gtest.h>

namespace routelet::cni::ipam {
namespace {

TEST(RecordsTest, LeaseRoundTrips) {
  Attachment who{"0123abcd", "eth0"};
  EXPECT_EQ(formatLease(who), "0123abcd\neth0\n");
  auto parsed = parseLease(formatLease(who));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(*parsed, who);
}

TEST(RecordsTest, IndexRoundTrips) {
  IndexRecord record{{"c1", "eth0"},
                     {*ip::Address::parse("10.244.1.2"), *ip::Address::parse("fd00::2")}};
  EXPECT_EQ(formatIndex(record), "c1\neth0\n10.244.1.2\nfd00::2\n");
  auto parsed = parseIndex(formatIndex(record));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->owner, record.owner);
  EXPECT_EQ(parsed->addresses, record.addresses);
}

TEST(RecordsTest, ALeaseMayBeItsOwnersIndex) {
  // The store links the attachment's index under each leased address.
  auto parsed = parseLease("c1\neth0\n10.244.1.2\nfd00::2\n");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(*parsed, (Attachment{"c1", "eth0"}));
  auto bad = parseLease("c1\neth0\n10.244.1.2\nfd00::zz\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("lease line 4"), std::string::npos) << bad.error().message;
}

TEST(RecordsTest, LeaseRejectsTornAndGarbageContent) {
  for (const char* bad : {"", "c1", "c1\neth0", "c1\n", "c1\neth0\nextra\n", "\neth0\n",
                          "c/1\neth0\n", "c1\n.eth0\n", "\x01\x02garbage"}) {
    auto r = parseLease(bad);
    EXPECT_FALSE(r.ok()) << "accepted " << testing::PrintToString(std::string(bad));
  }
  EXPECT_NE(parseLease("").error().message.find("empty"), std::string::npos);
  EXPECT_NE(parseLease("c1\neth0").error().message.find("not terminated"), std::string::npos);
}

TEST(RecordsTest, IndexRejectsBadAddressesAndMissingAddresses) {
  EXPECT_FALSE(parseIndex("c1\neth0\n").ok());
  auto r = parseIndex("c1\neth0\n10.0.0.2\nnot-an-ip\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("index line 4"), std::string::npos) << r.error().message;
  EXPECT_FALSE(parseIndex("c1\neth0\n10.0.0.2").ok());
}

TEST(RecordsTest, NamesThatWouldEscapeOrBreakTheStoreAreRefused) {
  for (const Attachment& bad :
       {Attachment{"a/b", "eth0"}, Attachment{"..", "eth0"}, Attachment{".hidden", "eth0"},
        Attachment{"c1", "../x"}, Attachment{"c1", "eth:0"}, Attachment{"c\n1", "eth0"},
        Attachment{"", "eth0"}, Attachment{"c1", ""}, Attachment{std::string(121, 'a'), "eth0"}}) {
    auto st = checkAttachment(bad);
    ASSERT_FALSE(st.ok()) << bad.containerId << " " << bad.ifname;
    EXPECT_EQ(st.error().code, EINVAL);
  }
  auto st = checkAttachment({"c1", "et/h0"});
  EXPECT_NE(st.error().message.find("ifname \"et/h0\" contains '/'"), std::string::npos)
      << st.error().message;
  EXPECT_TRUE(checkAttachment({"abc-1.2_3", "eth0.100"}).ok());
  EXPECT_EQ(indexFileName({"abc", "eth0"}), "abc:eth0");
}

}  // namespace
}  // namespace routelet::cni::ipam
