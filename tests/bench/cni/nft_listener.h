// An nf_tables monitor on a thread of its own for the benchmarks that write tables: what
// the agent's monitor would have to take in (commits) and whether it overran.
#pragma once

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>

#include "common/base/result.h"
#include "common/netlink/monitor.h"

namespace routelet::bench::cni {

class Listener {
 public:
  static Result<std::unique_ptr<Listener>> start() {
    auto monitor = netlink::Monitor::openNftables();
    if (!monitor) return monitor.error();
    auto l = std::unique_ptr<Listener>(new Listener(std::move(*monitor)));
    l->thread_ = std::thread([p = l.get()] { p->loop(); });
    return l;
  }
  ~Listener() {
    stop_ = true;
    thread_.join();
  }
  uint64_t commits() const { return commits_; }
  uint64_t overruns() const { return overruns_; }

 private:
  explicit Listener(netlink::Monitor m) : monitor_(std::move(m)) {}
  void loop() {
    while (!stop_) {
      auto events = monitor_.wait(std::chrono::milliseconds(100));
      if (!events) {
        if (events.error().code == ENOBUFS) ++overruns_;
        continue;
      }
      commits_ += events->size();
    }
  }
  netlink::Monitor monitor_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> commits_{0};
  std::atomic<uint64_t> overruns_{0};
};

}  // namespace routelet::bench::cni
