// The IPAM store in files: one per leased address under a per-network directory, guarded by
// a flock, so concurrent plugin processes (a node starting 100 pods) never hand out the same
// address and a crash never leaves the store inconsistent. Layout, write order and crash
// safety: disk_store.cpp. The formats: records.h.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cni/ipam/store.h"

namespace routelet::cni::ipam {

struct LockedFiles;  // the store's directories and flock while locked (disk_store.cpp)

class DiskStore final : public Store {
 public:
  // dataDir/<network>/ is created if missing (mode 0700).
  static Result<DiskStore> open(const std::string& dataDir, const std::string& network);
  DiskStore(DiskStore&&) noexcept;
  DiskStore& operator=(DiskStore&&) noexcept;
  ~DiskStore() override;

  // lock() opens the store's directories and takes its flock, for one operation.
  Status lock() override;
  void unlock() override;
  Result<bool> contains(const ip::Address& address) override;
  Result<std::vector<ip::Address>> leased() override;
  std::optional<ip::Address> lastReserved(const ip::Prefix& range) override;
  Status reserve(const Attachment& owner, const std::vector<Reservation>& picks) override;
  Result<std::vector<ip::Address>> listByOwner(const Attachment& owner) override;
  Result<std::vector<ip::Address>> settle(const Attachment& owner) override;
  Status release(const Attachment& owner) override;
  Result<GcReport> releaseExcept(const std::vector<Attachment>& valid) override;

  // Every lease whose owner can be read, by address; takes the lock itself.
  Result<std::vector<Lease>> all();

  const std::string& dir() const { return dir_; }

 private:
  explicit DiskStore(std::string dir);
  Result<const LockedFiles*> files() const;  // an error when the lock is not held
  std::string dir_;
  std::unique_ptr<LockedFiles> locked_;
};

}  // namespace routelet::cni::ipam
