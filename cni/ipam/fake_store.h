// A Store in memory, for tests: allocation is tested against it without a filesystem, as
// host-local's allocator is against its FakeStore. Stateful (it keeps what was reserved),
// and strict where the disk store is: every call outside lock()/unlock() fails, so a test
// also checks that the allocator holds the lock throughout.
#pragma once

#include <algorithm>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cni/ipam/store.h"

namespace routelet::cni::ipam {

class FakeStore : public Store {
 public:
  Status lock() override {
    if (locked_) return makeError("FakeStore: locked twice", EDEADLK);
    locked_ = true;
    ++locks_;
    return okStatus();
  }
  void unlock() override { locked_ = false; }

  Result<bool> contains(const ip::Address& address) override {
    if (auto st = held(); !st) return st.error();
    return leases_.count(address) == 1;
  }
  Result<std::vector<ip::Address>> leased() override {
    if (auto st = held(); !st) return st.error();
    std::vector<ip::Address> out;
    for (const auto& [address, owner] : leases_) out.push_back(address);
    return out;
  }
  std::optional<ip::Address> lastReserved(const ip::Prefix& range) override {
    auto it = last_.find(range.str());
    if (!locked_ || it == last_.end()) return std::nullopt;
    return it->second;
  }
  Status reserve(const Attachment& owner, const std::vector<Reservation>& picks) override {
    if (auto st = held(); !st) return st;
    for (const auto& p : picks) {
      if (leases_.count(p.address) == 1)
        return makeError("FakeStore: " + p.address.str() + " is leased", kErrTaken);
    }
    for (const auto& p : picks) {
      leases_[p.address] = owner;
      last_[p.range.str()] = p.address;
    }
    return okStatus();
  }
  Result<std::vector<ip::Address>> listByOwner(const Attachment& owner) override {
    if (auto st = held(); !st) return st.error();
    std::vector<ip::Address> out;
    for (const auto& [address, who] : leases_)
      if (who == owner) out.push_back(address);
    return out;
  }
  // Nothing is ever cut short in memory: settling is listing.
  Result<std::vector<ip::Address>> settle(const Attachment& owner) override {
    return listByOwner(owner);
  }
  Status release(const Attachment& owner) override {
    if (auto st = held(); !st) return st;
    std::erase_if(leases_, [&](const auto& lease) { return lease.second == owner; });
    return okStatus();
  }
  Result<GcReport> releaseExcept(const std::vector<Attachment>& valid) override {
    if (auto st = held(); !st) return st.error();
    GcReport report;
    for (auto it = leases_.begin(); it != leases_.end();) {
      bool keep = std::find(valid.begin(), valid.end(), it->second) != valid.end();
      if (!keep) report.released.push_back({it->first, it->second});
      it = keep ? std::next(it) : leases_.erase(it);
    }
    return report;
  }

  // For tests: what the store holds, and a lease put there as another process would.
  const std::map<ip::Address, Attachment>& leases() const { return leases_; }
  void put(const ip::Address& address, const Attachment& owner) { leases_[address] = owner; }
  void forget(const ip::Address& address) { leases_.erase(address); }
  bool locked() const { return locked_; }
  int locks() const { return locks_; }  // how many times lock() was taken

 private:
  Status held() const {
    if (!locked_) return makeError("FakeStore: used without the lock", ENOLCK);
    return okStatus();
  }
  std::map<ip::Address, Attachment> leases_;
  std::map<std::string, ip::Address> last_;  // by range, as "<network>/<length>"
  bool locked_ = false;
  int locks_ = 0;
};

}  // namespace routelet::cni::ipam
