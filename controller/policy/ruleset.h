// The nftables table `inet routelet_policy` for a Desired (desired.h), and the change from
// one Desired to the next (pure).
//
// Base chains, each `policy accept`: `egress` (hook forward) and `egress_host` (hook
// input: a pod's packets to its own node) look the source up in the egress verdict maps,
// `ingress` (hook forward: from other nodes, and between pods of this node, which bridge
// netfilter hands to it) the destination in the ingress maps. Each first accepts replies
// and related packets of tracked connections, and IPv6 neighbour discovery. Packets the
// node itself sends to its pods (the kubelet's probes) take the output hook and pass. An
// isolation chain drops what none of its policies accept; accept in one base chain lets
// the packet on to the next, so a packet between two isolated local pods must pass both.
//
// A set `owner` holds one element the agent writes over netlink after a whole write: its
// commit tells the agent which nf_tables commits are its own (agent/table_guard.h).
//
// A change is applied in three steps, so that no rule ever points at a set not yet filled
// (written whole, the chains and maps come with the shape in the first, see plan()):
// `sets` (a script: the table's shape when written whole, and new sets), `elements` (the
// address and port sets' elements, over netlink, in one transaction: 150 000 of them as
// nft text would cost libnftables tens of MiB), then `rest` (a script: chains, verdict-map
// elements, and the removal of what is no longer used).
#pragma once

#include <string>
#include <vector>

#include "common/nft/elements.h"
#include "common/nft/table_edge.h"
#include "controller/policy/desired.h"

namespace routelet::policy {

// "inet routelet_policy"
std::string policyTableName();

// A port set's key as nf_tables compares it: the address, the protocol and the port in
// network order, each padded to 4 bytes (`ipv4_addr . inet_proto . inet_service`).
std::string portKeyBytes(const PortKey& key);

struct Plan {
  std::string sets;
  std::vector<nft::SetChange> elements;
  std::string rest;
  bool empty() const { return sets.empty() && elements.empty() && rest.empty(); }
};

// From `from` (what the kernel holds) to `to`; from null: the table written whole,
// replacing whatever holds its name.
Plan plan(const Desired* from, const Desired& to);

// The three steps of a plan through the table's edge; stops at the first that fails.
Status applyPlan(nft::TableEdge& edge, const Plan& plan);

// Removes the table if it exists.
std::string removalScript();

}  // namespace routelet::policy
