#include "controller/admin/commands.h"

#include <algorithm>
#include <cerrno>

#include "common/bridge/bridge.h"
#include "common/sysctl/sysctl.h"
#include "controller/admin/cleanup_plan.h"
#include "controller/admin/kernel_system.h"
#include "controller/admin/status_view.h"
#include "controller/status/agent_status.h"

namespace routelet::admin {
namespace {

std::string dirOf(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string statusPathOf(const config::Options& o) {
  return o.runDir + "/" + status::kStatusFileName;
}

// -o json | -ojson | -o=json | --output json | --output=json
Result<bool> parseStatusArgs(const std::vector<std::string>& args) {
  bool json = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    std::string value;
    if (a == "-o" || a == "--output") {
      if (i + 1 >= args.size()) return makeError("status: " + a + " needs a value: text or json");
      value = args[++i];
    } else if (a.rfind("--output=", 0) == 0) {
      value = a.substr(9);
    } else if (a.rfind("-o", 0) == 0 && a.size() > 2) {
      value = a.substr(a[2] == '=' ? 3 : 2);
    } else {
      return makeError("status: unknown argument \"" + a + "\" (want -o text or -o json)");
    }
    if (value == "json") {
      json = true;
    } else if (value == "text" || value == "wide") {
      json = false;
    } else {
      return makeError("status: output \"" + value + "\": want text or json");
    }
  }
  return json;
}

struct CleanupArgs {
  bool dryRun = false;
  bool force = false;
};

Result<CleanupArgs> parseCleanupArgs(const std::vector<std::string>& args) {
  CleanupArgs c;
  for (const auto& a : args) {
    if (a == "--dry-run") {
      c.dryRun = true;
    } else if (a == "--force") {
      c.force = true;
    } else {
      return makeError("cleanup: unknown argument \"" + a + "\" (want --dry-run or --force)");
    }
  }
  return c;
}

// A sysctl's value without its newline; "" when the file does not exist or cannot be read
// (the bridge sysctls exist only where br_netfilter is loaded).
std::string sysctlValue(System& system, const char* key) {
  auto text = system.readFile(sysctl::pathOf(key));
  return text ? sysctl::valueOf(std::move(*text)) : "";
}

// Which of routelet's tables exist, or why the tables could not be read.
Result<std::vector<std::string>> routeletTablesPresent(System& system) {
  auto tables = system.nftablesTables();
  if (!tables) return tables.error();
  std::vector<std::string> present;
  for (const auto& t : routeletTables())
    if (std::find(tables->begin(), tables->end(), t) != tables->end()) present.push_back(t);
  return present;
}

// dataDir/<network>/{lock,leases/<ip>,attachments/<id>}: three levels are the whole store.
std::vector<DirTree> listTree(System& system, const std::string& path, int depth) {
  std::vector<DirTree> out;
  auto entries = system.listDir(path);
  if (!entries) return out;
  for (const auto& e : *entries) {
    DirTree t{e.name, e.directory, {}};
    if (e.directory && depth > 1) t.children = listTree(system, path + "/" + e.name, depth - 1);
    out.push_back(std::move(t));
  }
  return out;
}

bool alreadyGone(const CleanupAction& a, const Error& e) {
  switch (a.kind) {
    case CleanupAction::Kind::kRemoveFile:
    case CleanupAction::Kind::kRemoveDir:
      return e.code == ENOENT;
    case CleanupAction::Kind::kDeleteLink:
      return e.code == ENODEV;
    case CleanupAction::Kind::kDeleteRoute:
      // The kernel drops a route by itself when its device goes (a pod veth, the bridge).
      return e.code == ESRCH || e.code == ENOENT;
    case CleanupAction::Kind::kDeleteTable:
      return false;  // deleting a table that is gone succeeds
  }
  return false;
}

Status apply(System& system, const CleanupAction& a) {
  switch (a.kind) {
    case CleanupAction::Kind::kRemoveFile:
      return system.remove(a.path, false);
    case CleanupAction::Kind::kRemoveDir:
      return system.remove(a.path, true);
    case CleanupAction::Kind::kDeleteLink:
      return system.deleteLink(a.link);
    case CleanupAction::Kind::kDeleteRoute:
      return system.deleteRoute(a.route);
    case CleanupAction::Kind::kDeleteTable:
      return system.deleteTable(a.path);
  }
  return okStatus();
}

}  // namespace

int runStatusOn(System& system, const config::Options& options,
                const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  auto json = parseStatusArgs(args);
  if (!json) {
    err << "routelet " << json.error().message << "\n";
    return kExitUsage;
  }
  StatusFacts facts;
  facts.statusPath = statusPathOf(options);
  facts.routeProtocol = options.routeProtocol;
  facts.listen = options.listen;
  if (auto text = system.readFile(facts.statusPath); !text) {
    facts.agentError = text.error().code == ENOENT
                           ? "missing: the agent writes it after its first pass (is it running?)"
                           : text.error().message;
  } else if (auto parsed = status::parseAgentStatus(*text); !parsed) {
    facts.agentError = parsed.error().message;
  } else {
    facts.agent = std::move(*parsed);
  }
  facts.bridgeName =
      facts.agent && !facts.agent->bridge.empty() ? facts.agent->bridge : options.bridge;
  facts.cniConfigPath = facts.agent && !facts.agent->cniConfig.empty()
                            ? facts.agent->cniConfig
                            : options.cniConfDir + "/" + options.cniConfName;
  facts.cniConfigPresent = system.exists(facts.cniConfigPath);
  if (auto names = system.listDir(dirOf(facts.cniConfigPath))) {
    for (const auto& e : *names)
      if (!e.directory) facts.cniConfDirFiles.push_back(e.name);
  }
  if (auto routes = system.routes()) {
    facts.routes = std::move(*routes);
  } else {
    facts.routesError = routes.error().message;
  }
  if (auto links = system.links()) {
    for (const auto& l : *links) {
      if (l.name == facts.bridgeName) facts.bridge = l;
      if (isVxlanDeviceName(l.name)) facts.vxlanLinks.push_back(l);
    }
  }
  if (auto present = routeletTablesPresent(system)) {
    auto has = [&](const std::string& t) {
      return std::find(present->begin(), present->end(), t) != present->end();
    };
    facts.masqueradeTablePresent = has(masqueradeTableName());
    facts.policyTablePresent = has(policy::policyTableName());
  } else {
    facts.nftablesError = present.error().message;
  }
  facts.bridgeNfCallIptables = sysctlValue(system, kBridgeNfCallIptables);
  facts.bridgeNfCallIp6tables = sysctlValue(system, kBridgeNfCallIp6tables);
  facts.healthz = system.httpGet(options.listen, "/healthz");
  facts.readyz = system.httpGet(options.listen, "/readyz");

  StatusView view = assessStatus(facts);
  out << (*json ? renderStatusJson(view) : renderStatusText(view));
  return view.problems.empty() ? kExitOk : kExitProblem;
}

int runCleanupOn(System& system, const config::Options& options,
                 const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  auto how = parseCleanupArgs(args);
  if (!how) {
    err << "routelet " << how.error().message << "\n";
    return kExitUsage;
  }
  // A running agent would make the bridge, the config and every route again within
  // milliseconds (it watches the kernel), so cleaning up under it only causes churn.
  auto health = system.httpGet(options.listen, "/healthz");
  if (health.status != 0) {
    std::string msg = "the agent is running (it answers on " + options.listen +
                      ") and would make everything again; remove the DaemonSet first "
                      "(kubectl -n kube-system delete daemonset routelet)";
    if (!how->dryRun && !how->force) {
      err << "routelet cleanup: " << msg << ", or pass --force\n";
      return kExitProblem;
    }
    err << "routelet cleanup: warning: " << msg << "\n";
  }

  CleanupFacts facts;
  facts.routeProtocol = options.routeProtocol;
  auto routes = system.routes();
  if (!routes) {
    err << "routelet cleanup: cannot read routes: " << routes.error().message << "\n";
    return kExitProblem;
  }
  facts.routes = std::move(*routes);
  auto links = system.links();
  if (!links) {
    err << "routelet cleanup: cannot read links: " << links.error().message << "\n";
    return kExitProblem;
  }
  facts.links = std::move(*links);
  facts.bridgeName = options.bridge;
  facts.bridgeMac = bridge::bridgeMacFor(options.bridge);
  facts.cniConfigPath = options.cniConfDir + "/" + options.cniConfName;
  facts.cniConfigPresent = system.exists(facts.cniConfigPath);
  facts.ipamDataDir = options.ipamDataDir;
  facts.ipamDataDirPresent = system.exists(options.ipamDataDir);
  if (facts.ipamDataDirPresent) facts.ipamData = listTree(system, options.ipamDataDir, 3);
  facts.statusPath = statusPathOf(options);
  facts.statusPresent = system.exists(facts.statusPath);
  // Unreadable tables (no CAP_NET_ADMIN, a kernel without nf_tables) leave the table out of
  // the plan; everything else is still cleaned up, and the exit code says it is not done.
  bool tablesRead = true;
  if (auto present = routeletTablesPresent(system)) {
    facts.tables = std::move(*present);
  } else {
    err << "routelet cleanup: cannot read nftables tables, so routelet's tables stay if they "
           "exist: "
        << present.error().message << "\n";
    tablesRead = false;
  }
  facts.bridgeNfCallIptables = sysctlValue(system, kBridgeNfCallIptables);
  facts.bridgeNfCallIp6tables = sysctlValue(system, kBridgeNfCallIp6tables);

  CleanupPlan plan = planCleanup(facts);
  int failures = 0;
  for (const auto& action : plan.actions) {
    if (how->dryRun) {
      out << renderCleanupLine(action, true) << "\n";
      continue;
    }
    if (auto st = apply(system, action); !st) {
      if (alreadyGone(action, st.error())) {
        out << action.description << " (already gone)\n";
      } else {
        err << "routelet cleanup: " << action.description << ": " << st.error().message << "\n";
        ++failures;
      }
      continue;
    }
    out << renderCleanupLine(action, false) << "\n";
  }
  for (const auto& k : plan.kept) out << "left in place: " << k << "\n";
  if (plan.actions.empty()) out << "nothing to clean up\n";
  if (failures > 0) {
    err << "routelet cleanup: " << failures << " of " << plan.actions.size()
        << " steps failed; fix the cause and run it again (it is safe to repeat)\n";
    return kExitProblem;
  }
  return tablesRead ? kExitOk : kExitProblem;
}

int runStatus(const config::Options& options, const std::vector<std::string>& args,
              std::ostream& out, std::ostream& err) {
  auto system = KernelSystem::open();
  if (!system) {
    err << "routelet status: " << system.error().message << "\n";
    return kExitProblem;
  }
  return runStatusOn(**system, options, args, out, err);
}

int runCleanup(const config::Options& options, const std::vector<std::string>& args,
               std::ostream& out, std::ostream& err) {
  auto system = KernelSystem::open();
  if (!system) {
    err << "routelet cleanup: " << system.error().message << "\n";
    return kExitProblem;
  }
  return runCleanupOn(**system, options, args, out, err);
}

}  // namespace routelet::admin
