// The agent's one watch on all Nodes: LIST (paged), hand over the full set, then WATCH
// from the list's resourceVersion; relist on 410 Gone, reconnect with jittered backoff.
// This is client-go's reflector reduced to what routelet needs.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "controller/kube/api_client.h"
#include "controller/kube/backoff.h"

namespace routelet::kube {

struct NodeWatcherOptions {
  // Watch timeouts are randomised so the watches of N agents do not all end (and
  // reconnect) together.
  int minWatchSeconds = 300;
  int maxWatchSeconds = 600;
  BackoffOptions backoff;
  // Uniform in [0, 1) for jitter and watch timeouts; injectable for tests.
  std::function<double()> uniform01;
  // Waits between attempts; returns false when stop() ended the wait. The default waits
  // on the watcher's cancellation; tests inject one that records and returns at once.
  std::function<bool(std::chrono::milliseconds)> sleep;
};

struct NodeWatcherCallbacks {
  // The full set of Nodes after every (re)list: replace the cache with it.
  std::function<void(std::vector<model::Node>&&)> onSynced;
  // ADDED, MODIFIED or DELETED of one Node, after the initial sync.
  std::function<void(WatchEventType, const model::Node&)> onEvent;
};

struct NodeWatcherStats {
  uint64_t lists = 0;  // successful (re)lists
  uint64_t listFailures = 0;
  uint64_t watches = 0;         // watch requests made
  uint64_t watchFailures = 0;   // watches that ended with an error (not a server timeout)
  uint64_t expired = 0;         // 410 Gone: resourceVersion too old, relisted
  uint64_t events = 0;          // ADDED/MODIFIED/DELETED delivered
  std::string resourceVersion;  // where the next watch starts
};

class NodeWatcher {
 public:
  NodeWatcher(ApiClient& api, NodeWatcherCallbacks callbacks, NodeWatcherOptions options = {});
  ~NodeWatcher();
  NodeWatcher(const NodeWatcher&) = delete;
  NodeWatcher& operator=(const NodeWatcher&) = delete;

  // Runs the loop on its own thread.
  void start();
  // Cancels the call in flight and joins; returns promptly (no wait for a watch timeout).
  void stop();
  // The loop on the calling thread, until stop().
  void run();
  // Ends the watch in flight and opens a new one at once, from where it was (any thread).
  // For when its connection may be dead without either end knowing: the node's address it
  // came from is gone, and a receive-only stream would wait out its timeout (minutes).
  void reconnect();

  // True once a LIST has completed: the cache the callbacks fill is complete.
  bool synced() const { return synced_; }
  NodeWatcherStats stats() const;

 private:
  ApiStatus listAll();
  // Returns false when the loop must stop.
  bool watchOnce(bool* relist);
  bool pause(const ApiStatus& st);

  ApiClient& api_;
  NodeWatcherCallbacks callbacks_;
  NodeWatcherOptions options_;
  Backoff backoff_;
  Cancellation cancel_;
  std::mutex callMu_;
  Cancellation* call_ = nullptr;  // the watch in flight, under callMu_
  std::thread thread_;
  std::atomic<bool> synced_{false};
  mutable std::mutex statsMu_;
  NodeWatcherStats stats_;
};

}  // namespace routelet::kube
