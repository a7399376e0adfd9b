#include "tests/bench/cni/stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace routelet::bench::cni {
namespace {
double nearestRank(const std::vector<double>& sorted, double percent) {
  auto rank = static_cast<size_t>(std::ceil(percent / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}
}  // namespace

Summary summarize(std::vector<double> samplesMs) {
  Summary s;
  if (samplesMs.empty()) return s;
  std::sort(samplesMs.begin(), samplesMs.end());
  s.count = samplesMs.size();
  s.p50 = nearestRank(samplesMs, 50);
  s.p99 = nearestRank(samplesMs, 99);
  s.mean = std::accumulate(samplesMs.begin(), samplesMs.end(), 0.0) / static_cast<double>(s.count);
  s.min = samplesMs.front();
  s.max = samplesMs.back();
  return s;
}

}  // namespace routelet::bench::cni
