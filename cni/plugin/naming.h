// Names and MACs derived from the attachment (container ID, ifname), so DEL and GC find
// what ADD made without the pod's netns and without any state file.
#pragma once

#include <string>
#include <string_view>

#include "cni/config/net_conf.h"
#include "common/bridge/bridge.h"

namespace routelet::cni::plugin {

inline constexpr std::string_view kHostVethPrefix = bridge::kPodPortPrefix;

// "rl" + 10 hex digits (40 bits) of a hash of containerId and ifname: 12 bytes, within
// IFNAMSIZ-1 = 15. ':' separates the two because neither may contain it.
std::string hostVethName(std::string_view containerId, std::string_view ifname);
// True for names hostVethName can produce: GC removes only these.
bool isHostVethName(std::string_view name);

config::MacBytes hostVethMac(std::string_view containerId, std::string_view ifname);
config::MacBytes podMac(std::string_view containerId, std::string_view ifname);

}  // namespace routelet::cni::plugin
