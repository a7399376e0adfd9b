#include "controller/routes/reconciler.h"

#include <algorithm>
#include <cerrno>
#include <utility>

namespace routelet::routes {

Report Reconciler::reconcile(const model::NodeCache& cache, const SelfInfo& self,
                             bool cacheSynced) {
  Report report;
  auto dumped = table_.dump(std::nullopt, self.table);
  if (!dumped) {
    report.dumpError = dumped.error().wrap("dump routes of table " + std::to_string(self.table));
    auto desired = desiredRoutes(cache, self);
    report.skipped = std::move(desired.skipped);
    report.ignored = std::move(desired.ignored);
    return report;
  }
  // Only routes carrying routelet's protocol are ours to change; the rest are only
  // looked at so that a replace never overwrites them.
  std::vector<netlink::Route> observed;
  std::vector<netlink::Route> foreign;
  for (auto& r : *dumped)
    (r.protocol == self.protocol ? observed : foreign).push_back(std::move(r));
  // What is programmed decides overlapping podCIDR claims (desiredRoutes); a route kept in
  // such a conflict counts as programmed while this agent runs, also once deleted by hand.
  std::vector<netlink::Route> programmed = observed;
  programmed.insert(programmed.end(), keptInConflict_.begin(), keptInConflict_.end());
  std::vector<int> devices;
  for (int d : {self.tunnelV4, self.tunnelV6})
    if (d) devices.push_back(d);
  auto entries = dumpNeighbors(devices);
  if (!entries) {
    report.dumpError = entries.error();
    auto desired = desiredRoutes(cache, self);
    report.skipped = std::move(desired.skipped);
    report.ignored = std::move(desired.ignored);
    return report;
  }
  Desired desired = desiredRoutes(cache, self, programmed);
  keptInConflict_ = std::move(desired.keptInConflict);
  report.skipped = std::move(desired.skipped);
  report.ignored = std::move(desired.ignored);
  report.encapsulated = static_cast<std::size_t>(
      std::count_if(desired.routes.begin(), desired.routes.end(), isEncapsulated));
  report.direct = desired.routes.size() - report.encapsulated;

  Plan plan =
      planRoutes(desired.routes, observed, foreign, PlanOptions{.deleteStale = cacheSynced});
  // Entries of a peer whose route is held by a foreign one would only be clutter, but they
  // are harmless: the device carries nothing towards them.
  NeighborPlan neighbors = planNeighbors(desired.neighbors, *entries, self.protocol, cacheSynced);
  report.conflicts = std::move(plan.conflicts);
  report.keptStale = std::move(plan.keptStale);
  report.neighbors.desired = std::move(desired.neighbors);
  report.neighbors.wanted = report.neighbors.desired.size();
  apply(plan, neighbors, report);
  return report;
}

Result<std::vector<netlink::Neighbor>> Reconciler::dumpNeighbors(const std::vector<int>& devices) {
  std::vector<netlink::Neighbor> out;
  for (int d : devices) {
    auto some = table_.neighbors(d);
    if (!some)
      return some.error().wrap("dump neighbour and fdb entries of device " + std::to_string(d));
    out.insert(out.end(), some->begin(), some->end());
  }
  return out;
}

Report Reconciler::applyTargeted(const Plan& plan, const NeighborPlan& neighbors) {
  Report report;
  apply(plan, neighbors, report);
  return report;
}

Report Reconciler::healNeighbors(const std::vector<netlink::Neighbor>& desired,
                                 const std::vector<int>& devices, uint8_t protocol) {
  Report report;
  auto entries = dumpNeighbors(devices);
  if (!entries) {
    report.dumpError = entries.error();
    return report;
  }
  apply(Plan{}, planNeighbors(desired, *entries, protocol, true), report);
  return report;
}

void Reconciler::apply(const Plan& plan, const NeighborPlan& neighbors, Report& report) {
  report.unchanged = plan.unchanged;
  report.neighbors.unchanged = neighbors.unchanged;
  if (plan.ops.empty() && neighbors.ops.empty()) return;
  auto applied =
      neighbors.ops.empty() ? table_.apply(plan.ops) : table_.apply(neighbors.ops, plan.ops);
  const std::size_t first = neighbors.ops.size();
  for (std::size_t i = 0; i < first; ++i) {
    const auto& op = neighbors.ops[i];
    std::optional<Error> error;
    if (!applied)
      error = applied.error();
    else if (i >= applied->size())
      error = makeError(netlink::describe(op.entry) + ": no acknowledgement in the batch");
    else if (!(*applied)[i].ok() && !(op.kind == netlink::NeighborOp::Kind::kDelete &&
                                      (*applied)[i].error().code == ENOENT))
      error = (*applied)[i].error();
    if (error) {
      report.neighbors.failed.push_back({op, std::move(*error)});
      continue;
    }
    ++(op.kind == netlink::NeighborOp::Kind::kDelete ? report.neighbors.deleted
                                                     : report.neighbors.installed);
  }
  for (std::size_t j = 0; j < plan.ops.size(); ++j) {
    const std::size_t i = first + j;
    const auto& op = plan.ops[j];
    std::optional<Error> error;
    if (!applied) {
      error = applied.error();
    } else if (i >= applied->size()) {
      error = makeError("route " + op.route.dst.str() + ": no acknowledgement in the batch");
    } else if (!(*applied)[i].ok()) {
      // A stale route that is already gone (deleted by hand, or its link went down) is
      // the outcome the delete wanted: the kernel answers ESRCH.
      bool gone = op.kind == netlink::RouteOp::Kind::kDelete && (*applied)[i].error().code == ESRCH;
      if (!gone) error = (*applied)[i].error();
    }
    if (error) {
      report.failed.push_back({op, std::move(*error)});
      continue;
    }
    switch (plan.changes[j].kind) {
      case Change::Kind::kAdd:
        report.installed.push_back(op.route);
        break;
      case Change::Kind::kUpdate:
        report.updated.push_back(op.route);
        break;
      case Change::Kind::kDelete:
        report.deleted.push_back(op.route);
        break;
    }
  }
}

}  // namespace routelet::routes
