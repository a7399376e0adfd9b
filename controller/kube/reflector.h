// The agent's watch on one kind of object (Nodes; Pods, Namespaces and NetworkPolicies for
// NetworkPolicy): LIST (paged), hand over the full set, then WATCH from the list's
// resourceVersion; relist on 410 Gone and after repeated failed watches, reconnect with
// jittered backoff. This is client-go's reflector reduced to what routelet needs.
//
// T is the compact decoded object (a `name` and a `resourceVersion`), Event a watch event
// holding one (objectOf() reaches it).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/base/log.h"
#include "controller/kube/api_client.h"
#include "controller/kube/backoff.h"

namespace routelet::kube {

struct WatcherOptions {
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

struct WatcherStats {
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

inline model::Node& objectOf(WatchEvent& e) {
  return e.node;
}
template <class T>
T& objectOf(TypedEvent<T>& e) {
  return e.object;
}

template <class T, class Event = TypedEvent<T>>
class Reflector {
 public:
  // The two calls of one kind: LIST, handing over each object; WATCH from a
  // resourceVersion for at most timeoutSeconds.
  struct Source {
    std::string kind;  // "nodes", "pods": named in log lines
    std::function<ApiStatus(const std::function<void(T&&)>&, std::string*, Cancellation*)> list;
    std::function<ApiStatus(const std::string&, int, const std::function<bool(Event&&)>&,
                            Cancellation*)>
        watch;
  };
  struct Callbacks {
    // The full set after every (re)list: replace the cache with it.
    std::function<void(std::vector<T>&&)> onSynced;
    // ADDED, MODIFIED or DELETED of one object, after the initial sync.
    std::function<void(WatchEventType, const T&)> onEvent;
    // Optional, for kinds too many to hold twice (150 000 Pods): each item of a LIST handed
    // over as it is decoded, after onListStart; onSynced then gets an empty vector. A LIST
    // that fails is started over from onListStart.
    std::function<void()> onListStart;
    std::function<void(T&&)> onItem;
  };

  Reflector(Source source, Callbacks callbacks, WatcherOptions options = {})
      : source_(std::move(source)), callbacks_(std::move(callbacks)), options_(std::move(options)) {
    if (!options_.uniform01) {
      options_.uniform01 = [rng = std::mt19937_64(std::random_device{}())]() mutable {
        return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
      };
    }
    if (!options_.sleep) options_.sleep = [this](auto d) { return cancel_.sleepFor(d); };
    if (!options_.now) options_.now = [] { return std::chrono::steady_clock::now(); };
    backoff_ = Backoff(options_.backoff, options_.uniform01);
  }
  ~Reflector() { stop(); }
  Reflector(const Reflector&) = delete;
  Reflector& operator=(const Reflector&) = delete;

  // Runs the loop on its own thread.
  void start() {
    thread_ = std::thread([this] { run(); });
  }
  // Cancels the call in flight and joins; returns promptly (no wait for a watch timeout).
  void stop() {
    cancel_.cancel();
    if (thread_.joinable()) thread_.join();
  }
  // The loop on the calling thread, until stop().
  void run() {
    bool relist = true;
    while (!cancel_.cancelled()) {
      if (relist) {
        ApiStatus st = listAll();
        if (!st.ok) {
          if (!pause(st)) return;
          continue;
        }
        relist = false;
      }
      if (!watchOnce(&relist)) return;
    }
  }
  // Ends the watch in flight and opens a new one at once, from where it was (any thread).
  // For when its connection may be dead without either end knowing: the node's address it
  // came from is gone, and a receive-only stream would wait out its timeout (minutes).
  void reconnect() {
    std::lock_guard lock(callMu_);
    if (call_) call_->cancel();
  }

  // True once a LIST has completed: the cache the callbacks fill is complete.
  bool synced() const { return synced_; }
  WatcherStats stats() const {
    std::lock_guard lock(statsMu_);
    return stats_;
  }

 private:
  static std::string secondsText(std::chrono::steady_clock::duration d) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f s", std::chrono::duration<double>(d).count());
    return buf;
  }

  // Waits before the next attempt; returns false when stopped.
  bool pause(const ApiStatus& st) {
    if (cancel_.cancelled()) return false;
    auto delay = backoff_.next(st.retryAfter);
    return options_.sleep(delay) && !cancel_.cancelled();
  }

  ApiStatus listAll() {
    const std::string& kind = source_.kind;
    std::vector<T> items;
    size_t count = 0;
    std::string rv;
    bool streamed = static_cast<bool>(callbacks_.onItem);
    if (streamed && callbacks_.onListStart) callbacks_.onListStart();
    ApiStatus st = source_.list(
        [&](T&& n) {
          if (n.name.empty()) {
            log::warn("LIST " + kind + ": skipping an item without metadata.name");
            return;
          }
          ++count;
          if (streamed)
            callbacks_.onItem(std::move(n));
          else
            items.push_back(std::move(n));
        },
        &rv, &cancel_);
    if (!st.ok) {
      if (!st.cancelled) {
        log::warn("LIST " + kind + " failed: " + st.message +
                  (synced_ ? "; keeping the " + kind + " of the last complete list" : ""));
        std::lock_guard lock(statsMu_);
        ++stats_.listFailures;
        if (!st.bound.empty()) ++stats_.listsOverBound[st.bound];
      }
      return st;
    }
    log::info("LIST " + kind + ": " + std::to_string(count) + " " + kind + " at resourceVersion " +
              rv);
    {
      std::lock_guard lock(statsMu_);
      ++stats_.lists;
      stats_.resourceVersion = rv;
    }
    if (callbacks_.onSynced) callbacks_.onSynced(std::move(items));
    synced_ = true;
    return st;
  }

