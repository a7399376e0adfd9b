#include "controller/policy/policy_controller.h"

#include <linux/netfilter.h>

#include <chrono>

#include "common/base/log.h"
#include "controller/policy/ruleset.h"

namespace routelet::policy {
namespace {

size_t elementCount(const Desired& d) {
  size_t n = d.ingress.size() + d.egress.size();
  for (const auto& [name, keys] : d.addressSets) n += keys.size();
  for (const auto& [name, keys] : d.portSets) n += keys.size();
  return n;
}

size_t isolatedPods(const Desired& d) {
  size_t n = 0;
  for (const auto& p : d.pods) n += !p.ingress.empty() || !p.egress.empty();
  return n;
}

}  // namespace

PolicyController::PolicyController(const config::Options& options, nft::TableEdge& edge,
                                   agent::Metrics& metrics)
    : enabled_(options.networkPolicy),
      edge_(edge),
      metrics_(metrics),
      cluster_(options.nodeName),
      guard_(NFPROTO_INET, kPolicyTable) {
  using T = agent::Metrics::Type;
  metrics_.declare("routelet_policy_writes_total", T::kCounter,
                   "Writes of the NetworkPolicy table (inet routelet_policy) by kind (whole: "
                   "the table rewritten, update: the difference, remove) and result.");
  metrics_.declare("routelet_policy_heals_total", T::kCounter,
                   "NetworkPolicy tables rewritten whole because another process changed "
                   "them, change notifications were lost, or (without notifications) at a "
                   "resync.");
  metrics_.declare("routelet_policy_write_duration_seconds", T::kHistogram,
                   "Time from computing what the table must hold to the kernel holding it.",
                   {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5});
  metrics_.declare("routelet_policy_objects", T::kGauge,
                   "Objects the agent holds for NetworkPolicy, by kind (pods: those with an "
                   "address, not on the host network).");
  metrics_.declare("routelet_policy_pod_events_skipped_total", T::kCounter,
                   "Pod changes that could not change this node's table (another node's pod "
                   "that no peer selection takes): no table computed.");
  metrics_.declare("routelet_policy_isolated_pods", T::kGauge,
                   "Pods of this node that at least one NetworkPolicy selects.");
  metrics_.declare("routelet_policy_elements", T::kGauge,
                   "Elements of the NetworkPolicy table's sets and maps on this node.");
}

agent::Wake PolicyController::changed(bool yes) {
  if (!yes || !enabled_) return agent::Wake::kNo;
  dirty_ = true;
  return agent::Wake::kSoon;
}

// A complete list may be what readiness waited for, which only whole passes decide.
agent::Wake PolicyController::listed() {
  agent::Wake wake = changed(true);
  return wake == agent::Wake::kNo ? wake : agent::Wake::kWhole;
}

agent::Wake PolicyController::podsListed() {
  cluster_.commitPods();
  return listed();
}

agent::Wake PolicyController::podChanged(kube::WatchEventType type, const model::PodObject& pod) {
  // Whether the table can change: always for a pod of this node; for another node's, only
  // when a peer selection or a port set takes it, before or after. At 150 000 pods, most
  // events are of pods no policy here looks at, and computing the table costs ~10 ms.
  // An address shared with a terminating pod counts too: the pod coming or going decides
  // whose labels the address carries in every peer set.
  bool concerns = dirty_ || !applied_ || pod.nodeName == cluster_.nodeName();
  if (const Pod* old = cluster_.pod(pod.ns, pod.name); old && !concerns)
    concerns = old->local || cluster_.sharesWithTerminating(old->ips) ||
               affects(*applied_, cluster_, pod.ns, *old->labels, old->ports.get());
  bool change = type == kube::WatchEventType::kDeleted ? cluster_.removePod(pod.ns, pod.name)
                                                       : cluster_.upsertPod(pod);
  if (const Pod* now = cluster_.pod(pod.ns, pod.name); now && !concerns)
    concerns = cluster_.sharesWithTerminating(now->ips) ||
               affects(*applied_, cluster_, pod.ns, *now->labels, now->ports.get());
  if (change && !concerns) metrics_.add("routelet_policy_pod_events_skipped_total", {});
  return changed(change && concerns);
}

agent::Wake PolicyController::namespacesListed(std::vector<model::NamespaceObject>&& namespaces) {
  cluster_.replaceNamespaces(std::move(namespaces));
  return listed();
}

agent::Wake PolicyController::namespaceChanged(kube::WatchEventType type,
                                               const model::NamespaceObject& ns) {
  if (type == kube::WatchEventType::kDeleted) return changed(cluster_.removeNamespace(ns.name));
  return changed(cluster_.upsertNamespace(ns));
}

agent::Wake PolicyController::policiesListed(std::vector<model::NetworkPolicyObject>&& policies) {
  cluster_.replacePolicies(std::move(policies));
  return listed();
}

agent::Wake PolicyController::policyChanged(kube::WatchEventType type,
                                            const model::NetworkPolicyObject& policy) {
  if (type == kube::WatchEventType::kDeleted)
    return changed(cluster_.removePolicy(policy.ns, policy.name));
  return changed(cluster_.upsertPolicy(policy));
}

agent::Wake PolicyController::kernelEvent(const netlink::Event& e, const model::NodeCache&) {
  // Someone else's transaction touched routelet's table: rewrite it. Our own writes come
  // back here too.
  if (!enabled_ || !guard_.foreign(e)) return agent::Wake::kNo;
  heal_ = true;
  return agent::Wake::kSoon;
}

void PolicyController::kernelEventsLost() {
  heal_ = enabled_;  // the lost ones may have touched its table
  guard_.lost();
}

void PolicyController::sync(agent::Pass& pass) {
  if (!enabled_) {
    // Off: a table left by an earlier run with it on goes, once.
    if (pass.whole && !removed_) {
      Status st = edge_.nft(removalScript());
      metrics_.add("routelet_policy_writes_total",
                   {{"kind", "remove"}, {"result", st ? "ok" : "error"}});
      if (!st)
        log::warn("network policy is off, but removing table " + policyTableName() +
                  " failed: " + st.error().message);
      removed_ = true;
    }
    if (pass.whole) pass.report.networkPolicy = status::FeatureStatus{false, "", "", ""};
    return;
  }
  if (!cluster_.synced()) {
    // A partial view would isolate pods without their peers; the table of an earlier run,
    // if any, keeps enforcing meanwhile.
    if (pass.whole) {
      pass.notReady.push_back("waiting for the Pod, Namespace and NetworkPolicy lists");
      report(pass);
    }
    return;
  }
  bool force = heal_ || (monitorDown_ && pass.resync);
  if (dirty_ || force || !applied_) apply(force);
  if (pass.whole) report(pass);
}

void PolicyController::apply(bool force) {
  auto started = std::chrono::steady_clock::now();
  Desired want = desired(cluster_);
  bool known = applied_.has_value() && !force;
  bool healing = force && applied_.has_value();
  dirty_ = false;
  if (known && *applied_ == want) return;
  if (!guard_.knowsOwnPort()) {
    // Known before the first commit of that socket, so that its notification is recognised.
    if (auto port = edge_.portId()) guard_.setOwnPort(*port);
  }
  if (healing)
    log::info("table " + policyTableName() +
              (guard_.lastForeignPid() ? " was changed by another process (pid " +
                                             std::to_string(guard_.lastForeignPid()) + ")"
                                       : " may have changed unseen") +
              ": writing it again");
  heal_ = false;
  Plan p = plan(known ? &*applied_ : nullptr, want);
  Status st = applyPlan(edge_, p);
  metrics_.add("routelet_policy_writes_total",
               {{"kind", known ? "update" : "whole"}, {"result", st ? "ok" : "error"}});
  if (!st) {
    applied_.reset();  // the next write is whole
    error_ = st.error().message;
    logged_.warn("policy", "cannot program the NetworkPolicy table " + policyTableName() + ": " +
                               st.error().message);
    return;
  }
  metrics_.observe(
      "routelet_policy_write_duration_seconds", {},
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  if (healing) metrics_.add("routelet_policy_heals_total", {});
  if (!applied_ || isolatedPods(*applied_) != isolatedPods(want))
    log::info("NetworkPolicy: " + std::to_string(isolatedPods(want)) + " of " +
              std::to_string(want.pods.size()) + " local pods isolated, " +
              std::to_string(cluster_.policies().size()) + " policies in the cluster");
  logged_.clear("policy");
  error_.clear();
  applied_ = std::move(want);
  metrics_.set("routelet_policy_isolated_pods", {}, static_cast<double>(isolatedPods(*applied_)));
  metrics_.set("routelet_policy_elements", {}, static_cast<double>(elementCount(*applied_)));
}

void PolicyController::report(agent::Pass& pass) {
  metrics_.set("routelet_policy_objects", {{"kind", "pods"}},
               static_cast<double>(cluster_.podCount()));
  metrics_.set("routelet_policy_objects", {{"kind", "namespaces"}},
               static_cast<double>(cluster_.namespaces().size()));
  metrics_.set("routelet_policy_objects", {{"kind", "networkpolicies"}},
               static_cast<double>(cluster_.policies().size()));
  status::FeatureStatus state{true, "", error_, policyTableName()};
  if (!cluster_.synced()) {
    state.detail = "waiting for the Pod, Namespace and NetworkPolicy lists";
  } else if (applied_) {
    state.detail = std::to_string(cluster_.policies().size()) + " policies, " +
                   std::to_string(isolatedPods(*applied_)) + " of " +
                   std::to_string(applied_->pods.size()) + " local pods isolated";
  }
  if (!error_.empty()) pass.degraded.push_back("network policy not programmed");
  pass.report.networkPolicy = state;
  if (!pass.detail || !applied_) return;
  for (const auto& pod : applied_->pods)
    pass.report.policyPods.push_back({pod.ns, pod.name, pod.ingress, pod.egress});
  for (const auto& problem : applied_->problems) pass.report.policyProblems.push_back(problem);
}

}  // namespace routelet::policy
