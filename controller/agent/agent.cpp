#include "controller/agent/agent.h"

#include <algorithm>
#include <thread>

#include "common/base/log.h"

namespace routelet::agent {

Agent::Agent(LoopOptions options, std::vector<Controller*> controllers, Metrics& metrics)
    : options_(std::move(options)),
      controllers_(std::move(controllers)),
      metrics_(metrics),
      nextResync_(Clock::now() + options_.resyncPeriod) {
  using T = Metrics::Type;
  metrics_.declare("routelet_build_info", T::kGauge, "routelet version, always 1.");
  metrics_.declare("routelet_reconcile_duration_seconds", T::kHistogram, "Time of one whole pass.",
                   {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5});
  metrics_.declare("routelet_reconcile_passes_total", T::kCounter,
                   "Whole passes (every controller looks at everything).");
  metrics_.declare("routelet_targeted_passes_total", T::kCounter,
                   "Passes that handled only what changed (a peer Node, a vanished route).");
  metrics_.set("routelet_build_info", {{"version", ROUTELET_VERSION_STRING}}, 1);
  health_.notReadyReason = "waiting for the first Node list";
}

void Agent::notify(Wake wake) {
  if (wake == Wake::kNo) return;
  (wake == Wake::kWhole ? wantWhole_ : wantSoon_) = true;
  cv_.notify_all();
}

void Agent::nodesListed(std::vector<model::Node> nodes) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& name : cache_.replaceAll(std::move(nodes)))
    log::info("Node " + name + " is gone (seen at relist)");
  notify(Wake::kWhole);
}

void Agent::nodeUpserted(model::Node node) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string name = node.name;
  std::optional<model::Node> previous;
  bool changed = cache_.upsert(std::move(node), &previous);
  // Peers matter only for what routing reads (kubelet heartbeats touch every Node every few
  // seconds); the own Node also for what it carries (its annotations and condition).
  if (!changed && name != options_.nodeName) return;
  const model::Node* after = cache_.get(name);
  Wake wake = Wake::kNo;
  for (auto* c : controllers_)
    wake = std::max(wake, c->nodeChanged(cache_, previous ? &*previous : nullptr, after));
  notify(wake);
}

void Agent::nodeDeleted(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  std::optional<model::Node> removed;
  if (!cache_.remove(name, &removed)) return;
  Wake wake = Wake::kNo;
  for (auto* c : controllers_) wake = std::max(wake, c->nodeChanged(cache_, &*removed, nullptr));
  notify(wake);
}

void Agent::kernelEvents(const std::vector<netlink::Event>& events) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    Wake wake = Wake::kNo;
    for (const auto& e : events)
      for (auto* c : controllers_) wake = std::max(wake, c->kernelEvent(e, cache_));
    notify(wake);
  }
  for (auto* c : controllers_) c->afterKernelEvents();
}

void Agent::kernelEventsLost() {
  log::warn("netlink monitor overrun: events were lost, doing a whole pass");
  std::lock_guard<std::mutex> lock(mu_);
  for (auto* c : controllers_) c->kernelEventsLost();
  notify(Wake::kWhole);
}

void Agent::requestPass() {
  std::lock_guard<std::mutex> lock(mu_);
  notify(Wake::kWhole);
}

void Agent::post(const std::function<Wake()>& fn) {
  std::lock_guard<std::mutex> lock(mu_);
  notify(fn());
}

void Agent::wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    cv_.notify_all();
  }
  for (auto* c : controllers_) c->wake();
}

AgentHealth Agent::health() const {
  std::lock_guard<std::mutex> lock(mu_);
  return health_;
}

Clock::time_point Agent::lastLoop() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lastLoop_;
}

bool Agent::due(Clock::time_point now) const {
  return wantWhole_ || wantSoon_ || timed(now);
}

void Agent::run(const std::atomic<bool>& stop, std::chrono::milliseconds tick) {
  for (auto* c : controllers_) c->start(stop);
  while (!stop) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      lastLoop_ = Clock::now();
      cv_.wait_for(lock, tick, [&] { return stop || due(Clock::now()); });
      lastLoop_ = Clock::now();
      if (stop) break;
      if (!due(Clock::now())) continue;
    }
    pass();
  }
  for (auto* c : controllers_) c->wake();
  for (auto* c : controllers_) c->join();
}

bool Agent::timed(Clock::time_point now) const {
  if (now >= nextResync_ || (detailDue_ && now >= *detailDue_)) return true;
  return std::any_of(controllers_.begin(), controllers_.end(), [&](const Controller* c) {
    auto at = c->dueAt();
    return at && now >= *at;
  });
}

void Agent::pass() {
  std::lock_guard<std::mutex> lock(mu_);
  // Targeted only when targeted work is all that waits; a pass asked for with nothing
  // waiting (a test, a caller that knows better) looks at everything.
  bool whole = wantWhole_ || !wantSoon_ || timed(Clock::now());
  wantSoon_ = false;
  if (!whole) {
    Pass targeted(cache_);
    round(targeted);
    metrics_.add("routelet_targeted_passes_total", {});
    // What a targeted pass could not decide: a whole one at once.
    if (!targeted.wantWhole) return;
  }
  wantWhole_ = false;
  Pass pass(cache_);
  pass.whole = true;
  pass.resync = pass.now >= nextResync_;
  if (pass.resync) nextResync_ = pass.now + options_.resyncPeriod;
  // status.json is rebuilt at most once per detailInterval; a whole pass inside it leaves
  // it due, and one more pass follows when it falls due. Before the first Node list there
  // is nothing to write: such a pass must not use up the slot of the first one that can.
  pass.detail = cache_.synced() && pass.now - lastDetail_ >= options_.detailInterval;
  if (pass.detail) {
    lastDetail_ = pass.now;
    detailDue_.reset();
  } else if (cache_.synced() && !detailDue_) {
    detailDue_ = lastDetail_ + options_.detailInterval;
  }
  ++passes_;
  round(pass);
  metrics_.add("routelet_reconcile_passes_total", {});
  metrics_.observe("routelet_reconcile_duration_seconds", {},
                   std::chrono::duration<double>(Clock::now() - pass.now).count());
  std::string reason;
  if (!cache_.synced())
    reason = "waiting for the first Node list";
  else if (!pass.notReady.empty())
    reason = pass.notReady.front();
  health_ = {reason.empty(), reason};
}

void Agent::round(Pass& pass) {
  for (auto* c : controllers_) c->sync(pass);
}

}  // namespace routelet::agent
