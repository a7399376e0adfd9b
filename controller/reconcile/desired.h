// Desired routes: which `podCIDR via nodeIP` routes this node should have, computed from
// the Node cache alone. Pure: no I/O, same input → same output, in a stable order.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/ip/address.h"
#include "common/netlink/netlink.h"
#include "controller/reconcile/node_cache.h"

namespace routelet::reconcile {

struct SelfInfo {
  std::string name;  // own Node name: never a peer of itself
  // Own podCIDRs, at most one per family. The families listed here are the families
  // routed: a single-stack node does not report every peer as missing the other family.
  std::vector<ip::Prefix> podCIDRs;
  // Own node IP per family (at most one each); a peer announcing the same IP is skipped,
  // since the kernel refuses a gateway that is a local address.
  std::vector<ip::Address> nodeIPs;
  // Subnets of this node's interfaces (e.g. 192.168.1.0/24), any family. host-gw only
  // works when the peer's node IP is inside one of them: the gateway of a route must be
  // directly reachable (the kernel answers ENETUNREACH otherwise), and a route through a
  // router would send pod traffic to a router that knows nothing about podCIDRs.
  std::vector<ip::Prefix> onLink;
  uint8_t protocol = 201;  // routelet's route protocol (the agent passes its option)
  uint32_t table = 254;    // RT_TABLE_MAIN

  std::optional<ip::Prefix> podCIDR(ip::Family family) const;
  std::optional<ip::Address> nodeIP(ip::Family family) const;
};

enum class SkipReason {
  kDeleting,            // metadata.deletionTimestamp set: the node is going away
  kNoPodCIDR,           // no podCIDR of the family (not allocated yet, or single-stack)
  kNoNodeIP,            // no InternalIP/ExternalIP of the family
  kUnparsable,          // the field is missing because the decoder could not read it
  kPodCIDROverlapsOwn,  // its podCIDR overlaps this node's own podCIDR
  kPodCIDRConflict,     // another peer (first by name) already claims an overlapping podCIDR
  kNodeIPIsOwn,         // its node IP is this node's own IP
  kNotOnLink,           // its node IP is not inside any on-link prefix of this node
};
// "deleting", "no-podcidr", ... — stable names for logs, metrics labels and `status`.
const char* skipReasonName(SkipReason reason);

// A peer (and family) that gets no route, and why.
struct Skip {
  std::string node;
  std::optional<ip::Family> family;  // empty when the reason covers every family
  SkipReason reason;
  std::string detail;  // names the field and value, e.g. "node IP 10.0.0.5 is not in ..."
  bool operator==(const Skip&) const = default;
};

struct Desired {
  std::vector<netlink::Route> routes;  // sorted by Route::key()
  std::vector<Skip> skipped;           // sorted by node name, then family
};

// For every peer (not self, not deleting) and every routed family where the peer has a
// podCIDR and a node IP: `podCIDR via nodeIP`, proto self.protocol, table self.table,
// scope universe.
//
// Overlapping podCIDRs between peers: the peer whose name sorts first wins and gets the
// route; every later claimant is skipped with kPodCIDRConflict naming the winner. The
// winner depends only on the Node list, so every agent in the cluster and every restart
// picks the same one, and a misconfigured cluster keeps one working route instead of none.
// Claims count whether or not the claimant's node IP is usable, for the same reason: a
// node-local fact (on-link) must not change which peer owns a CIDR.
Desired desiredRoutes(const NodeCache& cache, const SelfInfo& self);

// What desiredRoutes() gives for one peer, `name` with the Node `node` (nullptr: none), in
// O(log cluster) lookups instead of a whole pass: the agent's targeted pass after a Node
// event. node may be a version that is no longer in the cache (what the peer was at the
// last pass). nullopt when another Node (own excepted) has a podCIDR overlapping one of
// node's: then the winner, and other peers' routes, depend on the whole cluster and only
// desiredRoutes() can say.
std::optional<Desired> peerDesired(const NodeCache& cache, const SelfInfo& self,
                                   const std::string& name, const model::Node* node);

}  // namespace routelet::reconcile
