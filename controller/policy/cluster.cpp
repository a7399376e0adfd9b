#include "controller/policy/cluster.h"

namespace routelet::policy {

bool Cluster::compact(const model::PodObject& in, Pod* out) {
  if (in.hostNetwork || in.finished || in.ips.empty() || in.ns.empty() || in.name.empty())
    return false;
  out->labels = labelSets_.get(in.labels);
  if (!in.ports.empty()) out->ports = portLists_.get(in.ports);
  out->ips = in.ips;
  out->local = in.nodeName == nodeName_;
  out->deleting = in.deleting;
  return true;
}

void Cluster::countLive(const Pod& pod, int delta) {
  auto& counts = pod.deleting ? dying_ : live_;
  for (const auto& a : pod.ips) {
    if (delta > 0) {
      ++counts[a];
    } else if (auto it = counts.find(a); it != counts.end() && --it->second == 0) {
      counts.erase(it);
    }
  }
}

void Cluster::drop(Pod& pod) {
  labelSets_.forget(pod.labels);
  portLists_.forget(pod.ports);
}

bool Cluster::upsertPod(const model::PodObject& pod) {
  Pod fresh;
  if (!compact(pod, &fresh)) return removePod(pod.ns, pod.name);
  auto& byName = pods_[pod.ns];
  auto [it, added] = byName.try_emplace(pod.name);
  bool same = false;
  if (!added) {
    Pod& old = it->second;
    same = *old.labels == *fresh.labels && old.ports == fresh.ports && old.ips == fresh.ips &&
           old.local == fresh.local && old.deleting == fresh.deleting;
    countLive(old, -1);
    drop(old);
  } else {
    ++podCount_;
  }
  it->second = std::move(fresh);
  countLive(it->second, 1);
  if (it->second.local)
    local_[{pod.ns, pod.name}] = &it->second;
  else
    local_.erase({pod.ns, pod.name});
  return !same;
}

bool Cluster::removePod(const std::string& ns, const std::string& name) {
  auto byName = pods_.find(ns);
  if (byName == pods_.end()) return false;
  auto it = byName->second.find(name);
  if (it == byName->second.end()) return false;
  countLive(it->second, -1);
  drop(it->second);
  local_.erase({ns, name});
  byName->second.erase(it);
  if (byName->second.empty()) pods_.erase(byName);
  --podCount_;
  return true;
}

void Cluster::dropAll(PodMap& pods) {
  for (auto& [ns, byName] : pods)
    for (auto& [name, pod] : byName) drop(pod);
  pods.clear();
}

void Cluster::replacePods(std::vector<model::PodObject>&& pods) {
  beginPods();
  for (auto& pod : pods) {
    stagePod(pod);
    pod = model::PodObject();  // give back its memory as we go
  }
  commitPods();
}

void Cluster::beginPods() {
  dropAll(staged_);
  stagedCount_ = 0;
}

void Cluster::stagePod(const model::PodObject& pod) {
  Pod fresh;
  if (!compact(pod, &fresh)) return;
  auto [it, added] = staged_[pod.ns].try_emplace(pod.name);
  if (!added) drop(it->second);
  it->second = std::move(fresh);
  stagedCount_ += added ? 1 : 0;
}

void Cluster::commitPods() {
  dropAll(pods_);
  pods_ = std::move(staged_);
  staged_.clear();
  local_.clear();
  live_.clear();
  dying_.clear();
  for (auto& [ns, byName] : pods_)
    for (auto& [name, pod] : byName) {
      if (pod.local) local_[{ns, name}] = &pod;
      countLive(pod, 1);
    }
  podCount_ = std::exchange(stagedCount_, 0);
  podsSynced_ = true;
}

const Pod* Cluster::pod(const std::string& ns, const std::string& name) const {
  auto byName = pods_.find(ns);
  if (byName == pods_.end()) return nullptr;
  auto it = byName->second.find(name);
  return it == byName->second.end() ? nullptr : &it->second;
}

const model::Labels* Cluster::namespaceLabels(const std::string& ns) const {
  auto it = namespaces_.find(ns);
  return it == namespaces_.end() ? nullptr : it->second.get();
}

bool Cluster::upsertNamespace(const model::NamespaceObject& ns) {
  auto labels = labelSets_.get(ns.labels);
  auto [it, added] = namespaces_.try_emplace(ns.name, labels);
  if (added) return true;
  bool same = *it->second == *labels;
  labelSets_.forget(it->second);
  it->second = std::move(labels);
  return !same;
}

bool Cluster::removeNamespace(const std::string& name) {
  auto it = namespaces_.find(name);
  if (it == namespaces_.end()) return false;
  labelSets_.forget(it->second);
  namespaces_.erase(it);
  return true;
}

void Cluster::replaceNamespaces(std::vector<model::NamespaceObject>&& namespaces) {
  for (auto& [name, labels] : namespaces_) labelSets_.forget(labels);
  namespaces_.clear();
  for (const auto& ns : namespaces) upsertNamespace(ns);
  namespacesSynced_ = true;
}

bool Cluster::upsertPolicy(model::NetworkPolicyObject policy) {
  PolicyKey key{policy.ns, policy.name};
  policy.resourceVersion.clear();  // not read by enforcement: an update to it changes nothing
  auto [it, added] = policies_.try_emplace(key, policy);
  if (added) return true;
  if (it->second == policy) return false;
  it->second = std::move(policy);
  return true;
}

bool Cluster::removePolicy(const std::string& ns, const std::string& name) {
  return policies_.erase({ns, name}) > 0;
}

void Cluster::replacePolicies(std::vector<model::NetworkPolicyObject>&& policies) {
  policies_.clear();
  for (auto& p : policies) upsertPolicy(std::move(p));
  policiesSynced_ = true;
}

}  // namespace routelet::policy
