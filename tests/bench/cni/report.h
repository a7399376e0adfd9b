// The benchmark's results, its targets, and their two renderings (table and JSON).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "tests/bench/cni/stats.h"

namespace routelet::bench::cni {

struct PluginResult {
  std::string label;  // e.g. "routelet-cni", "bridge+host-local"
  Summary add;
  Summary del;
  double concurrentAddWallMs = 0;
  double concurrentDelWallMs = 0;
};

struct BenchResult {
  int iterations = 0;
  int concurrency = 0;
  int warmup = 0;
  std::optional<PluginResult> routelet;
  std::optional<PluginResult> reference;
  std::string host;  // kernel, CPUs, load: the context the numbers were taken in
  std::optional<Summary> vethDeleteFloor;
  // An ADD's kernel requests made in-process: the pair enslaved and up, the pod's address,
  // links up and default route. With driverCost, the floor under any CNI ADD.
  std::optional<Summary> addKernel;
  // posix_spawn + reap of a static no-op through the same driver: what the driver and a
  // bare exec cost, so a reader sees how little of a plugin's time is not the plugin's.
  std::optional<Summary> driverCost;
};

// A target holds when measured / baseline <= limit. Missing when a side was not run.
struct Target {
  std::string name;
  std::string measured;  // what is divided...
  std::string baseline;  // ...by what
  double limit = 0;
  std::optional<double> ratio;
  bool pass() const { return ratio && *ratio <= limit; }
};

// The targets: ADD p50 <= 0.1x the reference; N concurrent ADDs in <= 0.2x the
// reference's wall time; DEL p50 <= 0.6x the reference and <= 1.25x the kernel's own cost
// of deleting one veth pair.
std::vector<Target> evaluateTargets(const BenchResult& r);

std::string renderTable(const BenchResult& r);
nlohmann::json renderJson(const BenchResult& r);

}  // namespace routelet::bench::cni
