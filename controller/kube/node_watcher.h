// The agent's one watch on all Nodes: the reflector (reflector.h) over the API client's
// Node calls.
#pragma once

#include "controller/kube/api_client.h"
#include "controller/kube/reflector.h"

namespace routelet::kube {

using NodeWatcherOptions = WatcherOptions;
using NodeWatcherStats = WatcherStats;
using NodeWatcherCallbacks = Reflector<model::Node, WatchEvent>::Callbacks;

class NodeWatcher : public Reflector<model::Node, WatchEvent> {
 public:
  NodeWatcher(ApiClient& api, NodeWatcherCallbacks callbacks, NodeWatcherOptions options = {});
};

}  // namespace routelet::kube
