// Identifier rules from the CNI spec, shared by the env parser (CNI_CONTAINERID,
// CNI_IFNAME: code 4) and the config parser (network name, bridge: code 7).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace routelet::cni::config {

// SPEC.md: container ID and network name match ^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$.
bool isValidIdentifier(std::string_view s);

// The longest container ID the IPAM store can name a file after (cni/ipam/records.cpp:
// index name plus a temp suffix within NAME_MAX). The env check refuses longer ones with
// code 4, before anything is made; a unit test keeps the two limits equal.
inline constexpr size_t kMaxContainerIdBytes = 120;

// Why s cannot be a routelet interface name, or nullopt when it can. The kernel
// (dev_valid_name) refuses empty names, names of IFNAMSIZ-1 = 15 bytes or more than that,
// "." and "..", and names with '/', ':' or whitespace. routelet also refuses a leading '.'
// (the IPAM store names files after the pod's ifname, and hidden names hide from `ls`), a
// NUL byte (netlink takes the name up to it: "br\0x" would make "br") and control
// characters (the kernel takes them, and they reach terminals through `ip link` and logs).
std::optional<std::string> ifnameProblem(std::string_view s);

// A value quoted for an error message, cut short so hostile input stays readable.
std::string quoteValue(std::string_view value);
// A JSON value for an error message, bounded: strings quoted (quoteValue), other scalars as
// JSON,
// arrays and objects by kind and size. Never dump()s a container: that recurses once per
// nesting level, and 100k nested brackets on stdin would overflow the stack.
std::string shownJson(const nlohmann::json& value);

// value when it is a JSON integer within [min, max], else nullopt. nlohmann keeps an integer
// above INT64_MAX unsigned, and get<int64_t>() of it wraps (2^64-1 reads as -1), so a range
// check on that would pass or report a value nobody wrote.
std::optional<int64_t> integerIn(const nlohmann::json& value, int64_t min, int64_t max);

}  // namespace routelet::cni::config
