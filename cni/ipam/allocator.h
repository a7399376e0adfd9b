// routelet-cni's address allocation over a Store: 128-bit range arithmetic, round robin
// from the range's last reserved address, exhaustion. Pure apart from the Store, so it is
// tested against FakeStore; each operation holds the store's lock throughout.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "cni/ipam/store.h"

namespace routelet::cni::ipam {

// One allocatable range: addresses of `subnet`, minus the network address, the gateway
// and (IPv4) the broadcast address; optionally narrowed to [rangeStart, rangeEnd].
struct Range {
  ip::Prefix subnet;
  ip::Address gateway;
  std::optional<ip::Address> rangeStart;
  std::optional<ip::Address> rangeEnd;
};

// Error codes carried in Error::code, so the plugin can map them to CNI codes.
inline constexpr int kErrExhausted = 1001;         // no free address in a range
inline constexpr int kErrAlreadyAllocated = 1002;  // this attachment already holds leases

inline constexpr uint64_t kDefaultMaxProbes = 65536;

class Allocator {
 public:
  // maxProbes bounds how many addresses allocate tries past the round-robin position of a
  // range larger than that (an IPv6 /64), so a nearly full huge range fails fast instead of
  // walking 2^64 addresses; ranges up to that size are searched completely, so their
  // exhaustion is exact.
  explicit Allocator(Store& store, uint64_t maxProbes = kDefaultMaxProbes)
      : store_(store), maxProbes_(maxProbes) {}

  // Leases one address per range, all or nothing, round-robin: the search starts after
  // the address last handed out in that range, so a just-freed address is not reused at
  // once (a stale packet or ARP entry would reach the wrong pod).
  Result<std::vector<ip::Address>> allocate(const std::vector<Range>& ranges,
                                            const Attachment& who);
  // Frees every lease of the attachment; succeeds when it holds none.
  Status release(const Attachment& who);
  Result<std::vector<ip::Address>> leasesOf(const Attachment& who);
  // Releases every lease whose owner is not in `valid`.
  Result<GcReport> gc(const std::vector<Attachment>& valid);
  // True when every range has at least one free address (for CNI STATUS).
  Result<bool> canAllocate(const std::vector<Range>& ranges);

 private:
  Store& store_;
  uint64_t maxProbes_;
};

}  // namespace routelet::cni::ipam
