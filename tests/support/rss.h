// This process's resident memory, for tests showing that a hostile peer cannot grow it.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <string>
#include <thread>

namespace routelet::testing {

// How much more RSS the same bounded work takes in this build. Under ASan (the Debug build
// of scripts/test) code reads several times slower, so a peer sending at full speed gets
// further ahead before a bound is checked, and the allocator adds redzones, shadow memory
// and a quarantine of freed blocks. Tests widen their memory bounds by it; the unbounded
// code they guard against grows past 256 MiB either way.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr long kRssFactor = 3;
#else
inline constexpr long kRssFactor = 1;
#endif

// VmRSS in KiB, -1 when /proc says nothing.
inline long rssKib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

// The peak growth of VmRSS while fn runs, sampled every 5 ms, in KiB. Code without bounds
// must fail a test, not take the machine: runaway (which should make fn return) is called
// past 256 MiB of growth or a minute.
template <typename Fn>
long rssGrowthDuring(Fn fn, const std::function<void()>& runaway = {}) {
  long before = rssKib();
  std::atomic<long> peak{before};
  std::atomic<bool> running{true};
  std::thread sampler([&] {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(1);
    while (running) {
      peak = std::max(peak.load(), rssKib());
      if (runaway && (peak - before > 256 * 1024 || std::chrono::steady_clock::now() > deadline))
        runaway();
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  fn();
  running = false;
  sampler.join();
  return peak - before;
}

}  // namespace routelet::testing
