// One level-triggered reconcile pass: dump, desired, plan, apply. The caller decides when
// (watch events, monitor events, the periodic resync) and coalesces; a pass always works
// from the whole cache and the whole table, so a missed event costs nothing.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include "common/base/result.h"
#include "controller/model/node_cache.h"
#include "controller/routes/desired.h"
#include "controller/routes/plan.h"
#include "controller/routes/route_table.h"

namespace routelet::routes {

struct FailedOp {
  netlink::RouteOp op;
  Error error;
};

struct FailedNeighborOp {
  netlink::NeighborOp op;
  Error error;
};

// What a pass did to the VXLAN devices' neighbour and forwarding entries.
struct NeighborReport {
  std::size_t installed = 0;  // added or replaced
  std::size_t deleted = 0;
  std::size_t unchanged = 0;
  std::vector<FailedNeighborOp> failed;  // retried by the next pass
  // Every entry desired after this pass (empty in host-gw): what a heal compares against.
  std::vector<netlink::Neighbor> desired;
  std::size_t wanted = 0;  // desired.size(), also once the caller has taken desired
};

struct Report {
  std::vector<netlink::Route> installed;  // added
  std::vector<netlink::Route> updated;    // replaced an observed routelet route
  std::vector<netlink::Route> deleted;    // stale routelet routes removed
  std::size_t unchanged = 0;
  std::vector<FailedOp> failed;           // retried by the next pass: it plans them again
  std::vector<Conflict> conflicts;        // desired but held by a foreign route
  std::vector<Skip> skipped;              // peers without a route, and why
  std::vector<IgnoredAddress> ignored;    // peers' addresses passed over, and why
  std::vector<netlink::Route> keptStale;  // not desired, kept because the cache is unsynced
  std::optional<Error> dumpError;         // set: nothing was planned or applied
  NeighborReport neighbors;
  std::size_t direct = 0;        // desired routes via a node IP
  std::size_t encapsulated = 0;  // desired routes over VXLAN

  bool ok() const { return !dumpError && failed.empty() && neighbors.failed.empty(); }
};

class Reconciler {
 public:
  explicit Reconciler(RouteTable& table) : table_(table) {}

  // cacheSynced: the cache was filled by a complete LIST (model::NodeCache::synced()). Without
  // it only adds and repairs happen, never deletes: an agent restarted while the API
  // server is down starts with an empty cache and must not drop every route.
  Report reconcile(const model::NodeCache& cache, const SelfInfo& self, bool cacheSynced);

  // Applies a plan made without a dump (planPeerChange) and reports like reconcile(). A
  // failed operation (EEXIST from a create among them) is the caller's cue for a whole
  // pass.
  Report applyTargeted(const Plan& plan, const NeighborPlan& neighbors = {});

  // Brings the VXLAN devices' entries back to `desired` (a heal: no route changes). Entries
  // of the devices that routelet owns and does not want are removed too.
  Report healNeighbors(const std::vector<netlink::Neighbor>& desired,
                       const std::vector<int>& devices, uint8_t protocol);

 private:
  void apply(const Plan& plan, const NeighborPlan& neighbors, Report& report);
  // Every entry of the devices, or an error naming the device.
  Result<std::vector<netlink::Neighbor>> dumpNeighbors(const std::vector<int>& devices);

  RouteTable& table_;
  std::vector<netlink::Route> keptInConflict_;  // Desired::keptInConflict of the last pass
};

}  // namespace routelet::routes
