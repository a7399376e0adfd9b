#include "controller/reconcile/reconciler.h"

#include <cerrno>
#include <utility>

namespace routelet::reconcile {

Report Reconciler::reconcile(const NodeCache& cache, const SelfInfo& self, bool cacheSynced) {
  Report report;
  auto dumped = table_.dump(std::nullopt, self.table);
  if (!dumped) {
    report.dumpError = dumped.error().wrap("dump routes of table " + std::to_string(self.table));
    report.skipped = desiredRoutes(cache, self).skipped;
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
  Desired desired = desiredRoutes(cache, self, programmed);
  keptInConflict_ = std::move(desired.keptInConflict);
  report.skipped = std::move(desired.skipped);

  Plan plan =
      planRoutes(desired.routes, observed, foreign, PlanOptions{.deleteStale = cacheSynced});
  report.conflicts = std::move(plan.conflicts);
  report.keptStale = std::move(plan.keptStale);
  apply(plan, report);
  return report;
}

Report Reconciler::applyTargeted(const Plan& plan) {
  Report report;
  apply(plan, report);
  return report;
}

void Reconciler::apply(const Plan& plan, Report& report) {
  report.unchanged = plan.unchanged;
  if (plan.ops.empty()) return;
  auto applied = table_.apply(plan.ops);
  for (std::size_t i = 0; i < plan.ops.size(); ++i) {
    const auto& op = plan.ops[i];
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
    switch (plan.changes[i].kind) {
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

}  // namespace routelet::reconcile
