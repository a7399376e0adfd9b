#include "controller/kube/node_watcher.h"

namespace routelet::kube {

NodeWatcher::NodeWatcher(ApiClient& api, NodeWatcherCallbacks callbacks, NodeWatcherOptions options)
    : Reflector(
          {"nodes",
           [&api](const NodeCallback& onNode, std::string* rv, Cancellation* cancel) {
             return api.listNodes(onNode, rv, cancel);
           },
           [&api](const std::string& rv, int timeout, const WatchCallback& onEvent,
                  Cancellation* cancel) { return api.watchNodes(rv, timeout, onEvent, cancel); }},
          std::move(callbacks), std::move(options)) {}

}  // namespace routelet::kube
