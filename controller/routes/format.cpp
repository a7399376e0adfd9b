#include "controller/routes/format.h"

namespace routelet::routes {

std::string formatRoute(const netlink::Route& r) {
  std::string s = r.dst.str();
  if (r.gateway) s += " via " + r.gateway->str();
  if (r.oif != 0) s += " dev " + std::to_string(r.oif);
  s += " proto " + std::to_string(r.protocol);
  if (r.table != 254) s += " table " + std::to_string(r.table);
  if (r.priority != 0) s += " metric " + std::to_string(r.priority);
  if (r.scope != 0) s += " scope " + std::to_string(r.scope);
  if (r.type != 1) s += " type " + std::to_string(r.type);
  if (r.onlink) s += " onlink";
  return s;
}

std::string formatSkip(const Skip& skip) {
  std::string s = skip.node;
  if (skip.family) s += std::string(" IPv") + ip::familyName(*skip.family);
  return s + " " + skipReasonName(skip.reason) + ": " + skip.detail;
}

std::string formatPlan(const Plan& plan) {
  std::string s;
  for (std::size_t i = 0; i < plan.ops.size(); ++i) {
    const auto& change = plan.changes[i];
    switch (change.kind) {
      case Change::Kind::kAdd:
        s += "add " + formatRoute(plan.ops[i].route);
        break;
      case Change::Kind::kUpdate:
        s += "update " + formatRoute(plan.ops[i].route) + " (was " + formatRoute(*change.before) +
             ")";
        break;
      case Change::Kind::kDelete:
        s += "delete " + formatRoute(plan.ops[i].route);
        break;
    }
    s += '\n';
  }
  for (const auto& c : plan.conflicts)
    s += "conflict " + formatRoute(c.desired) + " (held by " + formatRoute(c.foreign) + ")\n";
  for (const auto& r : plan.keptStale) s += "keep-stale " + formatRoute(r) + '\n';
  s += "summary: " + std::to_string(plan.adds) + " add, " + std::to_string(plan.updates) +
       " update, " + std::to_string(plan.deletes) + " delete, " + std::to_string(plan.unchanged) +
       " unchanged, " + std::to_string(plan.conflicts.size()) + " conflict, " +
       std::to_string(plan.keptStale.size()) + " kept-stale\n";
  return s;
}

std::string formatNeighborPlan(const NeighborPlan& plan) {
  std::string s;
  for (const auto& op : plan.ops)
    s += (op.kind == netlink::NeighborOp::Kind::kDelete ? "delete " : "replace ") +
         netlink::describe(op.entry) + '\n';
  s += "summary: " + std::to_string(plan.adds) + " add, " + std::to_string(plan.updates) +
       " update, " + std::to_string(plan.deletes) + " delete, " + std::to_string(plan.unchanged) +
       " unchanged\n";
  return s;
}

}  // namespace routelet::routes
