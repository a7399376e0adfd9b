// CNI spec versions routelet-cni speaks. It implements 1.1.0 and answers every config in
// the config's own version (SPEC.md, "Version considerations").
#pragma once

#include <array>
#include <string_view>

namespace routelet::cni::config {

inline constexpr std::string_view kLatestVersion = "1.1.0";
inline constexpr std::array<std::string_view, 5> kSupportedVersions = {"0.3.0", "0.3.1", "0.4.0",
                                                                       "1.0.0", "1.1.0"};

bool isSupportedVersion(std::string_view v);
// Orders dotted versions numerically ("0.10.0" > "0.4.0"); unparsable parts count as 0.
int compareVersions(std::string_view a, std::string_view b);
inline bool versionAtLeast(std::string_view v, std::string_view min) {
  return compareVersions(v, min) >= 0;
}

}  // namespace routelet::cni::config
