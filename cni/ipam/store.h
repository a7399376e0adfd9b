// routelet-cni's address store: one file per leased address under a per-network
// directory, guarded by a flock, so concurrent plugin processes (a node starting 100 pods)
// never hand out the same address and a crash never leaves the store inconsistent.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "common/ip/address.h"

namespace routelet::cni::ipam {

// One allocatable range: addresses of `subnet`, minus the network address, the gateway
// and (IPv4) the broadcast address; optionally narrowed to [rangeStart, rangeEnd].
struct Range {
  ip::Prefix subnet;
  ip::Address gateway;
  std::optional<ip::Address> rangeStart;
  std::optional<ip::Address> rangeEnd;
};

// Who holds a lease: the CNI attachment key (container ID, interface name).
struct Attachment {
  std::string containerId;
  std::string ifname;
  auto operator<=>(const Attachment&) const = default;
};

struct Lease {
  ip::Address address;
  Attachment owner;
};

struct GcReport {
  std::vector<Lease> released;
  std::vector<Error> errors;  // GC goes on past errors and reports them all
};

// Error codes carried in Error::code by the store, so the plugin can map them to CNI codes.
inline constexpr int kErrExhausted = 1001;         // no free address in a range
inline constexpr int kErrAlreadyAllocated = 1002;  // this attachment already holds leases

inline constexpr uint64_t kDefaultMaxProbes = 65536;

class Store {
 public:
  // dataDir/<network>/ is created if missing (mode 0700). maxProbes bounds how many addresses
  // allocate tries past the round-robin cursor of a range larger than that (an IPv6 /64), so
  // a nearly full huge range fails fast instead of walking 2^64 addresses; ranges up to that
  // size are searched completely, so their exhaustion is exact.
  static Result<Store> open(const std::string& dataDir, const std::string& network,
                            uint64_t maxProbes = kDefaultMaxProbes);

  // Leases one address per range, all or nothing, round-robin: the search starts after
  // the address last handed out in that range, so a just-freed address is not reused at
  // once (a stale packet or ARP entry would reach the wrong pod).
  Result<std::vector<ip::Address>> allocate(const std::vector<Range>& ranges,
                                            const Attachment& who);
  // Frees every lease of the attachment; succeeds when it holds none. Does not scan the
  // whole store.
  Status release(const Attachment& who);
  Result<std::vector<ip::Address>> leasesOf(const Attachment& who);
  // Releases every lease whose owner is not in `valid`.
  Result<GcReport> gc(const std::vector<Attachment>& valid);
  // True when every range has at least one free address (for CNI STATUS).
  Result<bool> canAllocate(const std::vector<Range>& ranges);
  Result<std::vector<Lease>> all();

  const std::string& dir() const { return dir_; }

 private:
  Store(std::string dir, uint64_t maxProbes) : dir_(std::move(dir)), maxProbes_(maxProbes) {}
  std::string dir_;
  uint64_t maxProbes_;
};

}  // namespace routelet::cni::ipam
