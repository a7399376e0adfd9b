// A PublishEdge for unit tests: patches sent and files written, and the API server's
// answer on demand.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "common/fs/fake_files.h"
#include "controller/publish/publish_edge.h"

namespace routelet::publish {

class FakePublishEdge : public PublishEdge {
 public:
  PatchResult patchStatus(const std::string& patch) override {
    ++patchCalls;
    if (answer) return answer();
    std::lock_guard<std::mutex> lock(mu);
    patches.push_back(patch);
    return okStatus();
  }
  Result<bool> writeIfChanged(const std::string& path, const std::string& content) override {
    return files.writeIfChanged(path, content);
  }

  std::mutex mu;
  std::vector<std::string> patches;  // those sent successfully
  std::atomic<int> patchCalls{0};
  std::function<PatchResult()> answer;  // the API server's answer; unset: success
  fs::FakeFiles files;
};

}  // namespace routelet::publish
