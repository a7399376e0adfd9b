// The bearer token to send. Projected service-account tokens are rewritten by the kubelet
// about every hour (and may be rotated early), so a token file is re-read at least every
// maxAge and whenever the server answers 401.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <string>

namespace routelet::kube {

class TokenSource {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  // With a tokenFile the static token is ignored. clock is injectable for tests.
  TokenSource(std::string staticToken, std::string tokenFile,
              std::chrono::seconds maxAge = std::chrono::seconds(60), Clock clock = nullptr);

  // The token ("" for none), re-reading the file when the last read is older than maxAge.
  // A failed read keeps the last good token (a rotation replaces the file atomically, but
  // a missing file during a remount must not drop a working token).
  std::string current();
  // Re-reads now (after a 401). Returns true when the token changed.
  bool refresh();

 private:
  bool readLocked();

  std::mutex mu_;
  std::string token_;
  std::string file_;
  std::chrono::seconds maxAge_;
  Clock clock_;
  std::chrono::steady_clock::time_point readAt_{};
  bool everRead_ = false;
};

}  // namespace routelet::kube
