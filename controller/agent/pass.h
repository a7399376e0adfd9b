// What one pass of the loop hands from controller to controller: the Node cache, this
// node as node setup found it, and what each controller reports for the Node's state and
// <run dir>/status.json.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/ip/address.h"
#include "controller/model/node.h"
#include "controller/model/node_cache.h"
#include "controller/status/agent_status.h"

namespace routelet::agent {

using Clock = std::chrono::steady_clock;

// This node as the node setup controller found and made it: what the other controllers
// route, masquerade and report from. Only set once the node is set up (its own Node has a
// podCIDR that passed every check, the bridge is there).
struct LocalNode {
  std::string name;
  std::vector<ip::Prefix> podCIDRs;  // at most one per family; the families routed
  std::vector<ip::Address> nodeIPs;  // at most one per family
  std::vector<ip::Prefix> onLink;    // subnets of this node's interfaces (not the bridge's)
  uint32_t underlayMtu = 1500;       // of the interface holding the node IP
  int nodeIPIndex = 0;               // its ifindex (0: no interface holds the node IP)
  bool operator==(const LocalNode&) const = default;
};

struct Pass {
  explicit Pass(const model::NodeCache& cache) : nodes(cache) {}

  const model::NodeCache& nodes;
  Clock::time_point now = Clock::now();
  // Whole: look at everything (the resync, a reconfiguration, an input a targeted pass
  // cannot handle). Targeted: only what the inputs since the last pass named.
  bool whole = false;
  bool resync = false;  // this whole pass is the periodic resync
  // Set by node setup in every pass: the own Node as cached, and this node once set up.
  const model::Node* own = nullptr;
  std::optional<LocalNode> local;
  // The own Node is known well enough to report on (published on it, status.json), set
  // up or not (its podCIDR refused, say).
  bool reportable = false;

  // Filled in whole passes only. Short reasons for the Node's "degraded: ..." state, and
  // why the agent is not ready, in controller order.
  std::vector<std::string> degraded;
  std::vector<std::string> notReady;
  bool networkReady = false;  // the bridge and the CNI config are in place
  // status.json; `detail` says whether this pass writes it (its peers are costly at 5000
  // Nodes, so it is rebuilt at most once per interval).
  bool detail = false;
  status::AgentStatus report;

  // A targeted pass that met what only a whole pass can decide asks for one here; the
  // loop makes it at once.
  bool wantWhole = false;
};

}  // namespace routelet::agent
