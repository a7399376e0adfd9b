// What NetworkPolicy enforcement knows of the cluster: every Pod that has an address, every
// Namespace's labels and every NetworkPolicy, kept from their LIST+WATCH streams.
//
// Compact, for 150 000 Pods: a Pod is its addresses and two shared pointers, to its label
// set and to its named ports, each held once for all the Pods that carry the same ones (the
// replicas of a Deployment do). Host-network Pods, Pods without an address and finished
// Pods are not kept: no policy selects them, and their addresses are not theirs.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/ip/address.h"
#include "controller/model/policy_objects.h"

namespace routelet::policy {

using Ports = std::vector<model::ContainerPort>;

struct Pod {
  std::shared_ptr<const model::Labels> labels;  // never null
  std::shared_ptr<const Ports> ports;           // null: no named port
  std::vector<ip::Address> ips;                 // at most one per family, never empty
  bool local = false;                           // on this node
  bool deleting = false;
};

// Equal values stored once, shared by everyone holding them; an entry goes when its last
// holder lets go (forget()).
template <class T>
class Interner {
 public:
  std::shared_ptr<const T> get(T value) {
    auto it = entries_.find(value);
    if (it != entries_.end()) {
      if (auto held = it->second.lock()) return held;
    }
    auto made = std::make_shared<const T>(value);
    entries_[std::move(value)] = made;
    return made;
  }
  // `held` is being dropped: its entry goes when nobody else holds it.
  void forget(std::shared_ptr<const T>& held) {
    if (!held) return;
    if (held.use_count() == 1) entries_.erase(*held);
    held.reset();
  }
  size_t size() const { return entries_.size(); }

 private:
  std::map<T, std::weak_ptr<const T>> entries_;
};

class Cluster {
 public:
  using PodMap = std::map<std::string, std::map<std::string, Pod>>;  // namespace → name → Pod
  using PolicyKey = std::pair<std::string, std::string>;             // namespace, name

  explicit Cluster(std::string nodeName) : nodeName_(std::move(nodeName)) {}

  // Each returns whether what enforcement reads changed.
  bool upsertPod(const model::PodObject& pod);
  bool removePod(const std::string& ns, const std::string& name);
  void replacePods(std::vector<model::PodObject>&& pods);
  // A LIST of Pods handed over one at a time: staged beside the Pods in use, which the
  // staged ones replace at commitPods(). beginPods() drops what an earlier attempt staged.
  void beginPods();
  void stagePod(const model::PodObject& pod);
  void commitPods();
  bool upsertNamespace(const model::NamespaceObject& ns);
  bool removeNamespace(const std::string& name);
  void replaceNamespaces(std::vector<model::NamespaceObject>&& namespaces);
  bool upsertPolicy(model::NetworkPolicyObject policy);
  bool removePolicy(const std::string& ns, const std::string& name);
  void replacePolicies(std::vector<model::NetworkPolicyObject>&& policies);

  // All three kinds have been listed: only then does enforcement start, since a partial
  // view would isolate pods without their peers.
  bool synced() const { return podsSynced_ && namespacesSynced_ && policiesSynced_; }

  const PodMap& pods() const { return pods_; }
  const Pod* pod(const std::string& ns, const std::string& name) const;
  // A pod not being deleted holds this address. A terminating pod's address may already be
  // its successor's (same node, same IP), and is then the successor's alone.
  bool heldByLivePod(const ip::Address& a) const { return live_.contains(a); }
  // One of these addresses is also a terminating pod's: a pod there decides, by coming or
  // going, whose the address is, wherever it runs.
  bool sharesWithTerminating(const std::vector<ip::Address>& ips) const {
    for (const auto& a : ips)
      if (dying_.contains(a)) return true;
    return false;
  }
  // This node's pods, by namespace and name: a few dozen among 150 000.
  const std::map<PolicyKey, const Pod*>& localPods() const { return local_; }
  size_t podCount() const { return podCount_; }
  // Labels of a namespace; nullptr for one not (yet) seen.
  const model::Labels* namespaceLabels(const std::string& ns) const;
  const std::map<std::string, std::shared_ptr<const model::Labels>>& namespaces() const {
    return namespaces_;
  }
  const std::map<PolicyKey, model::NetworkPolicyObject>& policies() const { return policies_; }
  const std::string& nodeName() const { return nodeName_; }
  // Distinct label sets and named-port lists held (what interning saves).
  size_t labelSets() const { return labelSets_.size(); }

 private:
  // The compact Pod, or false when it is not kept.
  bool compact(const model::PodObject& in, Pod* out);
  void drop(Pod& pod);
  void dropAll(PodMap& pods);

  std::string nodeName_;
  PodMap pods_;
  size_t podCount_ = 0;
  PodMap staged_;
  size_t stagedCount_ = 0;
  std::map<PolicyKey, const Pod*> local_;
  struct AddressHash {
    size_t operator()(const ip::Address& a) const {
      return std::hash<std::string_view>()(
          std::string_view(reinterpret_cast<const char*>(a.bytes()), a.isV4() ? 4 : 16));
    }
  };
  // Addresses of pods not being deleted, and of pods being deleted, with how many hold each.
  std::unordered_map<ip::Address, uint32_t, AddressHash> live_;
  std::unordered_map<ip::Address, uint32_t, AddressHash> dying_;
  void countLive(const Pod& pod, int delta);
  std::map<std::string, std::shared_ptr<const model::Labels>> namespaces_;
  std::map<PolicyKey, model::NetworkPolicyObject> policies_;
  Interner<model::Labels> labelSets_;
  Interner<Ports> portLists_;
  bool podsSynced_ = false;
  bool namespacesSynced_ = false;
  bool policiesSynced_ = false;
};

}  // namespace routelet::policy
