// A scripted, stateful ApiClient for tests of code that watches or patches Nodes. Steps
// are consumed in order; when the script runs out, a call parks until more is pushed or
// the caller cancels, so a test can wait for the loop to go idle and then inspect it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "controller/kube/api_client.h"

namespace routelet::kube::testing {

class FakeApiClient : public ApiClient {
 public:
  struct ListStep {
    std::vector<model::Node> nodes;
    std::string resourceVersion;
    ApiStatus status = ApiStatus::success(200);
  };
  struct WatchStep {
    std::vector<WatchEvent> events;
    ApiStatus end = ApiStatus::success(200);
    // How long the watch stays up: the fake clock (now()) advances by this much.
    std::chrono::milliseconds lasts{0};
  };
  struct WatchCall {
    std::string resourceVersion;
    int timeoutSeconds = 0;
  };
  struct Patch {
    std::string name;
    std::string json;
    PatchType type;
  };

  void pushList(ListStep step) {
    std::lock_guard lock(mu_);
    lists_.push_back(std::move(step));
    cv_.notify_all();
  }
  void pushWatch(WatchStep step) {
    std::lock_guard lock(mu_);
    watches_.push_back(std::move(step));
    cv_.notify_all();
  }
  // Objects of another collection, by its path ("/api/v1/pods").
  struct ObjectListStep {
    std::vector<nlohmann::json> objects;
    std::string resourceVersion;
    ApiStatus status = ApiStatus::success(200);
  };
  struct ObjectWatchStep {
    std::vector<std::pair<WatchEventType, nlohmann::json>> events;
    ApiStatus end = ApiStatus::success(200);
  };
  void pushObjectList(const std::string& path, ObjectListStep step) {
    std::lock_guard lock(mu_);
    objectLists_[path].push_back(std::move(step));
    cv_.notify_all();
  }
  void pushObjectWatch(const std::string& path, ObjectWatchStep step) {
    std::lock_guard lock(mu_);
    objectWatches_[path].push_back(std::move(step));
    cv_.notify_all();
  }

  void setNode(model::Node n) {
    std::lock_guard lock(mu_);
    nodes_[n.name] = std::move(n);
  }

