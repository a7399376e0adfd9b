// NetworkPolicy as this node enforces it, computed from the cluster (pure): which of its
// own pods are isolated, by which policies, and what each policy allows, as the contents of
// routelet's nftables table `inet routelet_policy` (ruleset.h writes them).
//
// The table's parts:
//   - address sets, one per peer selection (a podSelector and namespaceSelector as one
//     policy writes them) and family: the addresses of the pods it selects now. A pod or
//     label change is an element update of the sets it enters or leaves.
//   - port sets, one per named port and family: address . protocol . port of the pods that
//     name it, so a named port resolves per destination pod.
//   - one chain per policy and direction (pi_…, pe_…): a rule per peer and port, each
//     ending in accept.
//   - one chain per set of policies that isolate a pod (ii_…, ie_…): a jump to each
//     policy's chain, then drop. Pods isolated by the same policies share it.
//   - verdict maps from each isolated local pod's address to its isolation chain. A pod
//     that starts or stops being selected is one element.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/ip/address.h"
#include "controller/model/policy_objects.h"
#include "controller/policy/cluster.h"

namespace routelet::policy {

inline constexpr const char* kPolicyTable = "routelet_policy";  // family inet

struct PortKey {
  ip::Address address;
  model::Protocol protocol = model::Protocol::kTCP;
  uint16_t port = 0;
  auto operator<=>(const PortKey&) const = default;
};

// A local pod and the policies ("namespace/name") that isolate it, for routelet status.
struct LocalPod {
  std::string ns;
  std::string name;
  std::vector<ip::Address> ips;
  std::vector<std::string> ingress;
  std::vector<std::string> egress;
  bool operator==(const LocalPod&) const = default;
};

struct Desired {
  // Set name → its elements, sorted. A set's name ends in 4 or 6: its family.
  std::map<std::string, std::vector<ip::Address>> addressSets;
  std::map<std::string, std::vector<PortKey>> portSets;
  // Chain name → its rules (nft syntax, without "add rule <table> <chain>").
  std::map<std::string, std::vector<std::string>> chains;
  // Isolated local pod address → the chain its packets jump to, per direction.
  std::map<ip::Address, std::string> ingress;
  std::map<ip::Address, std::string> egress;
  std::vector<LocalPod> pods;  // every local pod, by namespace and name
  // What policies that select local pods could not be read (bounded).
  std::vector<std::string> problems;
  // The peer selections and named ports the sets hold pods for: a change to a pod of
  // another node that none of them takes cannot change the table (affects()).
  struct Selection {
    std::string ns;  // the policy's namespace; "" when `namespaces` chooses them
    std::optional<model::LabelSelector> namespaces;
    std::optional<model::LabelSelector> pods;
    bool operator==(const Selection&) const = default;
  };
  std::vector<Selection> selections;
  std::vector<std::string> portNames;  // named ports with a set
  bool everyPodsPorts = false;         // a port set holds every pod's entries
  bool operator==(const Desired&) const = default;
};

Desired desired(const Cluster& cluster);

// Whether a pod of another node, as it was or as it is now (labels in namespace ns, its
// named ports), can change what `d` holds: when a peer selection of d takes it, or a port
// set holding every pod's entries has its named port. Local pods always can; they are not
// asked about.
bool affects(const Desired& d, const Cluster& cluster, const std::string& ns,
             const model::Labels& labels, const Ports* ports);

// "tcp", "udp", "sctp": the protocol as nft names it.
const char* nftProtocol(model::Protocol p);

// Whether a set or chain name is of the family: names end in 4 or 6.
ip::Family familyOfSet(const std::string& name);

}  // namespace routelet::policy
