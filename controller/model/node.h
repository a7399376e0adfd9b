// The compact view of a Kubernetes Node that the agent keeps: only the fields routing
// needs. A 5000-node cluster must fit in a few MiB, so whole Node objects are never held.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/ip/address.h"

namespace routelet::model {

struct Node {
  std::string name;
  std::string uid;
  std::string resourceVersion;
  bool deleting = false;  // metadata.deletionTimestamp set

  // spec.podCIDRs (or spec.podCIDR when podCIDRs is absent), parsed; at most one per family.
  std::vector<ip::Prefix> podCIDRs;
  // status.addresses of type InternalIP and ExternalIP, in the order the Node lists them.
  std::vector<ip::Address> internalIPs;
  std::vector<ip::Address> externalIPs;

  // routelet.io/* annotations (bounded in size by the decoder); the agent reads its own
  // Node's to patch only what changed.
  std::map<std::string, std::string> annotations;
  // status of the NetworkUnavailable condition ("True", "False", "Unknown"), if present.
  std::optional<std::string> networkUnavailable;

  // What the decoder could not understand, one line each naming field and value, e.g.
  // `spec.podCIDRs[0] "garbage": invalid CIDR`. Such parts are left out above; the
  // rest of the Node is still usable.
  std::vector<std::string> problems;

  // The podCIDR of a family, if the Node has one.
  std::optional<ip::Prefix> podCIDR(ip::Family family) const {
    for (const auto& p : podCIDRs)
      if (p.family() == family) return p;
    return std::nullopt;
  }
  // The node IP of a family: first InternalIP, else first ExternalIP (as kubelet's
  // --node-ip selection and kindnet do).
  std::optional<ip::Address> nodeIP(ip::Family family) const {
    for (const auto& a : internalIPs)
      if (a.family() == family) return a;
    for (const auto& a : externalIPs)
      if (a.family() == family) return a;
    return std::nullopt;
  }
};

}  // namespace routelet::model
