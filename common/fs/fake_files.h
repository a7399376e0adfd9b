// Files in memory, for the fakes of edges that write files (node setup's conflist, the
// publisher's status.json): writeIfChanged as fs::writeIfChanged says, thread-safe, so a
// test can read a file while the agent's loop runs.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "common/base/result.h"

namespace routelet::fs {

class FakeFiles {
 public:
  Result<bool> writeIfChanged(const std::string& path, const std::string& content) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = files_.find(path);
    if (it != files_.end() && it->second == content) return false;
    files_[path] = content;
    ++writes_;
    return true;
  }
  std::string file(const std::string& path) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = files_.find(path);
    return it == files_.end() ? std::string() : it->second;
  }
  std::map<std::string, std::string> all() const {
    std::lock_guard<std::mutex> lock(mu_);
    return files_;
  }
  int writes() const {
    std::lock_guard<std::mutex> lock(mu_);
    return writes_;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::string> files_;
  int writes_ = 0;
};

}  // namespace routelet::fs
