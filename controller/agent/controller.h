// One concern of the agent: peer routes, this node's setup, masquerade, status publishing,
// and what comes next. The loop (agent.h) owns the Node cache and hands every input to
// every controller, which says whether it needs a pass; a pass then syncs each controller
// in the order they were registered. A controller keeps its own state and reaches the
// kernel or the API only through edges given to it at construction, so it runs against
// fakes in unit tests. Adding one never means editing the others (controller/README.md).
//
// Threads: the inputs (nodeChanged, kernelEvent, kernelEventsLost) come from the watch and
// monitor threads, sync() from the loop's: all under the loop's lock, so a controller
// needs no lock of its own for its state. afterKernelEvents() runs outside that lock.
#pragma once

#include <atomic>
#include <optional>

#include "common/netlink/netlink.h"
#include "controller/agent/pass.h"
#include "controller/model/node.h"
#include "controller/model/node_cache.h"

namespace routelet::agent {

// What an input asks of the loop: nothing, a targeted pass, or a whole one.
enum class Wake { kNo = 0, kSoon = 1, kWhole = 2 };

class Controller {
 public:
  virtual ~Controller() = default;

  // A Node changed as the cache holds it now (`nodes`): before is the version it replaced
  // (null: a new Node), after the new one (null: deleted). Peers are reported only when a
  // field routing reads changed; the own Node on every event.
  virtual Wake nodeChanged(const model::NodeCache& nodes, const model::Node* before,
                           const model::Node* after) {
    (void)nodes, (void)before, (void)after;
    return Wake::kNo;
  }
  virtual Wake kernelEvent(const netlink::Event& event, const model::NodeCache& nodes) {
    (void)event, (void)nodes;
    return Wake::kNo;
  }
  // The monitor overran: events were lost, and a whole pass follows.
  virtual void kernelEventsLost() {}
  // After the loop handed over a batch of kernel events, outside its lock: for effects that
  // must not run under it (ending a watch call).
  virtual void afterKernelEvents() {}
  // When this controller next needs a whole pass without any new input (a follow-up, a
  // retry); nullopt: never.
  virtual std::optional<Clock::time_point> dueAt() const { return std::nullopt; }

  virtual void sync(Pass& pass) = 0;

  // Work of its own beside the loop (the status patch): started and stopped by Agent::run.
  virtual void start(const std::atomic<bool>& stop) { (void)stop; }
  virtual void wake() {}
  virtual void join() {}
};

}  // namespace routelet::agent
