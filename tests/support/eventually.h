// Polls until a condition holds. The deadline only turns a hang into a failure: tests wait
// for what must happen, never for a time that should pass.
#pragma once

#include <chrono>
#include <thread>

namespace routelet::testing {

template <typename Pred>
bool eventually(Pred pred, std::chrono::seconds deadline = std::chrono::seconds(60)) {
  auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return pred();
}

}  // namespace routelet::testing