  // Returns false when the loop must stop.
  bool watchOnce(bool* relist) {
    const std::string& kind = source_.kind;
    int span = std::max(0, options_.maxWatchSeconds - options_.minWatchSeconds);
    int timeout = options_.minWatchSeconds +
                  std::min(span, static_cast<int>(options_.uniform01() * (span + 1)));
    std::string rv;
    {
      std::lock_guard lock(statsMu_);
      rv = stats_.resourceVersion;
      ++stats_.watches;
    }
    int errorCode = 0;  // of an ERROR event, which ends the watch
    // Cancelled by stop() (through cancel_) or by reconnect() (this call alone).
    Cancellation call;
    uint64_t linked = cancel_.subscribe([&call] { call.cancel(); });
    {
      std::lock_guard lock(callMu_);
      call_ = &call;
    }
    auto started = options_.now();
    ApiStatus st = source_.watch(
        rv, timeout,
        [&](Event&& ev) {
          if (ev.type == WatchEventType::kError) {
            // kube-apiserver sends ERROR with a Status and then ends the stream; 410 means
            // the resourceVersion left its history window.
            errorCode = ev.errorCode;
            log::warn("watch " + kind + ": ERROR event, code " + std::to_string(ev.errorCode) +
                      ": " + ev.errorMessage);
            return false;
          }
          T& object = objectOf(ev);
          // Bookmarks carry only a resourceVersion: tracking it lets the next watch resume
          // there instead of from an old version the server may have compacted.
          if (!object.resourceVersion.empty()) {
            std::lock_guard lock(statsMu_);
            stats_.resourceVersion = object.resourceVersion;
          }
          if (ev.type == WatchEventType::kBookmark) return true;
          if (object.name.empty()) {
            log::warn("watch " + kind + ": skipping a " + watchEventTypeName(ev.type) +
                      " event without metadata.name");
            return true;
          }
          {
            std::lock_guard lock(statsMu_);
            ++stats_.events;
          }
          if (callbacks_.onEvent) callbacks_.onEvent(ev.type, object);
          return true;
        },
        &call);
    auto lasted = options_.now() - started;
    {
      std::lock_guard lock(callMu_);
      call_ = nullptr;
    }
    cancel_.unsubscribe(linked);
    if (cancel_.cancelled()) return false;
    bool healthy = lasted >= options_.healthyWatch;
    if (healthy) {
      backoff_.reset();
      failedWatches_ = 0;
    }
    if (st.cancelled || call.cancelled()) {
      log::info("watch " + kind + ": reconnecting from resourceVersion " + rv);
      return true;
    }
    if (errorCode == 410 || st.httpStatus == 410) {
      log::info("watch " + kind + ": resourceVersion " + rv + " expired (410 Gone); relisting");
      std::lock_guard lock(statsMu_);
      ++stats_.expired;
      *relist = true;
    } else if (!healthy || !st.ok) {
      std::string why = !st.ok      ? st.message
                        : errorCode ? "an ERROR event, code " + std::to_string(errorCode)
                                    : "the server ended it";
      log::warn("watch " + kind + " ended after " + secondsText(lasted) + ": " + why);
      bool tooMany = !healthy && ++failedWatches_ >= options_.relistAfterFailures;
      if (tooMany) {
        log::warn("watch " + kind + ": " + std::to_string(failedWatches_) +
                  " watches in a row ended within " +
                  std::to_string(options_.healthyWatch.count()) +
                  " s (relistAfterFailures); relisting");
        *relist = true;
      }
      std::lock_guard lock(statsMu_);
      ++stats_.watchFailures;
      stats_.failureRelists += tooMany ? 1 : 0;
    }
    if (*relist) failedWatches_ = 0;
    // After a healthy stretch (the server's timeout, a connection lost minutes in) the next
    // watch follows at once; after anything shorter the backoff paces it.
    if (healthy) return true;
    return pause(st);
  }

  Source source_;
  Callbacks callbacks_;
  WatcherOptions options_;
  Backoff backoff_;
  int failedWatches_ = 0;  // in a row, since the last healthy watch or relist
  Cancellation cancel_;
  std::mutex callMu_;
  Cancellation* call_ = nullptr;  // the watch in flight, under callMu_
  std::thread thread_;
  std::atomic<bool> synced_{false};
  mutable std::mutex statsMu_;
  WatcherStats stats_;
};

}  // namespace routelet::kube
