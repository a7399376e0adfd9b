// The JSON routelet-cni prints: ADD results, error objects and VERSION answers, built by
// pure functions so every supported version's shape is table-tested.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cni/config/net_conf.h"
#include "common/base/result.h"
#include "common/ip/address.h"

namespace routelet::cni::plugin {

struct Interface {
  std::string name;
  config::MacBytes mac{};
  std::string sandbox;  // the netns path for interfaces inside the pod, else empty
  uint32_t mtu = 0;     // reported for 1.1.0 configs only (the field is new in 1.1.0)
  bool operator==(const Interface&) const = default;
};

struct IpConfig {
  ip::Prefix address;  // the pod's address with the subnet's prefix length
  std::optional<ip::Address> gateway;
  std::optional<int> interface;  // index into AddResult::interfaces
  bool operator==(const IpConfig&) const = default;
};

struct RouteEntry {
  ip::Prefix dst;
  std::optional<ip::Address> gw;
  bool operator==(const RouteEntry&) const = default;
};

struct AddResult {
  std::vector<Interface> interfaces;
  std::vector<IpConfig> ips;
  std::vector<RouteEntry> routes;
  bool operator==(const AddResult&) const = default;
};

// The result in the schema of cniVersion: 1.0.0 and 1.1.0 share one schema; 0.3.x and
// 0.4.0 add "version":"4"/"6" to each ips entry. dns is always an empty object.
nlohmann::json resultJsonObject(const AddResult& result, std::string_view cniVersion);
std::string resultJson(const AddResult& result, std::string_view cniVersion);

// Reads a prevResult (any supported version's shape). Error code 7 naming the field.
Result<AddResult> parseResult(const nlohmann::json& doc);

// {"cniVersion","code","msg"[,"details"]}: libcni reads this from stdout.
std::string errorJson(std::string_view cniVersion, int code, std::string_view msg,
                      std::string_view details = {});

// {"cniVersion":<input>,"supportedVersions":[...]}.
std::string versionJson(std::string_view cniVersion);

}  // namespace routelet::cni::plugin
