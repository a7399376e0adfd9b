// The agent's loop: one level-triggered, coalesced pass at a time over the controllers it
// hosts, woken by Node watch events, kernel events, a controller's own due time and a
// periodic resync. It owns the Node cache and nothing else of routing, masquerade or
// status: those are controllers (controller.h).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/netlink/netlink.h"
#include "controller/agent/controller.h"
#include "controller/agent/metrics.h"
#include "controller/model/node_cache.h"

namespace routelet::agent {

struct AgentHealth {
  bool ready = false;
  std::string notReadyReason;  // empty when ready
};

struct LoopOptions {
  std::string nodeName;  // its own Node is handed to every controller on every event
  std::chrono::seconds resyncPeriod{60};
  // status.json lists every peer: at 5000 Nodes building it costs more than the pass, so
  // whole passes describe the node in detail at most this often (one more pass follows
  // when a detailed one was skipped).
  std::chrono::milliseconds detailInterval{1000};
};

class Agent {
 public:
  // The controllers are synced in this order; they must outlive the Agent.
  Agent(LoopOptions options, std::vector<Controller*> controllers, Metrics& metrics);

  // Feed from the Node watch (any thread).
  void nodesListed(std::vector<model::Node> nodes);
  void nodeUpserted(model::Node node);
  void nodeDeleted(const std::string& name);
  // Feed from the netlink monitors (any thread).
  void kernelEvents(const std::vector<netlink::Event>& events);
  void kernelEventsLost();
  void requestPass();  // a whole pass soon
  // An input of a controller's own, besides Nodes and the kernel (the NetworkPolicy
  // watches): fn runs under the loop's lock, and the Wake it returns wakes the loop as a
  // controller's answer to an event does (any thread).
  void post(const std::function<Wake()>& fn);

  // Runs passes until stop is set; returns within `tick` of it.
  void run(const std::atomic<bool>& stop,
           std::chrono::milliseconds tick = std::chrono::milliseconds(100));
  // One pass now, on the caller's thread (tests, and run() itself): a targeted one when
  // only targeted work is pending, else a whole one.
  void pass();
  void wake();  // wakes run() (e.g. after setting stop)

  AgentHealth health() const;
  Clock::time_point lastLoop() const;
  uint64_t passes() const { return passes_; }

 private:
  void notify(Wake wake);  // under mu_
  bool due(Clock::time_point now) const;
  // A time-driven whole pass is due: the resync, a skipped detail, a controller's own time.
  bool timed(Clock::time_point now) const;
  void round(Pass& pass);

  LoopOptions options_;
  std::vector<Controller*> controllers_;
  Metrics& metrics_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  model::NodeCache cache_;
  bool wantWhole_ = true;  // the first pass is whole
  bool wantSoon_ = false;
  Clock::time_point nextResync_;
  std::optional<Clock::time_point> detailDue_;  // a detailed whole pass was skipped: when
  Clock::time_point lastDetail_{};
  AgentHealth health_;
  Clock::time_point lastLoop_ = Clock::now();
  std::atomic<uint64_t> passes_{0};
};

}  // namespace routelet::agent
