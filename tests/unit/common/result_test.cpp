#include "common/base/result.h"

#include <gtest/gtest.h>

#include "common/base/log.h"

namespace routelet {
namespace {

Result<int> half(int x) {
  if (x % 2) return makeError("odd value " + std::to_string(x), EINVAL);
  return x / 2;
}

TEST(ResultTest, CarriesValueOrError) {
  auto ok = half(4);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 2);
  auto bad = half(3);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, EINVAL);
  EXPECT_EQ(bad.error().message, "odd value 3");
}

TEST(ResultTest, WrapPrefixesContextAndKeepsCode) {
  Error e = errnoError("open /nowhere", ENOENT).wrap("load config");
  EXPECT_EQ(e.code, ENOENT);
  EXPECT_EQ(e.message, "load config: open /nowhere: No such file or directory");
}

TEST(ResultTest, StatusDefaultsToOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  Status f = makeError("nope");
  EXPECT_FALSE(f.ok());
  EXPECT_EQ(f.error().message, "nope");
}

TEST(LogTest, ParsesLevels) {
  log::Level l;
  ASSERT_TRUE(log::parseLevel("warn", &l));
  EXPECT_EQ(l, log::Level::kWarn);
  EXPECT_FALSE(log::parseLevel("loud", &l));
}

}  // namespace
}  // namespace routelet
