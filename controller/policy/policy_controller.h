// NetworkPolicy: this node's pods isolated and allowed as the cluster's NetworkPolicies
// say, in nftables table `inet routelet_policy` (ruleset.h). The Pod, Namespace and
// NetworkPolicy watches feed it through the loop (Agent::post); each change is computed
// whole (desired.h) and written as the difference from what the kernel holds: a few set
// and map elements for a pod or a label, a chain for a policy. Like the masquerade table,
// the table is rewritten at once when another process changes it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/base/log_once.h"
#include "common/nft/table_edge.h"
#include "controller/agent/controller.h"
#include "controller/agent/metrics.h"
#include "controller/agent/table_guard.h"
#include "controller/config/options.h"
#include "controller/kube/api_client.h"
#include "controller/policy/cluster.h"
#include "controller/policy/desired.h"

namespace routelet::policy {

class PolicyController : public agent::Controller {
 public:
  PolicyController(const config::Options& options, nft::TableEdge& edge, agent::Metrics& metrics);

  // The nf_tables monitor could not start: each resync rewrites the table whole.
  void monitorUnavailable() { monitorDown_ = true; }

  // From the watches, under the loop's lock (Agent::post).
  // A LIST of Pods arrives one at a time (podsListStart, podListed each, podsListed).
  void podsListStart() { cluster_.beginPods(); }
  void podListed(const model::PodObject& pod) { cluster_.stagePod(pod); }
  agent::Wake podsListed();
  agent::Wake podChanged(kube::WatchEventType type, const model::PodObject& pod);
  agent::Wake namespacesListed(std::vector<model::NamespaceObject>&& namespaces);
  agent::Wake namespaceChanged(kube::WatchEventType type, const model::NamespaceObject& ns);
  agent::Wake policiesListed(std::vector<model::NetworkPolicyObject>&& policies);
  agent::Wake policyChanged(kube::WatchEventType type, const model::NetworkPolicyObject& policy);

  agent::Wake kernelEvent(const netlink::Event& e, const model::NodeCache& nodes) override;
  void kernelEventsLost() override;
  void sync(agent::Pass& pass) override;

  const Cluster& cluster() const { return cluster_; }

 private:
  agent::Wake changed(bool yes);
  agent::Wake listed();
  void apply(bool force);
  void report(agent::Pass& pass);

  bool enabled_;
  nft::TableEdge& edge_;
  agent::Metrics& metrics_;
  log::LogOnce logged_;
  Cluster cluster_;
  agent::TableGuard guard_;
  bool dirty_ = false;  // the cluster changed since the last write
  bool heal_ = false;   // another process changed the table, or events were lost
  bool monitorDown_ = false;
  bool removed_ = false;  // off: the table was removed (or there was none)
  // What the kernel holds, as last written; nullopt: unknown (the next write is whole).
  std::optional<Desired> applied_;
  std::string error_;
};

}  // namespace routelet::policy
