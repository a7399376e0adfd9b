#include "controller/admin/cleanup_plan.h"

#include <algorithm>

#include "common/bridge/bridge.h"
#include "controller/admin/system.h"
#include "controller/routes/vxlan.h"

namespace routelet::admin {
namespace {

using Kind = CleanupAction::Kind;

CleanupAction fileAction(Kind kind, const std::string& what, const std::string& path) {
  return CleanupAction{kind, what + " " + path, path, {}, {}};
}

// The store's own names under dataDir/<network>/ (cni/ipam/disk_store.cpp): lock, the cursors
// last-reserved.*, and the directories leases/ and attachments/, whose files (including a
// writer's leftover temp files) are all the store's.
bool isStoreFile(const DirTree& e) {
  return !e.directory && (e.name == "lock" || e.name.rfind("last-reserved.", 0) == 0);
}
bool isStoreDir(const DirTree& e) {
  return e.directory && (e.name == "leases" || e.name == "attachments");
}
bool looksLikeStore(const DirTree& network) {
  for (const auto& e : network.children)
    if (isStoreDir(e) || (e.name == "lock" && !e.directory)) return true;
  return false;
}

// Appends the removals of one store; returns true when the whole directory goes.
bool planStore(const std::string& dir, const DirTree& network, CleanupPlan& plan) {
  bool whole = true;
  for (const auto& e : network.children) {
    std::string path = dir + "/" + e.name;
    if (isStoreFile(e)) {
      plan.actions.push_back(fileAction(Kind::kRemoveFile, "remove IPAM file", path));
    } else if (isStoreDir(e)) {
      bool empty = true;
      for (const auto& f : e.children) {
        if (f.directory) {
          plan.kept.push_back(path + "/" + f.name +
                              ": a directory, not part of routelet's IPAM store");
          empty = false;
          continue;
        }
        plan.actions.push_back(
            fileAction(Kind::kRemoveFile, "remove IPAM file", path + "/" + f.name));
      }
      if (empty)
        plan.actions.push_back(fileAction(Kind::kRemoveDir, "remove IPAM directory", path));
      whole = whole && empty;
    } else {
      plan.kept.push_back(path + ": not part of routelet's IPAM store");
      whole = false;
    }
  }
  if (whole) plan.actions.push_back(fileAction(Kind::kRemoveDir, "remove IPAM directory", dir));
  return whole;
}

// routelet.vxlan and routelet.vxlan6: the agent deletes and remakes them by name (routelet's
// prefix), so the name is what makes one routelet's, as long as it is a VXLAN device. The
// kernel deletes every route through a device with it (fib_sync_down_dev on unregister), so
// those routes are not planned one by one. Returns the indexes of the devices that go.
std::vector<int> planVxlanDevices(const CleanupFacts& facts, CleanupPlan& plan) {
  std::vector<int> going;
  for (const auto& l : facts.links) {
    if (!isVxlanDeviceName(l.name)) continue;
    if (l.kind != "vxlan") {
      plan.kept.push_back("link " + l.name + ": a " + (l.kind.empty() ? "device" : l.kind) +
                          ", not a VXLAN device; not routelet's");
      continue;
    }
    // Counted: routelet's own (the kernel's fe80::/64 of the device goes too, unnamed).
    size_t routes = 0;
    for (const auto& r : facts.routes)
      routes += r.oif == l.index && r.protocol == facts.routeProtocol ? 1 : 0;
    std::string what = "delete VXLAN device " + l.name;
    if (l.vxlan)
      what +=
          " (vni " + std::to_string(l.vxlan->vni) + ", port " + std::to_string(l.vxlan->port) + ")";
    if (routes > 0)
      what += " and its " + std::to_string(routes) + " route" + (routes == 1 ? "" : "s") +
              " with proto " + std::to_string(facts.routeProtocol);
    plan.actions.push_back({Kind::kDeleteLink, what, "", l, {}});
    going.push_back(l.index);
  }
  return going;
}

}  // namespace

bool isVxlanDeviceName(const std::string& name) {
  return name == routes::vxlanDeviceName(ip::Family::kV4) ||
         name == routes::vxlanDeviceName(ip::Family::kV6);
}

CleanupPlan planCleanup(const CleanupFacts& facts) {
  CleanupPlan plan;
  if (facts.cniConfigPresent) {
    plan.actions.push_back(fileAction(Kind::kRemoveFile, "remove CNI config", facts.cniConfigPath));
  }
  // Host ends of pod veths: routelet-cni names them "rl" + 10 hex digits (cni/plugin/naming.h);
  // deleting one end of a veth pair deletes the pod's end too.
  for (const auto& l : facts.links) {
    if (l.kind == "veth" && bridge::isPodPortName(l.name)) {
      plan.actions.push_back({Kind::kDeleteLink, "delete pod veth " + l.name, "", l, {}});
    }
  }
  for (const auto& l : facts.links) {
    if (l.name != facts.bridgeName) continue;
    if (l.kind != "bridge") {
      plan.kept.push_back("link " + l.name + ": a " + (l.kind.empty() ? "device" : l.kind) +
                          ", not a bridge; not routelet's");
    } else if (l.mac != facts.bridgeMac) {
      plan.kept.push_back("bridge " + l.name + ": MAC " + netlink::macString(l.mac) +
                          " is not routelet's " + netlink::macString(facts.bridgeMac) +
                          ", so another tool made it");
    } else {
      plan.actions.push_back({Kind::kDeleteLink, "delete bridge " + l.name, "", l, {}});
    }
  }
  std::vector<int> vxlanDevices = planVxlanDevices(facts, plan);
  // Only routes carrying routelet's protocol: never another tool's, whatever they point at.
  for (const auto& r : facts.routes) {
    if (r.protocol != facts.routeProtocol) continue;
    if (std::find(vxlanDevices.begin(), vxlanDevices.end(), r.oif) != vxlanDevices.end()) continue;
    plan.actions.push_back({Kind::kDeleteRoute, "delete route " + netlink::describe(r), "", {}, r});
  }
  // Only routelet's own tables, by name: other tables (kube-proxy's, a firewall's) stay.
  for (const auto& table : facts.tables)
    plan.actions.push_back({Kind::kDeleteTable, "delete nftables table " + table, table, {}, {}});
  if (facts.ipamDataDirPresent) {
    bool all = true;
    for (const auto& network : facts.ipamData) {
      std::string dir = facts.ipamDataDir + "/" + network.name;
      if (!network.directory || !looksLikeStore(network)) {
        plan.kept.push_back(dir + ": not a routelet IPAM store");
        all = false;
        continue;
      }
      all = planStore(dir, network, plan) && all;
    }
    if (all) {
      plan.actions.push_back(
          fileAction(Kind::kRemoveDir, "remove IPAM directory", facts.ipamDataDir));
    }
  }
  if (facts.statusPresent) {
    plan.actions.push_back(fileAction(Kind::kRemoveFile, "remove status file", facts.statusPath));
  }
  // The agent may have set these to 1 (bridgeNetfilter), but kube-proxy and other software
  // need them as much, and nothing tells whose setting it is.
  for (const auto& [key, value] :
       {std::pair{kBridgeNfCallIptables, facts.bridgeNfCallIptables},
        std::pair{kBridgeNfCallIp6tables, facts.bridgeNfCallIp6tables}}) {
    if (value == "1")
      plan.kept.push_back(std::string(key) + " = 1: not reverted, kube-proxy and others need it");
  }
  return plan;
}

std::string renderCleanupLine(const CleanupAction& action, bool dryRun) {
  return (dryRun ? "would " : "") + action.description;
}

}  // namespace routelet::admin
