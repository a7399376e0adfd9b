// Pods, Namespaces and NetworkPolicies as the agent takes them from the API for
// NetworkPolicy: only the fields enforcement reads, decoded and checked
// (kube/policy_decode.h). The policy controller keeps them in a compact, interned form
// (policy/cluster.h); these are what one watch event carries.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/ip/address.h"

namespace routelet::model {

enum class Protocol : uint8_t { kTCP = 6, kUDP = 17, kSCTP = 132 };
const char* protocolName(Protocol p);  // "TCP"

// Sorted by key, keys unique.
using Labels = std::vector<std::pair<std::string, std::string>>;

struct ContainerPort {
  std::string name;  // "" when the port has none
  Protocol protocol = Protocol::kTCP;
  uint16_t port = 0;
  auto operator<=>(const ContainerPort&) const = default;
};

struct PodObject {
  std::string ns;
  std::string name;
  std::string resourceVersion;
  Labels labels;
  std::string nodeName;  // spec.nodeName; "" until scheduled
  bool hostNetwork = false;
  // status.phase Succeeded or Failed: its addresses are released and may be reused.
  bool finished = false;
  bool deleting = false;             // metadata.deletionTimestamp set
  std::vector<ip::Address> ips;      // status.podIPs (or podIP), at most one per family
  std::vector<ContainerPort> ports;  // named container ports only
  std::vector<std::string> problems;
};

struct NamespaceObject {
  std::string name;
  std::string resourceVersion;
  Labels labels;
};

// A metav1.LabelSelector: matchLabels as In requirements of one value, and matchExpressions.
// No requirement: every object.
struct LabelRequirement {
  enum class Op : uint8_t { kIn, kNotIn, kExists, kDoesNotExist };
  std::string key;
  Op op = Op::kIn;
  std::vector<std::string> values;  // sorted
  bool operator==(const LabelRequirement&) const = default;
};
struct LabelSelector {
  std::vector<LabelRequirement> requirements;  // sorted
  bool matches(const Labels& labels) const;
  std::string text() const;  // canonical: "a in (x,y),!b"; "" for every object
  bool operator==(const LabelSelector&) const = default;
};

// One entry of from[] / to[].
struct PolicyPeer {
  // Selector peers: pods (of the policy's namespace unless namespaces is set) and
  // namespaces; at least one is set.
  std::optional<LabelSelector> pods;
  std::optional<LabelSelector> namespaces;
  // An ipBlock peer (neither selector set): cidr except these ranges inside it.
  std::optional<ip::Prefix> cidr;
  std::vector<ip::Prefix> except;
  bool operator==(const PolicyPeer&) const = default;
};

struct PolicyPort {
  Protocol protocol = Protocol::kTCP;
  uint16_t port = 0;     // 0: every port of the protocol (unless name is set)
  uint16_t endPort = 0;  // 0: port alone; else port..endPort
  std::string name;      // a named container port, resolved per destination pod
  bool operator==(const PolicyPort&) const = default;
};

struct PolicyRule {
  bool anyPeer = false;  // from/to absent or empty: every source or destination
  std::vector<PolicyPeer> peers;
  bool anyPort = false;  // ports absent or empty: every port and protocol
  std::vector<PolicyPort> ports;
  bool operator==(const PolicyRule&) const = default;
};

struct NetworkPolicyObject {
  std::string ns;
  std::string name;
  std::string resourceVersion;
  // nullopt: the selector could not be read; the policy selects no pod.
  std::optional<LabelSelector> podSelector;
  bool ingress = false;  // policyTypes (defaulted as the API server does)
  bool egress = false;
  std::vector<PolicyRule> ingressRules;
  std::vector<PolicyRule> egressRules;
  // What could not be read. A peer, port or rule that cannot be read allows nothing; it
  // never widens what the policy allows.
  std::vector<std::string> problems;
  bool operator==(const NetworkPolicyObject&) const = default;
};

}  // namespace routelet::model
