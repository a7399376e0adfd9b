// Egress masquerade: which packets leave this node with the node's address instead of the
// pod's, as an nftables table of routelet's own (`inet routelet`). Pure: the rules from
// the Node cache, and the nft scripts that program them.
//
// A packet from this node's podCIDRs to a destination outside every pod range of the
// cluster is masqueraded: nothing outside the cluster routes pod addresses back. Packets
// to pods anywhere in the cluster keep their source, so a pod sees its peer's real address
// (NetworkPolicy depends on it).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/ip/address.h"
#include "controller/reconcile/desired.h"
#include "controller/reconcile/node_cache.h"

namespace routelet::reconcile {

inline constexpr const char* kMasqueradeTable = "routelet";  // family inet

struct MasqueradeRules {
  std::vector<ip::Prefix> sources;  // this node's podCIDRs
  // Destinations reached without masquerade: every Node's podCIDR that may be routed (see
  // unsafePodCIDR), the cluster CIDRs and nonMasqueradeCIDRs. Sorted, none inside another
  // (an nftables interval set refuses overlapping elements).
  std::vector<ip::Prefix> keep;
  bool operator==(const MasqueradeRules&) const = default;
};

// Sorted networks with every prefix inside another one of the list dropped.
std::vector<ip::Prefix> outermost(std::vector<ip::Prefix> prefixes);

// The rules for self. A podCIDR a Node must not claim (a hostile 8.0.0.0/8) is not
// exempted: it would send that range's traffic out unmasqueraded.
MasqueradeRules masqueradeRules(const NodeCache& cache, const SelfInfo& self,
                                const std::vector<ip::Prefix>& nonMasquerade);

// nft scripts, each one transaction. The whole table, replacing whatever holds its name:
std::string masqueradeScript(const MasqueradeRules& rules);
// The change from `from` (what the kernel holds) to `to` as element updates, or nullopt when
// only a whole replacement can do it (the sources changed, or a new element overlaps an
// old one: nft checks a new interval against the set as it is before the transaction).
std::optional<std::string> masqueradeUpdate(const MasqueradeRules& from, const MasqueradeRules& to);
// Removes the table if it exists.
std::string masqueradeRemovalScript();

}  // namespace routelet::reconcile
