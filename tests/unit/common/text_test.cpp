#include "common/base/text.h"

#include <gtest/gtest.h>

namespace routelet {
namespace {

TEST(SafeText, KeepsValidUtf8) {
  EXPECT_EQ(safeText("node-1 é € 𝄞 \t"), "node-1 é € 𝄞 \\x09");
  EXPECT_EQ(safeText(""), "");
}

TEST(SafeText, EscapesControlCharacters) {
  EXPECT_EQ(safeText("\x1b[31mred\x1b[0m"), "\\x1b[31mred\\x1b[0m");
  EXPECT_EQ(safeText(std::string_view("a\0b\n\x7f", 5)), "a\\x00b\\x0a\\x7f");
  EXPECT_EQ(safeText("\xc2\x9b"
                     "2J \xc2\x85"),
            "\\x9b2J \\x85");                   // C1: CSI, NEL
  EXPECT_EQ(safeText("\xc2\xa0"), "\xc2\xa0");  // U+00A0 is not one
}

TEST(SafeText, EscapesEveryByteOfAnInvalidSequence) {
  EXPECT_EQ(safeText("a\xff"
                     "b"),
            "a\\xffb");
  EXPECT_EQ(safeText("\xc3"), "\\xc3");                             // truncated
  EXPECT_EQ(safeText("\xc0\xaf"), "\\xc0\\xaf");                    // overlong '/'
  EXPECT_EQ(safeText("\xed\xa0\x80"), "\\xed\\xa0\\x80");           // surrogate U+D800
  EXPECT_EQ(safeText("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");  // above U+10FFFF
  EXPECT_EQ(safeText("\xe2\x82"
                     "x"),
            "\\xe2\\x82x");
}

TEST(SafeText, CutsBetweenCharacters) {
  std::string a63(63, 'a');
  EXPECT_EQ(safeText(a63 + "é", 64), a63 + "...");
  EXPECT_EQ(safeText(a63 + "é", 65), a63 + "é");
  EXPECT_EQ(safeText("ab\x1b", 4), "ab...");  // an escape is not cut either
  EXPECT_EQ(safeText("abc", 3), "abc");
}

TEST(Quote, BoundsAndQuotes) {
  EXPECT_EQ(quote("10.0.0.1"), "\"10.0.0.1\"");
  EXPECT_EQ(quote(std::string(100, 'x')), "\"" + std::string(64, 'x') + "...\"");
  EXPECT_EQ(quote("a\"b\\c\x1b"), "\"a\\\"b\\\\c\\x1b\"");
}

}  // namespace
}  // namespace routelet
