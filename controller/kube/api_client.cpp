#include "controller/kube/api_client.h"

namespace routelet::kube {

void Cancellation::cancel() {
  std::map<uint64_t, std::function<void()>> subscribers;
  {
    std::lock_guard lock(mu_);
    if (cancelled_) return;
    cancelled_ = true;
    subscribers.swap(subscribers_);
  }
  cv_.notify_all();
  // Outside the lock: a callback may take time (closing a socket) or unsubscribe.
  for (auto& [id, fn] : subscribers) fn();
}

bool Cancellation::cancelled() const {
  std::lock_guard lock(mu_);
  return cancelled_;
}

bool Cancellation::sleepFor(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, d, [this] { return cancelled_; });
}

uint64_t Cancellation::subscribe(std::function<void()> fn) {
  {
    std::lock_guard lock(mu_);
    if (!cancelled_) {
      uint64_t id = nextId_++;
      subscribers_.emplace(id, std::move(fn));
      return id;
    }
  }
  fn();
  return 0;
}

void Cancellation::unsubscribe(uint64_t id) {
  std::lock_guard lock(mu_);
  subscribers_.erase(id);
}

void RequestCounters::count(int httpStatus) {
  std::lock_guard lock(mu_);
  ++counts_[httpStatus];
}

std::map<int, uint64_t> RequestCounters::snapshot() const {
  std::lock_guard lock(mu_);
  return counts_;
}

}  // namespace routelet::kube
