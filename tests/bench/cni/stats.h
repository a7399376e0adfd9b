// Order statistics of a set of timings, in milliseconds.
#pragma once

#include <cstddef>
#include <vector>

namespace routelet::bench::cni {

struct Summary {
  size_t count = 0;
  double p50 = 0;
  double p99 = 0;
  double mean = 0;
  double min = 0;
  double max = 0;
};

// Nearest-rank percentiles: p99 of 200 samples is the 198th smallest, a value that was
// really measured, so a tail is never smoothed away by interpolation.
Summary summarize(std::vector<double> samplesMs);

}  // namespace routelet::bench::cni
