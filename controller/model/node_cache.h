// The agent's view of every Node in the cluster, kept from the LIST+WATCH stream.
//
// Only model::Node is held (never the Node JSON), so 5000 Nodes stay in a few MiB. Names
// are kept sorted, which makes everything computed from the cache deterministic.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "controller/model/node.h"

namespace routelet::model {

class NodeCache {
 public:
  // A watch ADDED or MODIFIED event. Returns true when a field that routing reads
  // (podCIDRs, addresses, deletion) changed or the Node is new, so the caller can skip a
  // reconcile for status-only updates (kubelet heartbeats touch a Node every few seconds).
  // previous, when given and the result is true: the version replaced (empty for a new
  // Node), what a targeted pass compares against.
  bool upsert(model::Node node, std::optional<model::Node>* previous = nullptr);
  // A watch DELETED event. Returns true when the Node was known; removed gets it.
  bool remove(const std::string& name, std::optional<model::Node>* removed = nullptr);
  // The result of a complete LIST (startup, or a relist after 410 Gone): the cache
  // becomes exactly `nodes` and is marked synced. Returns the names that vanished, in
  // sorted order: Nodes deleted while the watch was down, whose DELETED event was lost.
  std::vector<std::string> replaceAll(std::vector<model::Node> nodes);

  const model::Node* get(const std::string& name) const;
  std::size_t size() const { return nodes_.size(); }
  const std::map<std::string, model::Node>& nodes() const { return nodes_; }

  // A Node, other than except1 and except2, with a podCIDR overlapping p (either contains
  // the other); nullptr when there is none. O(log n) per prefix length of p.
  const std::string* podCIDROverlap(const ip::Prefix& p, const std::string& except1,
                                    const std::string& except2) const;
  // The Nodes whose podCIDR is exactly net (host bits ignored), in name order.
  std::vector<std::string> withPodCIDR(const ip::Prefix& net) const;
  // A podCIDR (network) that contains a and that accept(podCIDR) takes, with a Node that
  // claims it (the first by name); nullopt when none. Every prefix is asked at most once:
  // O(log n) per prefix length in use, however many Nodes claim the same range.
  std::optional<std::pair<ip::Prefix, const std::string*>> podCIDRContaining(
      const ip::Address& a, const std::function<bool(const ip::Prefix&)>& accept) const;
  // A Node with an InternalIP or ExternalIP inside p, and that address; nullopt when none.
  // O(log n).
  std::optional<std::pair<std::string, ip::Address>> nodeIPWithin(const ip::Prefix& p) const;

  // True once a complete LIST has filled the cache. Before that, a Node missing from the
  // cache may simply not have been seen yet, so its route must not be deleted.
  bool synced() const { return synced_; }

 private:
  void index(const model::Node& node);
  void unindex(const model::Node& node);
  uint32_t& lengthCount(const ip::Prefix& p);
  // The first Node, in name order, whose podCIDR is exactly net (host bits ignored) and
  // that pred accepts; nullptr when none.
  template <typename Pred>
  const std::string* firstWith(const ip::Prefix& net, Pred pred) const;

  std::map<std::string, model::Node> nodes_;
  // Every podCIDR (network) with its Node: what a targeted pass asks about one Node,
  // answered without walking all of them.
  std::set<std::pair<ip::Prefix, std::string>> byPodCIDR_;
  // How many indexed podCIDRs have each prefix length, per family (0: IPv4, 1: IPv6): a
  // lookup for the prefixes containing p tries only lengths some Node uses.
  std::array<std::array<uint32_t, 129>, 2> lengths_{};
  // Every node IP with its Node: a peer's podCIDR must not cover any of them.
  std::set<std::pair<ip::Address, std::string>> byNodeIP_;
  bool synced_ = false;
};

}  // namespace routelet::model