  // Blocks until a call is parked waiting for script (everything pushed is consumed).
  void waitIdle() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] {
      return parked_ > 0 && (parkedOnWatch_ ? watches_.empty() : lists_.empty());
    });
  }

  // A clock that moves only while a scripted watch is up (WatchStep::lasts).
  std::chrono::steady_clock::time_point now() const {
    std::lock_guard lock(mu_);
    return std::chrono::steady_clock::time_point() + elapsed_;
  }

  int listCalls() const {
    std::lock_guard lock(mu_);
    return listCalls_;
  }
  std::vector<WatchCall> watchCalls() const {
    std::lock_guard lock(mu_);
    return watchCalls_;
  }
  std::vector<Patch> patches() const {
    std::lock_guard lock(mu_);
    return patches_;
  }

  ApiStatus listNodes(const NodeCallback& onNode, std::string* resourceVersion,
                      Cancellation* cancel) override {
    std::unique_lock lock(mu_);
    ++listCalls_;
    if (!waitFor(lock, lists_, cancel, false)) return countLocked(ApiStatus::wasCancelled());
    ListStep step = std::move(lists_.front());
    lists_.pop_front();
    lock.unlock();
    for (auto& n : step.nodes) onNode(std::move(n));
    if (step.status.ok) *resourceVersion = step.resourceVersion;
    return count(step.status);
  }

  ApiStatus watchNodes(const std::string& resourceVersion, int timeoutSeconds,
                       const WatchCallback& onEvent, Cancellation* cancel) override {
    std::unique_lock lock(mu_);
    watchCalls_.push_back({resourceVersion, timeoutSeconds});
    if (!waitFor(lock, watches_, cancel, true)) return countLocked(ApiStatus::wasCancelled());
    WatchStep step = std::move(watches_.front());
    watches_.pop_front();
    elapsed_ += step.lasts;
    lock.unlock();
    for (auto& ev : step.events)
      if (!onEvent(std::move(ev))) break;
    return count(step.end);
  }

  ApiStatus listObjects(const ObjectQuery& query, const ObjectCallback& onObject,
                        std::string* resourceVersion, Cancellation* cancel) override {
    std::unique_lock lock(mu_);
    auto& queue = objectLists_[query.path];
    if (!waitFor(lock, queue, cancel, false)) return countLocked(ApiStatus::wasCancelled());
    ObjectListStep step = std::move(queue.front());
    queue.pop_front();
    lock.unlock();
    for (auto& o : step.objects) onObject(std::move(o));
    if (step.status.ok) *resourceVersion = step.resourceVersion;
    return count(step.status);
  }

  ApiStatus watchObjects(const ObjectQuery& query, const std::string&, int,
                         const ObjectEventCallback& onEvent, Cancellation* cancel) override {
    std::unique_lock lock(mu_);
    auto& queue = objectWatches_[query.path];
    if (!waitFor(lock, queue, cancel, true)) return countLocked(ApiStatus::wasCancelled());
    ObjectWatchStep step = std::move(queue.front());
    queue.pop_front();
    lock.unlock();
    for (auto& [type, object] : step.events)
      if (!onEvent(type, std::move(object), 0, "")) break;
    return count(step.end);
  }

  ApiStatus getNode(const std::string& name, model::Node* out, Cancellation*) override {
    std::lock_guard lock(mu_);
    auto it = nodes_.find(name);
    if (it == nodes_.end())
      return countLocked(ApiStatus::failure(404, "nodes \"" + name + "\" not found"));
    *out = it->second;
    return countLocked(ApiStatus::success(200));
  }

  ApiStatus patchNodeStatus(const std::string& name, const std::string& patchJson, PatchType type,
                            Cancellation*) override {
    std::lock_guard lock(mu_);
    if (!nodes_.contains(name))
      return countLocked(ApiStatus::failure(404, "nodes \"" + name + "\" not found"));
    patches_.push_back({name, patchJson, type});
    return countLocked(ApiStatus::success(200));
  }

  std::map<int, uint64_t> requestCounts() const override {
    std::lock_guard lock(mu_);
    return counts_;
  }

 private:
  template <typename Queue>
  bool waitFor(std::unique_lock<std::mutex>& lock, Queue& q, Cancellation* cancel, bool watch) {
    if (!q.empty()) return true;
    lock.unlock();
    // Subscribed without the lock held: an already cancelled token runs the callback now.
    uint64_t id = cancel ? cancel->subscribe([this] {
      std::lock_guard l(mu_);
      cv_.notify_all();
    })
                         : 0;
    lock.lock();
    ++parked_;
    parkedOnWatch_ = watch;
    cv_.notify_all();
    cv_.wait(lock, [&] { return !q.empty() || (cancel && cancel->cancelled()); });
    --parked_;
    lock.unlock();
    if (cancel) cancel->unsubscribe(id);
    lock.lock();
    return !q.empty() && !(cancel && cancel->cancelled());
  }
  ApiStatus count(ApiStatus st) {
    std::lock_guard lock(mu_);
    return countLocked(std::move(st));
  }
  ApiStatus countLocked(ApiStatus st) {
    ++counts_[st.httpStatus];
    return st;
  }

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<ListStep> lists_;
  std::deque<WatchStep> watches_;
  std::map<std::string, std::deque<ObjectListStep>> objectLists_;
  std::map<std::string, std::deque<ObjectWatchStep>> objectWatches_;
  std::map<std::string, model::Node> nodes_;
  std::vector<WatchCall> watchCalls_;
  std::vector<Patch> patches_;
  std::map<int, uint64_t> counts_;
  std::chrono::milliseconds elapsed_{0};
  int listCalls_ = 0;
  int parked_ = 0;
  bool parkedOnWatch_ = false;
};

}  // namespace routelet::kube::testing
