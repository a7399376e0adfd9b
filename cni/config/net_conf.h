// routelet-cni's network configuration: the plugin entry of 10-routelet.conflist. The agent
// builds a NetConf and serialises it with toJson; the plugin parses what the runtime hands
// it on stdin. Field reference: cni/README.md.
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/ip/address.h"

namespace routelet::cni::config {

inline constexpr std::string_view kPluginType = "routelet-cni";
inline constexpr std::string_view kDefaultDataDir =
    "/run/routelet/ipam";  // tmpfs: see cni/ipam/disk_store.cpp
inline constexpr uint32_t kDefaultMtu = 1500;

using MacBytes = std::array<uint8_t, 6>;

// One pod address range per family: the node's podCIDR of that family.
struct Range {
  ip::Prefix subnet;
  ip::Address gateway;  // on the bridge; defaults to the subnet's first address
  std::optional<ip::Address> rangeStart;
  std::optional<ip::Address> rangeEnd;
  bool operator==(const Range&) const = default;
};

struct NetConf {
  std::string cniVersion;
  std::string name;
  std::string type = std::string(kPluginType);
  std::string bridge;
  uint32_t mtu = kDefaultMtu;
  std::string dataDir = std::string(kDefaultDataDir);
  std::vector<Range> ranges;          // one IPv4 and/or one IPv6
  std::optional<MacBytes> bridgeMac;  // default: bridge::bridgeMacFor(bridge)
  std::string logFile;                // empty: stderr
  std::string logLevel;               // empty: info
  // Each host veth reflects frames back out of the port they came in on (the bridge port's
  // hairpin mode), so a pod reaching a Service whose endpoint is itself gets its answer.
  bool hairpinMode = true;
  bool operator==(const NetConf&) const = default;

  const Range* range(ip::Family f) const;
};

// The bridge MAC the config gives, else the one routelet derives from the bridge's name
// (bridge::bridgeMacFor, common/bridge/bridge.h).
MacBytes effectiveBridgeMac(const NetConf& conf);

// Decodes JSON text. Error code 6 (kCodeDecode) when it is not a JSON object.
Result<nlohmann::json> parseDocument(std::string_view text);
// Validates a decoded config. Error code 1 for a missing or unsupported cniVersion, 7 for
// anything else, the message naming the field and its value. Unknown keys are ignored
// (SPEC.md: plugins ignore fields they do not know; cni.dev/* is reserved).
Result<NetConf> fromJson(const nlohmann::json& doc);
// parseDocument + fromJson.
Result<NetConf> parse(std::string_view text);

nlohmann::json toJsonObject(const NetConf& conf);
// Compact JSON that parse() reads back to an equal NetConf; defaults are written out so
// the file on disk says everything the plugin will use.
std::string toJson(const NetConf& conf);

}  // namespace routelet::cni::config
