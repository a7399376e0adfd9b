#include "tests/bench/cni/bench_cli.h"

#include <csignal>
#include <exception>

namespace routelet::bench::cni {
namespace {
volatile std::sig_atomic_t gInterrupted = 0;
}

void installInterruptHandler() {
  struct sigaction sa {};
  sa.sa_handler = [](int) { gInterrupted = 1; };
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);
}

bool interrupted() {
  return gInterrupted != 0;
}

std::optional<int> parseNumber(const std::string& text, int lo, int hi) {
  try {
    size_t used = 0;
    int n = std::stoi(text, &used);
    if (used == text.size() && n >= lo && n <= hi) return n;
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

}  // namespace routelet::bench::cni
