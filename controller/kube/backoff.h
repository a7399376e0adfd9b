// Jittered exponential backoff for reconnecting to the API server. Jitter spreads the
// reconnects of N agents after an API server restart (all their watches break at once).
#pragma once

#include <chrono>
#include <functional>
#include <optional>

namespace routelet::kube {

struct BackoffOptions {
  std::chrono::milliseconds initial{200};
  std::chrono::milliseconds max{30000};
  double jitter = 0.2;  // each delay is scaled by a uniform factor in [1-jitter, 1+jitter]
  // A server's Retry-After is honoured up to this bound, so a wrong header cannot park
  // the agent for hours.
  std::chrono::milliseconds maxRetryAfter{std::chrono::minutes(2)};
};

class Backoff {
 public:
  // uniform01 returns values in [0, 1); injectable so tests are deterministic.
  explicit Backoff(BackoffOptions options = {}, std::function<double()> uniform01 = nullptr);

  // The delay before the next attempt; doubles the base each call. With retryAfter (from
  // a 429 or 503), waits at least that long.
  std::chrono::milliseconds next(std::optional<std::chrono::seconds> retryAfter = std::nullopt);
  // Back to the initial delay: the last attempt made progress.
  void reset() { current_ = options_.initial; }

 private:
  BackoffOptions options_;
  std::function<double()> uniform01_;
  std::chrono::milliseconds current_;
};

}  // namespace routelet::kube
