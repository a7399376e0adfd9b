// Egress masquerade: which packets leave this node with the node's address instead of the
// pod's, as an nftables table of routelet's own (`inet routelet`). Pure: the rules from
// the Node cache, the nft script of the table's shape and its set elements.
//
// A packet from this node's podCIDRs to a destination outside every pod range of the
// cluster is masqueraded: nothing outside the cluster routes pod addresses back. Packets
// to pods anywhere in the cluster keep their source, so a pod sees its peer's real address
// (NetworkPolicy depends on it).
//
// The table holds hash sets of network addresses, one set per prefix length, looked up
// with the destination masked to that length: an exempt 10.244.2.0/24 is the key
// 10.244.2.0 in exempt_v4_24. The shape (table, chains, rules, empty sets) is nft script,
// compiled by libnftables; the elements are plain keys, written over netlink in one
// transaction: through libnftables, 5000 elements inline cost 2.4 MiB of peak and one more
// element 0.75 MiB (its context) and 0.4-8 ms, against 0.05 ms over netlink; and an interval
// set, which prefixes would need, is read whole into memory for any change (~8 MiB).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/ip/address.h"
#include "common/nft/elements.h"
#include "controller/model/node_cache.h"
#include "controller/routes/desired.h"

namespace routelet::masquerade {

inline constexpr const char* kMasqueradeTable = "routelet";  // family inet
// The table as nft names it: "inet routelet".
inline std::string masqueradeTableName() {
  return std::string("inet ") + kMasqueradeTable;
}

struct MasqueradeRules {
  std::vector<ip::Prefix> sources;  // this node's podCIDRs, at most one per family
  // Destinations reached without masquerade: every Node's podCIDR that may be routed (see
  // routes::unsafePodCIDR), the cluster CIDRs and nonMasqueradeCIDRs. Sorted, none inside another.
  std::vector<ip::Prefix> keep;
  bool operator==(const MasqueradeRules&) const = default;
};

// Sorted networks with every prefix inside another one of the list dropped.
std::vector<ip::Prefix> outermost(std::vector<ip::Prefix> prefixes);

// The rules for self. A podCIDR a Node must not claim (a hostile 8.0.0.0/8) is not
// exempted: it would send that range's traffic out unmasqueraded.
MasqueradeRules masqueradeRules(const model::NodeCache& cache, const routes::SelfInfo& self,
                                const std::vector<ip::Prefix>& nonMasquerade);

using SetChange = nft::SetChange;

// The table's shape for these rules, with every set empty, replacing whatever holds the
// table's name, in one transaction. Until masqueradeElements() fills the sets, the local
// sets are empty and nothing is masqueraded.
std::string masqueradeScript(const MasqueradeRules& rules);
// Every element of the rules, exempt sets first and the local sets last: applied in one
// transaction after masqueradeScript().
std::vector<SetChange> masqueradeElements(const MasqueradeRules& rules);
// The change from `from` (what the kernel holds) to `to` as element updates, or nullopt when
// the shape differs (own podCIDRs, or the prefix lengths of the exempt ranges): then only
// the script and all elements will do.
std::optional<std::vector<SetChange>> masqueradeUpdate(const MasqueradeRules& from,
                                                       const MasqueradeRules& to);
// Removes the table if it exists.
std::string masqueradeRemovalScript();

}  // namespace routelet::masquerade
