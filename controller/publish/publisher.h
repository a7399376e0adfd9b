// Status publishing: the Node's routelet.io/ annotations and NetworkUnavailable condition
// (through the status subresource), and <run dir>/status.json for `routelet status`, from
// what the other controllers reported in the pass. Synced last.
//
// Every agent watches every Node, so a patch wakes N agents: it is sent only when a value
// differs from what the Node carries, from a thread of its own, and a failure (a 403, a 429,
// a stuck connection) waits a jittered exponential backoff of at least the server's
// Retry-After; it never delays a pass.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/base/log_once.h"
#include "controller/agent/controller.h"
#include "controller/kube/backoff.h"
#include "controller/publish/publish_edge.h"

namespace routelet::publish {

class Publisher : public agent::Controller {
 public:
  // runDir: where status.json goes.
  Publisher(std::string nodeName, std::string runDir, PublishEdge& edge);

  void sync(agent::Pass& pass) override;
  void start(const std::atomic<bool>& stop) override;
  void wake() override;
  void join() override;

  // Sends the newest patch a pass made, if one waits and its retry time has come (the
  // thread start() made calls this; tests call it directly). A failure keeps it waiting; a
  // newer patch replaces a waiting one but does not cut the wait short.
  void publishStatus();
  // When publishStatus() may next send; nullopt when no patch waits.
  std::optional<std::chrono::steady_clock::time_point> statusRetryAt() const;

 private:
  void publishLoop(const std::atomic<bool>& stop);

  std::string nodeName_;
  std::string runDir_;
  PublishEdge& edge_;
  log::LogOnce logged_;
  // Hash of what status.json holds: the text itself runs to megabytes at 5000 Nodes and
  // is only ever compared.
  std::optional<std::size_t> lastStatusHash_;
  std::string lastPatch_;      // the last patch handed to the thread
  std::string lastPatchBase_;  // resourceVersion of the own Node it was computed on

  mutable std::mutex mu_;  // guards what follows: the thread's side
  std::condition_variable cv_;
  std::optional<std::string> pending_;
  std::chrono::steady_clock::time_point retryAt_{};
  kube::Backoff backoff_{{std::chrono::seconds(1), std::chrono::minutes(2)}};
  std::thread thread_;
};

}  // namespace routelet::publish
