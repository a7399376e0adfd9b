#include "controller/kube/token_source.h"

#include "common/base/log.h"
#include "common/fs/files.h"

namespace routelet::kube {

TokenSource::TokenSource(std::string staticToken, std::string tokenFile,
                         std::chrono::seconds maxAge, Clock clock)
    : token_(std::move(staticToken)),
      file_(std::move(tokenFile)),
      maxAge_(maxAge),
      clock_(clock ? std::move(clock) : Clock([] { return std::chrono::steady_clock::now(); })) {
  if (!file_.empty()) token_.clear();
}

bool TokenSource::readLocked() {
  readAt_ = clock_();
  everRead_ = true;
  auto content = fs::readFile(file_, 64 * 1024);
  if (!content) {
    // The message names the file, never its content.
    log::warn("token file: " + content.error().message + "; keeping the previous token");
    return false;
  }
  std::string t = std::move(*content);
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.pop_back();
  bool changed = t != token_;
  token_ = std::move(t);
  return changed;
}

std::string TokenSource::current() {
  std::lock_guard lock(mu_);
  if (!file_.empty() && (!everRead_ || clock_() - readAt_ >= maxAge_)) readLocked();
  return token_;
}

bool TokenSource::refresh() {
  std::lock_guard lock(mu_);
  if (file_.empty()) return false;
  return readLocked();
}

}  // namespace routelet::kube
