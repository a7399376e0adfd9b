// The agent's own account of the node, <run dir>/status.json: written by the agent after
// passes that change it (at most once a second), read by `routelet status` (no API access
// needed on the node). Writer and reader live here together, so they cannot drift apart.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "common/ip/address.h"

namespace routelet::status {

struct PeerRecord {
  std::string node;
  ip::Family family = ip::Family::kV4;
  std::optional<ip::Prefix> podCIDR;
  std::optional<ip::Address> nodeIP;
  std::string state;  // "programmed", "failed", "conflict" or a skip reason ("not-on-link", ...)
  std::string detail;
  std::string path;  // programmed peers: "direct" or "vxlan"; "" from an agent older than --mode
};

// One of the agent's VXLAN devices as it reports it; `ready`: it made the device and routes
// peers through it.
struct VxlanDeviceRecord {
  std::string name;  // routes::vxlanDeviceName(): "routelet.vxlan", "routelet.vxlan6"
  bool ready = false;
  std::string mac;  // the VTEP MAC it gives the device and publishes; "" if not reported
};

// How the agent reaches its peers (--mode). Devices and counts are written only in the modes
// that use VXLAN ("auto", "vxlan"), not in "host-gw".
struct VxlanStatus {
  std::string mode;  // "host-gw", "auto", "vxlan"
  std::vector<VxlanDeviceRecord> devices;
  uint64_t direct = 0;        // peer routes via the peer's node IP
  uint64_t encapsulated = 0;  // peer routes through a VXLAN device
  uint64_t entries = 0;       // neighbour and forwarding entries the agent wants on its devices
};

// A node-local feature besides routes, as the agent reports it (masquerade, bridge netfilter).
struct FeatureStatus {
  bool enabled = false;
  std::string detail;  // "3 destination ranges exempt"
  std::string error;   // the agent's last attempt failed: why
  std::string table;   // masquerade: the nftables table it programs ("inet routelet")
};

// A pod of this node and the NetworkPolicies ("namespace/name") that isolate it.
struct PolicyPodRecord {
  std::string ns;
  std::string name;
  std::vector<std::string> ingress;
  std::vector<std::string> egress;
  bool operator==(const PolicyPodRecord&) const = default;
};

struct AgentStatus {
  std::string node;
  bool ready = false;
  std::string notReadyReason;
  std::string state;  // the coarse state published on the Node: "ready" or "degraded: ..."
  std::string bridge;
  uint32_t mtu = 0;
  std::vector<ip::Prefix> podCIDRs;
  std::vector<ip::Address> nodeIPs;
  std::string cniConfig;
  int routeProtocol = 0;
  // Empty: the status file does not say (written by an agent older than these settings).
  std::optional<FeatureStatus> masquerade;
  std::optional<FeatureStatus> bridgeNetfilter;
  std::optional<bool> hairpin;
  std::optional<VxlanStatus> vxlan;            // empty: an agent older than --mode
  std::optional<FeatureStatus> networkPolicy;  // empty: an agent older than NetworkPolicy
  std::vector<PolicyPodRecord> policyPods;     // every pod of this node
  std::vector<std::string> policyProblems;     // what policies selecting them could not say
  std::vector<PeerRecord> peers;
};

inline constexpr const char* kStatusFileName = "status.json";

// Pure. Compact JSON, one line, "peers" last (5000 of them are read by routelet status,
// not by eye). Peer names and details come from Node objects; the decoder makes them safe,
// and should anything slip through, a replaced byte beats a throw.
std::string writeAgentStatus(const AgentStatus& status);

// Pure. Errors name the field and the value; a status file is written by the agent, so a
// bad one means a different agent version or a damaged file.
Result<AgentStatus> parseAgentStatus(const std::string& json);

}  // namespace routelet::status
