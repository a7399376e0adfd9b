// `routelet cleanup`: what routelet made on this node, as a plan computed purely from what
// was read, so --dry-run and the real run print the same list and unit tests need no root.
#pragma once

#include <string>
#include <vector>

#include "common/netlink/netlink.h"

namespace routelet::admin {

// A directory listing, a few levels deep (the IPAM store is dataDir/<network>/leases/<ip>).
struct DirTree {
  std::string name;
  bool directory = false;
  std::vector<DirTree> children;
};

struct CleanupFacts {
  uint8_t routeProtocol = 201;
  std::vector<netlink::Route> routes;  // the main table, every protocol
  std::vector<netlink::Link> links;
  std::string bridgeName;
  netlink::Mac bridgeMac{};  // the MAC routelet gives that bridge (bridge::bridgeMacFor)
  std::string cniConfigPath;
  bool cniConfigPresent = false;
  std::string ipamDataDir;
  bool ipamDataDirPresent = false;
  std::vector<DirTree> ipamData;  // children of ipamDataDir
  std::string statusPath;
  bool statusPresent = false;
  std::vector<std::string> tables;  // routeletTables() in the kernel
  // kBridgeNfCallIptables and kBridgeNfCallIp6tables as read ("1", "0"); "" when absent.
  std::string bridgeNfCallIptables;
  std::string bridgeNfCallIp6tables;
};

struct CleanupAction {
  enum class Kind { kRemoveFile, kRemoveDir, kDeleteLink, kDeleteRoute, kDeleteTable } kind;
  std::string description;  // "delete route 10.244.2.0/24 via 192.168.1.12 dev 2 proto 201"
  std::string path;         // files and directories; the table ("inet routelet")
  netlink::Link link;       // links
  netlink::Route route;     // routes
};

struct CleanupPlan {
  std::vector<CleanupAction> actions;  // in the order they must run
  std::vector<std::string> kept;       // what looks related but is not routelet's, and why
};

// Whether a link name is one of routelet's VXLAN devices (routes::vxlanDeviceName).
bool isVxlanDeviceName(const std::string& name);

// Order: the CNI config first (the runtime stops choosing routelet for new pods), then pod
// veths, the bridge, the VXLAN devices (the routes through them, their neighbour and
// forwarding entries and their VTEP address go with them), the other routes, routelet's nftables
// tables, the IPAM store (files before their directories) and last the status file, so an
// interrupted cleanup can simply be run again.
CleanupPlan planCleanup(const CleanupFacts& facts);
std::string renderCleanupLine(const CleanupAction& action, bool dryRun);

}  // namespace routelet::admin
