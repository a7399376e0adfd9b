// MAC text and the MACs routelet derives for its devices (common/netlink/mac.h).
#include "common/netlink/mac.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "common/base/hash.h"

namespace routelet::netlink {
namespace {

TEST(MacTest, DerivedMacsAreStableUnicastLocallyAdministeredAndSpread) {
  std::set<std::array<uint8_t, 6>> seen;
  for (int i = 0; i < 1000; ++i) {
    auto mac = derivedMac("seed" + std::to_string(i));
    EXPECT_EQ(mac[0] & 0x01, 0) << "multicast bit set";
    EXPECT_EQ(mac[0] & 0x02, 0x02) << "not locally administered";
    seen.insert(mac);
  }
  EXPECT_EQ(seen.size(), 1000u);
  EXPECT_EQ(derivedMac("x"), derivedMac("x"));
  // FNV-1a reference value: stable across builds (DEL recomputes what ADD derived).
  EXPECT_EQ(stableHash(""), 14695981039346656037ull);
  EXPECT_EQ(stableHash("a"), 0xaf63dc4c8601ec8cull);
}

}  // namespace
}  // namespace routelet::netlink
