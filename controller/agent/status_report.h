// The agent's account of this node, peer by peer, written to <run dir>/status.json after
// every pass that changes it. `routelet status` reads it (no API access needed on the node).
#pragma once

#include <string>

#include "controller/model/node_cache.h"
#include "controller/routes/desired.h"
#include "controller/routes/reconciler.h"
#include "controller/status/node_status.h"

namespace routelet::agent {

using status::PublishedState;

inline constexpr const char* kStatusFileName = "status.json";

// How a node-local feature besides routes stands (masquerade, bridge netfilter).
struct FeatureState {
  bool enabled = false;
  std::string error;  // the last attempt failed: why
  std::string detail;
};

struct StatusInputs {
  const model::NodeCache& cache;
  const routes::SelfInfo& self;
  const routes::Report& report;
  const PublishedState& published;
  bool ready = false;
  std::string notReadyReason;
  std::string cniConfigPath;
  FeatureState masquerade;
  FeatureState bridgeNetfilter;
  bool hairpin = true;
};

// Pure. Peers sorted by name, one entry per routed family, each with a state:
// "programmed", "failed", "conflict" (a foreign route holds the destination) or the skip
// reason ("not-on-link", "no-podcidr", ...), and a detail naming what is wrong.
std::string statusJson(const StatusInputs& in);

}  // namespace routelet::agent
