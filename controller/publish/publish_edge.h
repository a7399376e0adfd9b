// Where the agent publishes: the status subresource of its own Node, and its run dir.
// main.cpp implements it over the API client and the filesystem; tests use a fake.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "common/base/result.h"

namespace routelet::publish {

// What sending a status patch gave; a plain Status converts to one.
struct PatchResult {
  PatchResult(Status s, std::optional<std::chrono::seconds> after = std::nullopt)  // NOLINT
      : status(std::move(s)), retryAfter(after) {}
  Status status;
  std::optional<std::chrono::seconds> retryAfter;  // the server's Retry-After (429, 503)
};

class PublishEdge {
 public:
  virtual ~PublishEdge() = default;
  // A strategic-merge patch of nodes/<own>/status. Called from the publisher's own thread:
  // an API server that is slow or refuses never delays a pass.
  virtual PatchResult patchStatus(const std::string& patch) = 0;
  // Writes atomically when the content differs; returns whether it wrote.
  virtual Result<bool> writeIfChanged(const std::string& path, const std::string& content) = 0;
};

}  // namespace routelet::publish
