// The allocator against FakeStore: range arithmetic, round robin, exhaustion, all or
// nothing, without a filesystem. What the files do is disk_store_test.cpp's.
#include "cni/ipam/allocator.h"

#include <gtest/gtest.h>

#include "cni/ipam/fake_store.h"
#include "tests/unit/cni/ipam/test_addresses.h"

namespace routelet::cni::ipam {
namespace {

using testing::addr;
using testing::addrs;
using testing::range;

class AllocatorTest : public ::testing::Test {
 protected:
  void TearDown() override { EXPECT_FALSE(store_.locked()) << "an operation kept the lock"; }

  std::vector<ip::Address> take(const std::vector<Range>& ranges, const std::string& cid) {
    auto r = alloc_.allocate(ranges, {cid, "eth0"});
    EXPECT_TRUE(r.ok()) << cid << ": " << r.error().message;
    return r ? *r : std::vector<ip::Address>{};
  }
  std::optional<ip::Address> lastReserved(const Range& r) {
    EXPECT_TRUE(store_.lock().ok());
    auto last = store_.lastReserved(r.subnet);
    store_.unlock();
    return last;
  }

  FakeStore store_;
  Allocator alloc_{store_};
  const Range v4_ = range("10.244.1.0/24", "10.244.1.1");
  const Range small_ = range("10.0.0.0/29", "10.0.0.1");  // .2-.6 usable
};

TEST_F(AllocatorTest, FirstAddressFollowsTheGatewayAndEachOperationTakesTheLockOnce) {
  EXPECT_EQ(take({v4_}, "c1"), addrs({"10.244.1.2"}));
  EXPECT_EQ(take({v4_}, "c2"), addrs({"10.244.1.3"}));
  auto held = alloc_.leasesOf({"c2", "eth0"});
  ASSERT_TRUE(held.ok());
  EXPECT_EQ(*held, addrs({"10.244.1.3"}));
  EXPECT_EQ(store_.leases().at(addr("10.244.1.2")), (Attachment{"c1", "eth0"}));
  EXPECT_EQ(lastReserved(v4_), addr("10.244.1.3"));
  EXPECT_EQ(store_.locks(), 4);  // 3 operations and lastReserved above
}

TEST_F(AllocatorTest, GatewayInTheMiddleIsSkipped) {
  Range r = range("10.0.0.0/29", "10.0.0.3");
  EXPECT_EQ(take({r}, "c1"), addrs({"10.0.0.1"}));
  EXPECT_EQ(take({r}, "c2"), addrs({"10.0.0.2"}));
  EXPECT_EQ(take({r}, "c3"), addrs({"10.0.0.4"}));
}

TEST_F(AllocatorTest, RoundRobinDoesNotReuseAJustReleasedAddress) {
  EXPECT_EQ(take({v4_}, "c1"), addrs({"10.244.1.2"}));
  ASSERT_TRUE(alloc_.release({"c1", "eth0"}).ok());
  EXPECT_EQ(take({v4_}, "c2"), addrs({"10.244.1.3"}));
}

TEST_F(AllocatorTest, RoundRobinWrapsAroundToFreedAddresses) {
  for (int i = 2; i <= 6; ++i) take({small_}, "c" + std::to_string(i));
  ASSERT_TRUE(alloc_.release({"c3", "eth0"}).ok());
  ASSERT_TRUE(alloc_.release({"c5", "eth0"}).ok());
  // Cursor is at .6, the end: the search wraps to .2 (held) and finds .3 before .5.
  EXPECT_EQ(take({small_}, "n1"), addrs({"10.0.0.3"}));
  EXPECT_EQ(take({small_}, "n2"), addrs({"10.0.0.5"}));
}

TEST_F(AllocatorTest, ExhaustionNamesTheRangeAndItsUsableCount) {
  for (int i = 0; i < 5; ++i) take({small_}, "c" + std::to_string(i));
  auto r = alloc_.allocate({small_}, {"c5", "eth0"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, kErrExhausted);
  EXPECT_NE(r.error().message.find("no free address in range 10.0.0.0/29 (5 usable, all leased)"),
            std::string::npos)
      << r.error().message;
  EXPECT_EQ(store_.leases().size(), 5u);
}

TEST_F(AllocatorTest, RangeStartAndEndNarrowTheRange) {
  Range r = v4_;
  r.rangeStart = addr("10.244.1.10");
  r.rangeEnd = addr("10.244.1.11");
  EXPECT_EQ(take({r}, "c1"), addrs({"10.244.1.10"}));
  EXPECT_EQ(take({r}, "c2"), addrs({"10.244.1.11"}));
  auto full = alloc_.allocate({r}, {"c3", "eth0"});
  ASSERT_FALSE(full.ok());
  EXPECT_NE(full.error().message.find("10.244.1.0/24 [10.244.1.10-10.244.1.11] (2 usable"),
            std::string::npos)
      << full.error().message;
  r.rangeEnd = addr("10.245.0.1");
  auto outside = alloc_.allocate({r}, {"c3", "eth0"});
  ASSERT_FALSE(outside.ok());
  EXPECT_NE(outside.error().message.find("rangeEnd 10.245.0.1 is outside subnet 10.244.1.0/24"),
            std::string::npos);
}

TEST_F(AllocatorTest, Ipv6UsesTheLastAddressAndWrapsAtTheEndOfTheRange) {
  // IPv6 has no broadcast: only the subnet-router anycast (network) address is excluded.
  Range r = range("fd00::/64", "fd00::1");
  r.rangeStart = addr("fd00::ffff:ffff:ffff:fffe");
  EXPECT_EQ(take({r}, "c1"), addrs({"fd00::ffff:ffff:ffff:fffe"}));
  EXPECT_EQ(take({r}, "c2"), addrs({"fd00::ffff:ffff:ffff:ffff"}));
  ASSERT_TRUE(alloc_.release({"c1", "eth0"}).ok());
  EXPECT_EQ(take({r}, "c3"), addrs({"fd00::ffff:ffff:ffff:fffe"}));
  EXPECT_EQ(alloc_.allocate({r}, {"c4", "eth0"}).error().code, kErrExhausted);
}

TEST_F(AllocatorTest, HugeRangeIsProbedBoundedlyAfterTheCursor) {
  Allocator bounded(store_, 16);
  Range r = range("fd00::/64", "fd00::1");
  ASSERT_EQ(*bounded.allocate({r}, {"c1", "eth0"}), addrs({"fd00::2"}));
  // 16 taken neighbours after the cursor: a search without a bound would walk 2^64 addresses.
  for (int i = 3; i < 3 + 16; ++i)
    store_.put(addr("fd00::").offset(i), {"x" + std::to_string(i), "eth0"});
  auto full = bounded.allocate({r}, {"c2", "eth0"});
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().code, kErrExhausted);
  EXPECT_NE(full.error().message.find("no free address in range fd00::/64 within 16 addresses "
                                      "after fd00::3 (18446744073709551614 usable)"),
            std::string::npos)
      << full.error().message;
  // The range is far from full, so STATUS must still report it as usable.
  EXPECT_TRUE(*bounded.canAllocate({r}));
  // One more free neighbour inside the bound is found.
  ASSERT_TRUE(bounded.release({"c1", "eth0"}).ok());
  store_.forget(addr("fd00::12"));
  EXPECT_EQ(*bounded.allocate({r}, {"c2", "eth0"}), addrs({"fd00::12"}));
}

TEST_F(AllocatorTest, RangesUpToTheProbeBoundAreSearchedCompletely) {
  Allocator bounded(store_, 6);
  // 6 positions (.1-.6), gateway .1: the bound covers the whole range, so exhaustion is exact.
  for (const char* cid : {"a", "b", "c", "d", "e"}) {
    ASSERT_TRUE(bounded.allocate({small_}, {cid, "eth0"}).ok()) << cid;
  }
  auto full = bounded.allocate({small_}, {"f", "eth0"});
  ASSERT_FALSE(full.ok());
  EXPECT_NE(full.error().message.find("(5 usable, all leased)"), std::string::npos);
}

TEST_F(AllocatorTest, DualStackReturnsOneAddressPerRangeInOrder) {
  Range v6 = range("fd00:1::/64", "fd00:1::1");
  EXPECT_EQ(take({v4_, v6}, "c1"), addrs({"10.244.1.2", "fd00:1::2"}));
  EXPECT_EQ(lastReserved(v4_), addr("10.244.1.2"));
  EXPECT_EQ(lastReserved(v6), addr("fd00:1::2"));
}

TEST_F(AllocatorTest, DualStackIsAllOrNothing) {
  Range v6 = range("fd00::/126", "fd00::1");  // fd00::2 and fd00::3 usable
  take({v4_, v6}, "c1");
  take({v4_, v6}, "c2");
  auto r = alloc_.allocate({v4_, v6}, {"c3", "eth0"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, kErrExhausted);
  EXPECT_NE(r.error().message.find("fd00::/126 (2 usable, all leased)"), std::string::npos);
  EXPECT_EQ(store_.leases().size(), 4u);
  EXPECT_EQ(store_.leases().count(addr("10.244.1.4")), 0u);
  EXPECT_TRUE(alloc_.leasesOf({"c3", "eth0"})->empty());
}

TEST_F(AllocatorTest, TwoRangesOfOneSubnetGetDistinctAddresses) {
  EXPECT_EQ(take({v4_, v4_}, "c1"), addrs({"10.244.1.2", "10.244.1.3"}));
}

TEST_F(AllocatorTest, SecondAllocateForTheSameAttachmentIsRefused) {
  take({v4_}, "c1");
  auto r = alloc_.allocate({v4_}, {"c1", "eth0"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, kErrAlreadyAllocated);
  EXPECT_NE(r.error().message.find("container c1 ifname eth0 already holds 10.244.1.2"),
            std::string::npos)
      << r.error().message;
  EXPECT_EQ(store_.leases().size(), 1u);
  // Another interface of the same container is another attachment.
  auto other = alloc_.allocate({v4_}, {"c1", "net1"});
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(*other, addrs({"10.244.1.3"}));
}

TEST_F(AllocatorTest, ReleaseIsIdempotentAndSucceedsWithoutALease) {
  take({v4_}, "c1");
  EXPECT_TRUE(alloc_.release({"c1", "eth0"}).ok());
  EXPECT_TRUE(store_.leases().empty());
  EXPECT_TRUE(alloc_.release({"c1", "eth0"}).ok());
  EXPECT_TRUE(alloc_.release({"never", "eth0"}).ok());
}

TEST_F(AllocatorTest, UnsafeNamesAreRefusedByEveryOperation) {
  auto a = alloc_.allocate({v4_}, {"../../etc", "eth0"});
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error().code, EINVAL);
  EXPECT_NE(a.error().message.find("containerId \"../../etc\" starts with '.'"), std::string::npos);
  EXPECT_FALSE(alloc_.release({"c1", "a/b"}).ok());
  EXPECT_FALSE(alloc_.leasesOf({".x", "eth0"}).ok());
  EXPECT_TRUE(store_.leases().empty());
  EXPECT_EQ(store_.locks(), 0) << "refused before the store was touched";
}

TEST_F(AllocatorTest, CanAllocateTracksExhaustion) {
  for (int i = 0; i < 4; ++i) take({small_}, "c" + std::to_string(i));
  EXPECT_TRUE(*alloc_.canAllocate({small_}));
  take({small_}, "c4");
  EXPECT_FALSE(*alloc_.canAllocate({small_}));
  EXPECT_FALSE(*alloc_.canAllocate({v4_, small_}));  // every range needs a free address
  EXPECT_TRUE(*alloc_.canAllocate({v4_}));
  ASSERT_TRUE(alloc_.release({"c2", "eth0"}).ok());
  EXPECT_TRUE(*alloc_.canAllocate({small_}));
  EXPECT_TRUE(*alloc_.canAllocate({range("fd00::/64", "fd00::1")}));
}

TEST_F(AllocatorTest, GcReleasesEveryLeaseOutsideTheValidList) {
  take({v4_}, "keep");
  take({v4_}, "gone");
  auto report = alloc_.gc({{"keep", "eth0"}});
  ASSERT_TRUE(report.ok());
  ASSERT_EQ(report->released.size(), 1u);
  EXPECT_EQ(report->released[0].owner.containerId, "gone");
  EXPECT_EQ(report->released[0].address, addr("10.244.1.3"));
  EXPECT_EQ(*alloc_.leasesOf({"keep", "eth0"}), addrs({"10.244.1.2"}));
}

// A reservation that loses (kErrTaken) changes nothing and is reported as it came.
TEST_F(AllocatorTest, AFailedReservationIsReportedAndLeavesNoLease) {
  class Losing : public FakeStore {
   public:
    Status reserve(const Attachment&, const std::vector<Reservation>& picks) override {
      return makeError("create lease " + picks[0].address.str() + ": File exists", kErrTaken);
    }
  };
  Losing store;
  Allocator alloc(store);
  auto r = alloc.allocate({v4_}, {"c1", "eth0"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, kErrTaken);
  EXPECT_EQ(r.error().message, "create lease 10.244.1.2: File exists");
  EXPECT_TRUE(store.leases().empty());
  EXPECT_FALSE(store.locked());
}

}  // namespace
}  // namespace routelet::cni::ipam
