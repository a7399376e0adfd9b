// The CNI config the agent writes for the runtime: 10-routelet.conflist, carrying
// everything routelet-cni needs (bridge, MTU, ranges, gateways, data dir), so the plugin
// reads no other file. Pure: inputs in, file content out.
#pragma once

#include <string>
#include <vector>

#include "common/ip/address.h"

namespace routelet::node {

struct CniConfigInputs {
  std::string bridge;
  uint32_t mtu = 0;
  std::string dataDir;
  std::vector<ip::Prefix> podCIDRs;  // one per family
  bool portmap = false;              // chain the portmap plugin for hostPort
  // Offer kConflistNewestVersion in cniVersions: only when every chained plugin speaks it,
  // since a runtime that picks it hands it to each of them.
  bool offerNewest = true;
  bool hairpin = true;  // the host veths in hairpin mode
};

// The conflist's cniVersion, the one every libcni reads, and the newest version its
// cniVersions offers to the runtimes that read that list (libcni 1.2 and later).
inline constexpr const char* kConflistVersion = "1.0.0";
inline constexpr const char* kConflistNewestVersion = "1.1.0";

// The gateway of a podCIDR: its first address, on the bridge (as kubenet and the
// reference bridge plugin do).
ip::Address gatewayOf(const ip::Prefix& podCIDR);

std::string conflistFor(const CniConfigInputs& in);

}  // namespace routelet::node
