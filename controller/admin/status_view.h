// `routelet status`: the agent's account (status.json) checked against the kernel, as a
// pure function of what was read, and rendered for a terminal or for scripts.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/netlink/netlink.h"
#include "controller/admin/system.h"
#include "controller/status/agent_status.h"

namespace routelet::admin {

// Everything `status` reads from the node, gathered by the thin edge in commands.cpp.
struct StatusFacts {
  std::string statusPath;
  std::optional<status::AgentStatus> agent;  // empty: see agentError
  std::string agentError;
  uint8_t routeProtocol = 201;
  std::vector<netlink::Route> routes;  // the main table, every protocol
  std::string routesError;
  std::string bridgeName;
  std::optional<netlink::Link> bridge;  // empty: no link of that name
  // The links named as routelet's VXLAN devices (routes::vxlanDeviceName), whatever kind.
  std::vector<netlink::Link> vxlanLinks;
  std::string cniConfigPath;
  bool cniConfigPresent = false;
  std::vector<std::string> cniConfDirFiles;  // names in the conf dir (any order)
  bool masqueradeTablePresent = false;       // masqueradeTableName() in the kernel
  bool policyTablePresent = false;           // policy::policyTableName() in the kernel
  std::string nftablesError;                 // the tables could not be read: why
  // kBridgeNfCallIptables and kBridgeNfCallIp6tables as read ("1", "0"); "" when absent.
  std::string bridgeNfCallIptables;
  std::string bridgeNfCallIp6tables;
  std::string listen;
  HttpAnswer healthz;
  HttpAnswer readyz;
};

struct PeerView {
  std::string node;
  std::string family;  // "4" or "6"
  std::string nodeIP;  // "" when the peer has none of the family
  std::string podCIDR;
  std::string state;  // machine name: programmed, missing, conflict, stale, not-on-link, ...
  std::string detail;
  bool ok = false;
  std::string path;  // "direct", "vxlan"; "" when not reported (not programmed, older agent)
};

// One VXLAN device: what the agent reports, and what the kernel holds under that name.
struct VxlanDeviceView {
  std::string name;
  bool expected = false;  // the agent's mode uses it; false: present in the kernel only
  bool ready = false;     // the agent's
  std::string mac;        // the agent's VTEP MAC ("" if not reported)
  bool present = false;   // a link of that name exists
  std::string kind;       // its kind: "vxlan", or something else in the way
  bool up = false;
  uint32_t mtu = 0;
  std::optional<netlink::VxlanInfo> info;  // kind "vxlan" only
};

struct VxlanView {
  bool reported = false;  // false: no status file, or an agent older than --mode
  std::string mode;
  uint64_t direct = 0;
  uint64_t encapsulated = 0;
  uint64_t entries = 0;
  std::vector<VxlanDeviceView> devices;  // the expected ones first
};

// A feature with an nftables table of its own (masquerade, NetworkPolicy) as the agent
// reports it, checked against the kernel's nftables tables.
struct TableFeatureView {
  bool reported = false;  // false: no status file, or an agent older than the setting
  bool enabled = false;
  std::string detail;  // the agent's: "3 destination ranges exempt"
  std::string error;   // the agent's: why it could not program the table
  std::string table;   // masqueradeTableName(), policy::policyTableName()
  bool tablePresent = false;
  std::string nftablesError;
};

struct BridgeNetfilterView {
  bool reported = false;
  bool enabled = false;
  std::string error;     // the agent's: why it could not set the sysctls
  std::string iptables;  // the sysctls as read: "1", "0", "" (not available)
  std::string ip6tables;
};

struct StatusView {
  std::string node;
  bool ready = false;
  std::string agentState;
  std::string notReadyReason;
  std::string statusPath;
  std::vector<std::string> podCIDRs;
  std::vector<std::string> nodeIPs;
  int routeProtocol = 0;
  std::string listen;
  HttpAnswer healthz;
  HttpAnswer readyz;
  std::string bridgeName;
  bool bridgePresent = false;
  bool bridgeUp = false;
  uint32_t bridgeMtu = 0;
  std::string cniConfigPath;
  bool cniConfigPresent = false;
  std::string cniConfigFirst;  // the file a runtime loads from the conf dir ("" if none)
  TableFeatureView masquerade;
  TableFeatureView networkPolicy;
  // This node's pods and the policies isolating each, as the agent last described them.
  std::vector<status::PolicyPodRecord> policyPods;
  std::vector<std::string> policyProblems;
  BridgeNetfilterView bridgeNetfilter;
  std::optional<bool> hairpin;  // empty: not reported
  VxlanView vxlan;
  std::vector<PeerView> peers;
  std::vector<std::string> extraRoutes;  // routes of routelet's protocol no peer accounts for
  std::vector<std::string> problems;     // empty: healthy
};

// The conf-dir file a runtime uses: containerd and CRI-O load the first of *.conf,
// *.conflist and *.json in lexical order. "" when there is none.
std::string firstCniConfig(std::vector<std::string> names);

StatusView assessStatus(const StatusFacts& facts);
// A human route state: "not on-link", "foreign route in the way", ...
std::string describeState(const std::string& state);
std::string renderStatusText(const StatusView& view);
std::string renderStatusJson(const StatusView& view);

}  // namespace routelet::admin
