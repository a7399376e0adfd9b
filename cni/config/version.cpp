#include "cni/config/version.h"

#include <algorithm>
#include <charconv>

namespace routelet::cni::config {

bool isSupportedVersion(std::string_view v) {
  return std::find(kSupportedVersions.begin(), kSupportedVersions.end(), v) !=
         kSupportedVersions.end();
}

int compareVersions(std::string_view a, std::string_view b) {
  auto next = [](std::string_view& s) {
    auto dot = s.find('.');
    std::string_view part = s.substr(0, dot);
    s = dot == std::string_view::npos ? std::string_view() : s.substr(dot + 1);
    unsigned n = 0;
    std::from_chars(part.data(), part.data() + part.size(), n);
    return n;
  };
  while (!a.empty() || !b.empty()) {
    unsigned x = next(a), y = next(b);
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

}  // namespace routelet::cni::config
