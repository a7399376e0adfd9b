#include "cni/plugin/naming.h"

#include "common/base/hash.h"
#include "common/bridge/bridge.h"
#include "common/netlink/mac.h"

namespace routelet::cni::plugin {
namespace {
constexpr int kHexDigits = bridge::kPodPortHexDigits;

std::string key(std::string_view containerId, std::string_view ifname) {
  std::string k(containerId);
  k += ':';
  k += ifname;
  return k;
}

std::string hashName(std::string_view prefix, std::string_view seed) {
  static const char* kHex = "0123456789abcdef";
  // The high bits of FNV-1a mix every input byte; the low bits only the low ones.
  uint64_t h = stableHash(seed);
  std::string out(prefix);
  for (int i = 0; i < kHexDigits; ++i) out += kHex[(h >> (60 - 4 * i)) & 0xf];
  return out;
}
}  // namespace

std::string hostVethName(std::string_view containerId, std::string_view ifname) {
  return hashName(kHostVethPrefix, key(containerId, ifname));
}

bool isHostVethName(std::string_view name) {
  // One rule for the plugin's GC and the agent's port re-attach: common/bridge owns it.
  return bridge::isPodPortName(name);
}

config::MacBytes hostVethMac(std::string_view containerId, std::string_view ifname) {
  return netlink::derivedMac("routelet-host/" + key(containerId, ifname));
}

config::MacBytes podMac(std::string_view containerId, std::string_view ifname) {
  return netlink::derivedMac("routelet-pod/" + key(containerId, ifname));
}

}  // namespace routelet::cni::plugin
