#include "controller/kube/backoff.h"

#include <gtest/gtest.h>

namespace routelet::kube {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(Backoff, DoublesToTheCapWithoutJitterAtMidpoint) {
  Backoff b({}, [] { return 0.5; });  // factor exactly 1
  std::vector<int64_t> got;
  for (int i = 0; i < 10; ++i) got.push_back(b.next().count());
  EXPECT_EQ(got,
            (std::vector<int64_t>{200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000}));
}

TEST(Backoff, JitterStaysWithinBounds) {
  Backoff low({}, [] { return 0.0; });
  Backoff high({}, [] { return 0.999999; });
  EXPECT_EQ(low.next(), milliseconds(160));
  EXPECT_EQ(high.next(), milliseconds(239));
  for (int i = 0; i < 20; ++i) {
    low.next();
    high.next();
  }
  EXPECT_EQ(low.next(), milliseconds(24000));
  EXPECT_EQ(high.next(), milliseconds(35999));
}

TEST(Backoff, ResetStartsOver) {
  Backoff b({}, [] { return 0.5; });
  b.next();
  b.next();
  b.next();
  b.reset();
  EXPECT_EQ(b.next(), milliseconds(200));
}

TEST(Backoff, RetryAfterIsAFloorAndBounded) {
  Backoff b({}, [] { return 0.5; });
  EXPECT_EQ(b.next(seconds(3)), milliseconds(3000));
  EXPECT_EQ(b.next(seconds(0)), milliseconds(400));
  EXPECT_EQ(b.next(seconds(86400)), milliseconds(120000));
}

}  // namespace
}  // namespace routelet::kube
