// Where routelet-cni's leases live, as the allocator (allocator.h) sees it: host-local's
// split (backend.Store). DiskStore (disk_store.h) keeps them in files; FakeStore
// (fake_store.h) in memory, so allocation is tested without a filesystem.
#pragma once

#include <cerrno>
#include <compare>
#include <optional>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "common/ip/address.h"

namespace routelet::cni::ipam {

// Who holds a lease: the CNI attachment key (container ID, interface name).
struct Attachment {
  std::string containerId;
  std::string ifname;
  auto operator<=>(const Attachment&) const = default;
};
inline std::string describe(const Attachment& who) {
  return "container " + who.containerId + " ifname " + who.ifname;
}

struct Lease {
  ip::Address address;
  Attachment owner;
};

// One address to lease, with its range's subnet: the key of the range's last-reserved record.
struct Reservation {
  ip::Address address;
  ip::Prefix range;
};

struct GcReport {
  std::vector<Lease> released;
  std::vector<Error> errors;  // GC goes on past errors and reports them all
};

// Error::code of a failed reservation whose address another attachment holds.
inline constexpr int kErrTaken = EEXIST;

class Store {
 public:
  virtual ~Store() = default;
  // Every other call comes between lock() and unlock(): plugin processes run at once.
  virtual Status lock() = 0;
  virtual void unlock() = 0;
  // Whether anyone holds the address (also a lease whose owner cannot be read).
  virtual Result<bool> contains(const ip::Address& address) = 0;
  virtual Result<std::vector<ip::Address>> leased() = 0;  // every held address
  virtual std::optional<ip::Address> lastReserved(const ip::Prefix& range) = 0;
  // All or nothing (kErrTaken when one is held); each becomes its range's last reserved.
  virtual Status reserve(const Attachment& owner, const std::vector<Reservation>& picks) = 0;
  virtual Result<std::vector<ip::Address>> listByOwner(const Attachment& owner) = 0;
  // Before owner allocates: releases what an allocation cut short left, and returns the
  // addresses of a finished one (empty when owner holds none).
  virtual Result<std::vector<ip::Address>> settle(const Attachment& owner) = 0;
  virtual Status release(const Attachment& owner) = 0;  // succeeds when owner holds none
  // Releases every lease whose owner is not in valid; goes on past errors.
  virtual Result<GcReport> releaseExcept(const std::vector<Attachment>& valid) = 0;
};

}  // namespace routelet::cni::ipam
