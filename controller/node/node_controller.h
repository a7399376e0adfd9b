// Node setup: from the own Node, this node's bridge, forwarding sysctls, bridge netfilter and
// the CNI config the runtime reads; and LocalNode, what every other controller works from.
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/base/log_once.h"
#include "controller/agent/controller.h"
#include "controller/config/options.h"
#include "controller/node/node_edge.h"

namespace routelet::node {

class NodeController : public agent::Controller {
 public:
  NodeController(config::Options options, NodeEdge& edge);

  // Called (outside the loop's lock) when an address the agent uses as its node IP is
  // removed from the node: connections to the API server from it are dead, and the Node
  // watch would not notice for minutes (it only receives). Set before the monitor starts.
  void onNodeAddressGone(std::function<void()> fn) { nodeAddressGone_ = std::move(fn); }

  agent::Wake nodeChanged(const model::NodeCache& nodes, const model::Node* before,
                          const model::Node* after) override;
  agent::Wake kernelEvent(const netlink::Event& e, const model::NodeCache& nodes) override;
  void afterKernelEvents() override;
  void sync(agent::Pass& pass) override;

 private:
  void setUp(agent::Pass& pass, const model::Node& own);
  void writeConflist(const struct LocalSetup& setup, agent::Pass& pass);
  void setBridgeNetfilter(agent::Pass& pass);
  // The reason the node is not ready, unless its CNI config was written once (readiness
  // holds from then on: a failure later degrades, it does not take the node out).
  void notReady(agent::Pass& pass, const std::string& reason) const;

  config::Options options_;
  NodeEdge& edge_;
  log::LogOnce logged_;
  std::set<std::string> ownProblems_;  // the own Node's decoding problems, as last logged
  std::optional<agent::LocalNode> local_;
  bool healthy_ = false;  // the last whole pass set everything up
  bool cniConfigWritten_ = false;
  std::string nodeInterface_;             // the link holding the node IP: its changes matter
  std::vector<ip::Address> lastNodeIPs_;  // the own node IPs of the last whole pass
  std::function<void()> nodeAddressGone_;
  // The own podCIDR check's verdict, and what it was made from: it looks up the node's
  // default routes, so it is made again only when the podCIDRs, node IPs or subnets change.
  std::optional<std::string> refused_;
  std::optional<agent::LocalNode> checked_;
  std::atomic<bool> addressGone_{false};
};

}  // namespace routelet::node
