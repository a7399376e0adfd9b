// The agent's one watch on all Nodes: LIST (paged), hand over the full set, then WATCH
// from the list's resourceVersion; relist on 410 Gone and after repeated failed watches,
// reconnect with jittered backoff.
// This is client-go's reflector reduced to what routelet needs.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
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
  // Only a watch that stayed up this long proves the server healthy: it starts the backoff
  // over, and the next watch follows at once. One that ends sooner is a failure however it
  // ended (an ERROR event, a lone BOOKMARK, events then a close: a hostile or broken server
  // can send any of them and hang up), so the backoff grows. A healthy server ends a watch
  // only at its timeoutSeconds, minutes in.
  std::chrono::seconds healthyWatch{30};
  // Failed watches in a row (410 Gone aside: that relists at once) after which the watcher
  // relists, as client-go's reflector does: a watch that keeps failing leaves the cache
  // frozen while the agent still reports ready, and only a LIST brings it up to date.
  int relistAfterFailures = 4;
  // Uniform in [0, 1) for jitter and watch timeouts; injectable for tests.
  std::function<double()> uniform01;
  // Waits between attempts; returns false when stop() ended the wait. The default waits
  // on the watcher's cancellation; tests inject one that records and returns at once.
  std::function<bool(std::chrono::milliseconds)> sleep;
  // How long a watch stayed up; tests inject the fake API's clock.
  std::function<std::chrono::steady_clock::time_point()> now;
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
  // LISTs given up past one of the client's bounds, by bound (ApiStatus::bound); the cache
  // keeps the last complete list.
  std::map<std::string, uint64_t> listsOverBound;
  uint64_t watches = 0;         // watch requests made
  uint64_t watchFailures = 0;   // watches that ended before healthyWatch, or with an error
  uint64_t expired = 0;         // 410 Gone: resourceVersion too old, relisted
  uint64_t failureRelists = 0;  // relists after relistAfterFailures failed watches in a row
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
  int failedWatches_ = 0;  // in a row, since the last healthy watch or relist
  Cancellation cancel_;
  std::mutex callMu_;
  Cancellation* call_ = nullptr;  // the watch in flight, under callMu_
  std::thread thread_;
  std::atomic<bool> synced_{false};
  mutable std::mutex statsMu_;
  NodeWatcherStats stats_;
};

}  // namespace routelet::kube
