// Desired routes: which `podCIDR via nodeIP` routes this node should have, computed from
// the Node cache alone. Pure: no I/O, same input → same output, in a stable order.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/ip/address.h"
#include "common/netlink/netlink.h"
#include "controller/model/node_cache.h"
#include "controller/routes/vxlan.h"

namespace routelet::routes {

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
  // The cluster's pod ranges (the agent's clusterCIDRs setting), at most one per family;
  // empty when not configured. A peer's podCIDR must lie inside the one of its family.
  std::vector<ip::Prefix> clusterCIDRs;
  // The shortest podCIDR prefix a peer may claim, per family (the agent's
  // minPodCIDRLength setting; a configured cluster CIDR raises it to its own length).
  uint8_t minPodCIDRLengthV4 = 8;
  uint8_t minPodCIDRLengthV6 = 32;
  // Which peers go over VXLAN (see Mode), and the ifindex of each family's VXLAN device
  // (0: none, or not ready: the peers it would carry are skipped with kNoTunnel).
  Mode mode = Mode::kHostGw;
  int tunnelV4 = 0;
  int tunnelV6 = 0;

  std::optional<ip::Prefix> podCIDR(ip::Family family) const;
  std::optional<ip::Address> nodeIP(ip::Family family) const;
  int tunnel(ip::Family family) const { return family == ip::Family::kV4 ? tunnelV4 : tunnelV6; }
};

