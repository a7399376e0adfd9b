#include "controller/kube/backoff.h"

#include <algorithm>
#include <random>

namespace routelet::kube {

Backoff::Backoff(BackoffOptions options, std::function<double()> uniform01)
    : options_(options), uniform01_(std::move(uniform01)), current_(options.initial) {
  if (!uniform01_) {
    uniform01_ = [rng = std::mt19937_64(std::random_device{}())]() mutable {
      return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
    };
  }
}

std::chrono::milliseconds Backoff::next(std::optional<std::chrono::seconds> retryAfter) {
  double factor = 1.0 + options_.jitter * (2.0 * uniform01_() - 1.0);
  auto delay = std::chrono::milliseconds(
      static_cast<std::chrono::milliseconds::rep>(static_cast<double>(current_.count()) * factor));
  current_ = std::min(current_ * 2, options_.max);
  if (retryAfter) {
    auto wanted = std::min<std::chrono::milliseconds>(*retryAfter, options_.maxRetryAfter);
    delay = std::max(delay, wanted);
  }
  return delay;
}

}  // namespace routelet::kube
