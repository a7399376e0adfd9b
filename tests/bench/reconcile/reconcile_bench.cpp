// The pure core's cost per reconcile pass for a large cluster: desiredRoutes() + planRoutes().
// Kernel dump and apply are not included (they are the netlink edge's cost).
#include <benchmark/benchmark.h>

#include "controller/routes/desired.h"
#include "controller/routes/plan.h"
#include "tests/unit/controller/routes/builders.h"

namespace routelet::reconcile {
namespace {

// The kernel as a previous pass left it: every desired route, with the device filled in.
std::vector<netlink::Route> programmed(const NodeCache& cache, const SelfInfo& self) {
  std::vector<netlink::Route> routes = desiredRoutes(cache, self).routes;
  for (auto& r : routes) r.oif = 2;
  return routes;
}

void run(benchmark::State& state, const NodeCache& cache, const SelfInfo& self,
         const std::vector<netlink::Route>& observed, std::size_t wantOps) {
  const std::vector<netlink::Route> foreign{testing::makeRoute("0.0.0.0/0", "10.0.0.254", 3)};
  for (auto _ : state) {
    Desired d = desiredRoutes(cache, self);
    Plan p = planRoutes(d.routes, observed, foreign);
    if (p.ops.size() != wantOps) state.SkipWithError("unexpected plan size");
    benchmark::DoNotOptimize(p);
  }
  state.counters["nodes"] = static_cast<double>(cache.size());
}

void BM_Fresh(benchmark::State& state) {
  int n = static_cast<int>(state.range(0));
  NodeCache cache = testing::largeCluster(n);
  run(state, cache, testing::largeSelf(), {}, static_cast<std::size_t>(n - 1));
}

void BM_Steady(benchmark::State& state) {
  int n = static_cast<int>(state.range(0));
  NodeCache cache = testing::largeCluster(n);
  SelfInfo self = testing::largeSelf();
  run(state, cache, self, programmed(cache, self), 0);
}

void BM_OneNodeChanged(benchmark::State& state) {
  int n = static_cast<int>(state.range(0));
  NodeCache cache = testing::largeCluster(n);
  SelfInfo self = testing::largeSelf();
  auto observed = programmed(cache, self);
  model::Node moved = testing::largeNode(n / 2);
  moved.internalIPs = {testing::addr("10.0.250.1")};
  (void)cache.upsert(moved);
  run(state, cache, self, observed, 1);
}

void BM_DesiredOnly(benchmark::State& state) {
  NodeCache cache = testing::largeCluster(static_cast<int>(state.range(0)));
  SelfInfo self = testing::largeSelf();
  for (auto _ : state) benchmark::DoNotOptimize(desiredRoutes(cache, self));
}

BENCHMARK(BM_Fresh)->Arg(100)->Arg(5000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Steady)->Arg(100)->Arg(5000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_OneNodeChanged)->Arg(5000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DesiredOnly)->Arg(5000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace routelet::reconcile
