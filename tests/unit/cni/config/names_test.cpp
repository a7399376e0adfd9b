#include "cni/config/names.h"

#include <gtest/gtest.h>

namespace routelet::cni::config {
namespace {

TEST(NamesTest, IdentifierRuleFollowsTheSpecRegex) {
  for (const char* ok : {"a", "A9", "9a", "a_b.c-d", "routelet"})
    EXPECT_TRUE(isValidIdentifier(ok));
  for (const char* bad : {"", "_a", ".a", "-a", "a b", "a/b", "a:b", "ä"})
    EXPECT_FALSE(isValidIdentifier(bad)) << bad;
}

TEST(NamesTest, IfnameRulesFollowTheKernel) {
  EXPECT_FALSE(ifnameProblem("eth0"));
  EXPECT_FALSE(ifnameProblem("123456789012345"));
  EXPECT_EQ(*ifnameProblem(""), "is empty");
  EXPECT_EQ(*ifnameProblem("1234567890123456"), "is longer than 15 bytes");
  EXPECT_TRUE(ifnameProblem("."));
  EXPECT_TRUE(ifnameProblem(".."));
  EXPECT_EQ(*ifnameProblem(".eth0"), "may not start with '.'");
  EXPECT_TRUE(ifnameProblem("a/b"));
  EXPECT_TRUE(ifnameProblem("a:b"));
  EXPECT_TRUE(ifnameProblem("a\nb"));
}

// The kernel takes a name up to its first NUL, so "br\0x" would make a link "br" that the
// result reports as "br\0x"; it accepts control characters, which then reach logs and
// terminals through `ip link`. Both are refused before anything is made.
TEST(NamesTest, IfnameRefusesNulAndControlCharacters) {
  EXPECT_EQ(ifnameProblem(std::string("br\0x", 4)), "may not contain a NUL byte");
  for (const char* bad : {"a\x01", "\x1b[31m", "a\x7f", "a\xc2\x85"})  // C0, ESC, DEL, C1 (NEL)
    EXPECT_EQ(ifnameProblem(bad), "may not contain control characters") << bad;
  // The kernel's isspace() (lib/ctype.c) counts the byte 0xa0, so dev_valid_name refuses it.
  EXPECT_EQ(ifnameProblem(std::string("a\xc2\xa0") + "b"), "may not contain whitespace");
  EXPECT_FALSE(ifnameProblem("br\xc3\xa4"));  // other UTF-8 is a valid name to the kernel
}

TEST(NamesTest, QuotedEscapesAndBounds) {
  EXPECT_EQ(quoteValue("x\"y"), "\"x\\\"y\"");
  EXPECT_EQ(quoteValue(std::string("a\nb")), "\"a\\x0ab\"");
  EXPECT_EQ(quoteValue(std::string(200, 'a')).size(), 80u + 2 + 3);
}

}  // namespace
}  // namespace routelet::cni::config
