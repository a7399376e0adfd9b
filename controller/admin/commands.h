// `routelet status` and `routelet cleanup`: the admin's commands on a node. They read the
// same Options as the agent (flags, environment, config file), so in the DaemonSet's pod
// `routelet status` needs no flags at all.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "controller/admin/system.h"
#include "controller/config/options.h"

namespace routelet::admin {

// Exit codes: 0 healthy / cleaned up, 1 degraded / something could not be removed,
// 2 bad arguments.
inline constexpr int kExitOk = 0;
inline constexpr int kExitProblem = 1;
inline constexpr int kExitUsage = 2;

// args: what the agent's option parser left over ("-o json", "--dry-run", ...).
int runStatus(const config::Options& options, const std::vector<std::string>& args,
              std::ostream& out, std::ostream& err);
int runCleanup(const config::Options& options, const std::vector<std::string>& args,
               std::ostream& out, std::ostream& err);

// The same against any System (the unit tests pass a fake).
int runStatusOn(System& system, const config::Options& options,
                const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int runCleanupOn(System& system, const config::Options& options,
                 const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace routelet::admin
