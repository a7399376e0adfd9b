// The agent's view of the Kubernetes API: the four calls it makes, behind a small
// interface so the watch loop is tested against a fake. The real implementation
// (http_api_client.h) keeps cpprestsdk out of every header.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "controller/kube/node_decode.h"
#include "controller/model/node.h"

namespace routelet::kube {

// A shutdown signal shared by a loop and the calls it makes. Blocking calls subscribe a
// callback that aborts them (the HTTP client cancels its request), so stop() does not
// wait for a watch that could stay open for ten minutes.
class Cancellation {
 public:
  void cancel();
  bool cancelled() const;
  // Sleeps up to d; returns false at once when cancelled (before or during the sleep).
  bool sleepFor(std::chrono::milliseconds d);
  // fn runs on cancel(), or at once if already cancelled. Returns an id for unsubscribe.
  uint64_t subscribe(std::function<void()> fn);
  void unsubscribe(uint64_t id);

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool cancelled_ = false;
  uint64_t nextId_ = 1;
  std::map<uint64_t, std::function<void()>> subscribers_;
};

// The outcome of one API call.
struct ApiStatus {
  bool ok = true;
  // The last HTTP status seen; 0 when no response arrived (connect, TLS, timeout, cancel).
  int httpStatus = 0;
  bool cancelled = false;
  // From a 429/503 response's Retry-After header.
  std::optional<std::chrono::seconds> retryAfter;
  // On failure: the request, the server and what went wrong. Never contains a token.
  std::string message;
  // Set when the client gave up because the answer went past one of its own bounds
  // (HttpApiOptions: "maxListPages", "maxListNodes", "maxListBytes", "maxPageBytes",
  // "maxValueBytes", or "continue" for a continue token that came twice).
  std::string bound;

  static ApiStatus success(int httpStatus) {
    return ApiStatus{true, httpStatus, false, {}, {}, {}};
  }
  static ApiStatus failure(int httpStatus, std::string message,
                           std::optional<std::chrono::seconds> retryAfter = std::nullopt) {
    return ApiStatus{false, httpStatus, false, retryAfter, std::move(message), {}};
  }
  static ApiStatus overBound(std::string bound, std::string message) {
    return ApiStatus{false, 0, false, {}, std::move(message), std::move(bound)};
  }
  static ApiStatus wasCancelled() { return ApiStatus{false, 0, true, {}, "cancelled", {}}; }
};

// Which patch flavour a PATCH uses. Strategic merge merges status.conditions by their
// `type` key; a JSON merge patch would replace the whole list (dropping kubelet's Ready).
enum class PatchType { kMerge, kStrategicMerge };

using NodeCallback = std::function<void(model::Node&&)>;
// Returns false to end the watch early (the call then returns ok).
using WatchCallback = std::function<bool(WatchEvent&&)>;

// A watch event of a kind other than Node, decoded into T (the reflector's input).
template <class T>
struct TypedEvent {
  WatchEventType type = WatchEventType::kAdded;
  T object;  // BOOKMARK: only object.resourceVersion is meaningful
  int errorCode = 0;
  std::string errorMessage;
};

// Which fields of an object of another kind are kept while it is parsed: `path` is the
// keys from the object's root ({"metadata", "labels"}; array elements add none). Everything
// else is skipped as it streams by, so no whole Pod is ever held.
using KeepField = std::function<bool(const std::vector<std::string>& path)>;
// A collection the agent lists and watches besides Nodes (Pods, Namespaces,
// NetworkPolicies): its path and what of each object it keeps.
struct ObjectQuery {
  std::string kind;  // "pods": in messages
  std::string path;  // "/api/v1/pods"
  KeepField keep;
  // Objects in one LIST past which the agent gives up (bound "maxListItems").
  size_t maxItems = 0;
};
// Each object of a LIST, reduced to what keep() chose.
using ObjectCallback = std::function<void(nlohmann::json&&)>;
// One watch event: its type, the object (ERROR: the Status), and for ERROR the code and
// message. Returns false to end the watch early.
using ObjectEventCallback = std::function<bool(WatchEventType type, nlohmann::json&& object,
                                               int errorCode, const std::string& errorMessage)>;

// Thread-safe count of API responses by HTTP status (0 = no response), for /metrics.
class RequestCounters {
 public:
  void count(int httpStatus);
  std::map<int, uint64_t> snapshot() const;

 private:
  mutable std::mutex mu_;
  std::map<int, uint64_t> counts_;
};

class ApiClient {
 public:
  virtual ~ApiClient() = default;

  // LIST /api/v1/nodes page by page (limit=500, following metadata.continue). Each Node
  // is handed to onNode as it is decoded; *resourceVersion gets the list's
  // resourceVersion, from which a WATCH continues. On failure some Nodes may already have
  // been delivered: the caller discards them. A LIST past the client's bounds (pages,
  // Nodes, bytes, a repeated continue token) fails with ApiStatus::bound set.
  virtual ApiStatus listNodes(const NodeCallback& onNode, std::string* resourceVersion,
                              Cancellation* cancel) = 0;

  // WATCH /api/v1/nodes from resourceVersion with bookmarks, for at most timeoutSeconds
  // (the server ends the stream then). Events are delivered as each line arrives. Returns
  // ok when the server ended the stream or onEvent returned false.
  virtual ApiStatus watchNodes(const std::string& resourceVersion, int timeoutSeconds,
                               const WatchCallback& onEvent, Cancellation* cancel) = 0;

  virtual ApiStatus getNode(const std::string& name, model::Node* out, Cancellation* cancel) = 0;

  // PATCH /api/v1/nodes/NAME/status: the status subresource, so RBAC needs only
  // nodes/status patch to write annotations and conditions.
  virtual ApiStatus patchNodeStatus(const std::string& name, const std::string& patchJson,
                                    PatchType type, Cancellation* cancel) = 0;

  // LIST and WATCH of another collection, as listNodes and watchNodes do for Nodes, with the
  // same bounds (maxItems for the objects).
  virtual ApiStatus listObjects(const ObjectQuery& query, const ObjectCallback& onObject,
                                std::string* resourceVersion, Cancellation* cancel) = 0;
  virtual ApiStatus watchObjects(const ObjectQuery& query, const std::string& resourceVersion,
                                 int timeoutSeconds, const ObjectEventCallback& onEvent,
                                 Cancellation* cancel) = 0;

  virtual std::map<int, uint64_t> requestCounts() const = 0;
};

}  // namespace routelet::kube
