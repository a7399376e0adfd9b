// Text for logs, `routelet status` and golden tests: one line per route, change or skip.
#pragma once

#include <string>
#include <vector>

#include "common/netlink/netlink.h"
#include "controller/routes/desired.h"
#include "controller/routes/plan.h"
#include "controller/routes/vxlan.h"

namespace routelet::routes {

// "10.244.2.0/24 via 192.168.1.12 proto 201", then only the attributes that differ from
// a plain main-table unicast route: dev, table, metric, scope, type, onlink.
std::string formatRoute(const netlink::Route& route);
// "node-3 IPv4 not-on-link: node IP ... is not inside ..." (no family for kDeleting).
std::string formatSkip(const Skip& skip);
// One line per op ("add", "update ... (was ...)", "delete"), conflict and kept stale
// route, then a summary line. Every line ends with '\n'.
std::string formatPlan(const Plan& plan);
// One line per neighbour or fdb operation ("replace ...", "delete ..."), then a summary.
std::string formatNeighborPlan(const NeighborPlan& plan);

}  // namespace routelet::routes
