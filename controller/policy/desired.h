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
  bool operator==(const Desired&) const = default;
};

Desired desired(const Cluster& cluster);

// "tcp", "udp", "sctp": the protocol as nft names it.
const char* nftProtocol(model::Protocol p);

// Whether a set or chain name is of the family: names end in 4 or 6.
ip::Family familyOfSet(const std::string& name);

}  // namespace routelet::policy
