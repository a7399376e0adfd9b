#include "controller/kube/token_source.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "tests/support/temp_dir.h"

namespace routelet::kube {
namespace {

using namespace std::chrono_literals;

TEST(TokenSource, StaticToken) {
  TokenSource t("abc", "");
  EXPECT_EQ(t.current(), "abc");
  EXPECT_FALSE(t.refresh());
  EXPECT_EQ(t.current(), "abc");
}

class TokenFileTest : public ::testing::Test {
 protected:
  void write(const std::string& s) { std::ofstream(file_) << s; }

  routelet::testing::TempDir tmp_{"token"};
  std::string dir_ = tmp_.path(), file_ = dir_ + "/token";
  std::chrono::steady_clock::time_point now_{};
};

TEST_F(TokenFileTest, RereadAfterMaxAgeOnly) {
  write("one\n");
  TokenSource t("static-ignored", file_, 60s, [this] { return now_; });
  EXPECT_EQ(t.current(), "one");
  write("two");
  now_ += 59s;
  EXPECT_EQ(t.current(), "one") << "cached within maxAge";
  now_ += 1s;
  EXPECT_EQ(t.current(), "two") << "re-read after maxAge";
}

TEST_F(TokenFileTest, RefreshRereadsAtOnce) {
  write("one");
  TokenSource t("", file_, 60s, [this] { return now_; });
  EXPECT_EQ(t.current(), "one");
  write("two");
  EXPECT_TRUE(t.refresh());
  EXPECT_EQ(t.current(), "two");
  EXPECT_FALSE(t.refresh()) << "unchanged";
}

TEST_F(TokenFileTest, MissingFileKeepsLastGoodToken) {
  write("one");
  TokenSource t("", file_, 60s, [this] { return now_; });
  EXPECT_EQ(t.current(), "one");
  std::filesystem::remove(file_);
  EXPECT_FALSE(t.refresh());
  EXPECT_EQ(t.current(), "one");
}

}  // namespace
}  // namespace routelet::kube
