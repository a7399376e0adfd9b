#include "controller/kube/node_watcher.h"

#include <cstdio>
#include <random>

#include "common/base/log.h"

namespace routelet::kube {
namespace {

bool isExpired(const ApiStatus& st) {
  return st.httpStatus == 410;
}

std::string secondsText(std::chrono::steady_clock::duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", std::chrono::duration<double>(d).count());
  return buf;
}

}  // namespace

NodeWatcher::NodeWatcher(ApiClient& api, NodeWatcherCallbacks callbacks, NodeWatcherOptions options)
    : api_(api), callbacks_(std::move(callbacks)), options_(std::move(options)) {
  if (!options_.uniform01) {
    options_.uniform01 = [rng = std::mt19937_64(std::random_device{}())]() mutable {
      return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
    };
  }
  if (!options_.sleep) options_.sleep = [this](auto d) { return cancel_.sleepFor(d); };
  if (!options_.now) options_.now = [] { return std::chrono::steady_clock::now(); };
  backoff_ = Backoff(options_.backoff, options_.uniform01);
}

NodeWatcher::~NodeWatcher() {
  stop();
}

void NodeWatcher::start() {
  thread_ = std::thread([this] { run(); });
}

void NodeWatcher::stop() {
  cancel_.cancel();
  if (thread_.joinable()) thread_.join();
}

void NodeWatcher::reconnect() {
  std::lock_guard lock(callMu_);
  if (call_) call_->cancel();
}

NodeWatcherStats NodeWatcher::stats() const {
  std::lock_guard lock(statsMu_);
  return stats_;
}

// Waits before the next attempt; returns false when stopped.
bool NodeWatcher::pause(const ApiStatus& st) {
  if (cancel_.cancelled()) return false;
  auto delay = backoff_.next(st.retryAfter);
  return options_.sleep(delay) && !cancel_.cancelled();
}

ApiStatus NodeWatcher::listAll() {
  std::vector<model::Node> nodes;
  std::string rv;
  ApiStatus st = api_.listNodes(
      [&](model::Node&& n) {
        if (n.name.empty()) {
          log::warn("LIST nodes: skipping an item without metadata.name");
          return;
        }
        nodes.push_back(std::move(n));
      },
      &rv, &cancel_);
  if (!st.ok) {
    if (!st.cancelled) {
      log::warn("LIST nodes failed: " + st.message +
                (synced_ ? "; keeping the Nodes of the last complete list" : ""));
      std::lock_guard lock(statsMu_);
      ++stats_.listFailures;
      if (!st.bound.empty()) ++stats_.listsOverBound[st.bound];
    }
    return st;
  }
  log::info("LIST nodes: " + std::to_string(nodes.size()) + " nodes at resourceVersion " + rv);
  {
    std::lock_guard lock(statsMu_);
    ++stats_.lists;
    stats_.resourceVersion = rv;
  }
  if (callbacks_.onSynced) callbacks_.onSynced(std::move(nodes));
  synced_ = true;
  return st;
}

bool NodeWatcher::watchOnce(bool* relist) {
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
  ApiStatus st = api_.watchNodes(
      rv, timeout,
      [&](WatchEvent&& ev) {
        if (ev.type == WatchEventType::kError) {
          // kube-apiserver sends ERROR with a Status and then ends the stream; 410 means
          // the resourceVersion left its history window.
          errorCode = ev.errorCode;
          log::warn("watch nodes: ERROR event, code " + std::to_string(ev.errorCode) + ": " +
                    ev.errorMessage);
          return false;
        }
        // Bookmarks carry only a resourceVersion: tracking it lets the next watch resume
        // there instead of from an old version the server may have compacted.
        if (!ev.node.resourceVersion.empty()) {
          std::lock_guard lock(statsMu_);
          stats_.resourceVersion = ev.node.resourceVersion;
        }
        if (ev.type == WatchEventType::kBookmark) return true;
        if (ev.node.name.empty()) {
          log::warn(std::string("watch nodes: skipping a ") + watchEventTypeName(ev.type) +
                    " event without metadata.name");
          return true;
        }
        {
          std::lock_guard lock(statsMu_);
          ++stats_.events;
        }
        if (callbacks_.onEvent) callbacks_.onEvent(ev.type, ev.node);
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
    log::info("watch nodes: reconnecting from resourceVersion " + rv);
    return true;
  }
  if (errorCode == 410 || isExpired(st)) {
    log::info("watch nodes: resourceVersion " + rv + " expired (410 Gone); relisting");
    std::lock_guard lock(statsMu_);
    ++stats_.expired;
    *relist = true;
  } else if (!healthy || !st.ok) {
    std::string why = !st.ok      ? st.message
                      : errorCode ? "an ERROR event, code " + std::to_string(errorCode)
                                  : "the server ended it";
    log::warn("watch nodes ended after " + secondsText(lasted) + ": " + why);
    bool tooMany = !healthy && ++failedWatches_ >= options_.relistAfterFailures;
    if (tooMany) {
      log::warn("watch nodes: " + std::to_string(failedWatches_) +
                " watches in a row ended within " + std::to_string(options_.healthyWatch.count()) +
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

void NodeWatcher::run() {
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

}  // namespace routelet::kube