enum class SkipReason {
  kDeleting,            // metadata.deletionTimestamp set: the node is going away
  kNoPodCIDR,           // no podCIDR of the family (not allocated yet, or single-stack)
  kNoNodeIP,            // no InternalIP/ExternalIP of the family
  kUnparsable,          // the field is missing because the decoder could not read it
  kPodCIDROverlapsOwn,  // its podCIDR overlaps this node's own podCIDR
  kPodCIDRConflict,     // another peer claims an overlapping podCIDR (see desiredRoutes)
  kPodCIDRUnsafe,       // its podCIDR covers addresses no pod range may (see unsafePodCIDR)
  kNodeIPIsOwn,         // its node IP is this node's own IP
  kNoUsableNodeIP,      // it lists addresses of the family, none usable (see chooseNodeIP)
  kNotOnLink,           // host-gw: its node IP is not inside any on-link prefix of this node
  kNoTunnel,            // it is to be reached over VXLAN, and the device is not there
  kVtepMacConflict,     // its VTEP MAC (vtepMac) is another peer's too
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

// An address a Node lists in status.addresses that routing passes over, and why.
struct IgnoredAddress {
  std::string node;
  ip::Address address;
  std::string why;
  bool operator==(const IgnoredAddress&) const = default;
};

struct Desired {
  std::vector<netlink::Route> routes;  // sorted by Route::key()
  // The neighbour and forwarding entries of the peers reached over VXLAN (tunnelEntries),
  // sorted by Neighbor::key(). Such a peer's route is `podCIDR via <VTEP address> dev
  // <device> onlink`; a route with `onlink` and the device's oif is how callers tell it from
  // a direct one (isEncapsulated).
  std::vector<netlink::Neighbor> neighbors;
  std::vector<Skip> skipped;  // sorted by node name, then family
  // Every unusable address of a peer, of a routed family (see chooseNodeIP), sorted by node
  // and address: the caller logs each once.
  std::vector<IgnoredAddress> ignored;
  // The routes among `routes` kept only because they were programmed before an overlapping
  // claim appeared: the caller passes them back as programmed, so a kept route deleted by
  // hand is healed instead of handing the contested range to nobody.
  std::vector<netlink::Route> keptInConflict;
};

// Why an address the Node `holder` lists cannot be its node IP, or nullopt when it can.
// status.addresses is written by the node itself, so no address there is trusted: one that
// is not a usable unicast address (unspecified, loopback, link-local with the metadata
// service, multicast, broadcast and reserved, IPv4-mapped) or that lies in a pod range (a
// cluster CIDR, or any Node's podCIDR that may be routed: see unsafePodCIDR) is passed over.
// It is never a reason to refuse anyone else's route: that would let one Node's claim unroute
// the others. This node's own addresses are not held against other Nodes' podCIDRs: such a
// podCIDR is refused instead (it covers this node's IP), and the own podCIDR is checked on
// its own before anything is set up.
std::optional<std::string> unusableNodeIP(const ip::Address& a, const std::string& holder,
                                          const model::NodeCache& cache, const SelfInfo& self);

// A Node's IP of a family: its first usable InternalIP, else its first usable ExternalIP
// (the kubelet's --node-ip order); nullopt when none. ignored, when given, gets every
// unusable address of the family the Node lists.
std::optional<ip::Address> chooseNodeIP(const model::Node& node, ip::Family family,
                                        const model::NodeCache& cache, const SelfInfo& self,
                                        std::vector<IgnoredAddress>* ignored = nullptr);

// Whether a route of routelet's reaches its peer over VXLAN (else: directly).
bool isEncapsulated(const netlink::Route& route);
// Whether a peer with this node IP is to be reached over VXLAN: always in vxlan, never in
// host-gw, and in auto when the node IP is outside every on-link prefix.
bool overVxlan(const SelfInfo& self, const ip::Address& nodeIP);

// For every peer (not self, not deleting) and every routed family where the peer has a
// podCIDR and a node IP: `podCIDR via nodeIP`, proto self.protocol, table self.table,
// scope universe, when self.mode is host-gw or (auto) the node IP is on-link; otherwise
// the route over VXLAN and its entries (see Desired::neighbors). In host-gw a peer off
// the node's subnets is skipped with kNotOnLink.
//
// Peers over VXLAN whose VTEP MACs collide (vtepMac of IPv6 podCIDRs that differ only
// above their last 32 bits) are all skipped with kVtepMacConflict: a shared MAC would send
// one peer's traffic to the other.
//
// A peer's podCIDR that would steer traffic where no pod lives is refused (kPodCIDRUnsafe)
// before it can claim anything: see unsafePodCIDR.
//
// Overlapping podCIDRs between peers: no claim can win by what it names itself or when it
// comes. Claims that overlap (transitively) form a group; in a group, the claimants whose
// route is already programmed (a route in `programmed` to that podCIDR via that claimant's
// node IP) keep it, provided those do not overlap each other, and every other claimant is
// skipped with kPodCIDRConflict naming the others. With no such route (a new agent, or a
// conflict present from the start) nobody in the group is routed until the Nodes are
// corrected. So a Node that starts claiming another's range never takes its traffic, and
// every claimant is reported. Claims count whether or not the claimant's node IP is usable:
// a node-local fact (on-link) must not change which peer owns a CIDR.
Desired desiredRoutes(const model::NodeCache& cache, const SelfInfo& self,
                      const std::vector<netlink::Route>& programmed = {});

// Why a peer's podCIDR must not be routed, or nullopt when it may: it is shorter than the
// bound of SelfInfo (or outside the cluster CIDR of its family), or it covers an IP of
// this node, an on-link subnet of this node (or lies inside one), or addresses no pod range
// may hold: this-network 0.0.0.0/8, loopback (127.0.0.0/8, ::1), link-local
// (169.254.0.0/16, where cloud metadata services live, and fe80::/10), multicast
// (224.0.0.0/4, ff00::/8) and the reserved 240.0.0.0/4.
std::optional<std::string> unsafePodCIDR(const ip::Prefix& dst, const SelfInfo& self);

// What desiredRoutes() gives for one peer, `name` with the Node `node` (nullptr: none), in
// O(log cluster) lookups instead of a whole pass: the agent's targeted pass after a Node
// event. node may be a version that is no longer in the cache (what the peer was at the
// last pass). nullopt when another Node (own excepted) has a podCIDR overlapping one of
// node's, one of node's IPs lies in another Node's podCIDR, or one of node's podCIDRs holds
// another Node's IP: then the outcome, and other peers' routes, depend on the whole cluster
// and only desiredRoutes() can say.
std::optional<Desired> peerDesired(const model::NodeCache& cache, const SelfInfo& self,
                                   const std::string& name, const model::Node* node);

}  // namespace routelet::routes
