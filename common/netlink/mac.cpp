#include "common/netlink/mac.h"

#include <cerrno>
#include <cstdio>

#include "common/base/hash.h"

namespace routelet::netlink {

std::string macString(const Mac& mac) {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
                mac[4], mac[5]);
  return buf;
}

Result<Mac> parseMac(const std::string& text) {
  auto bad = [&] {
    return makeError("MAC address \"" + text.substr(0, 64) +
                         "\" is not six colon-separated hex bytes (like 02:42:ac:11:00:02)",
                     EINVAL);
  };
  if (text.size() != 17) return bad();
  Mac mac{};
  for (size_t i = 0; i < 6; ++i) {
    if (i > 0 && text[i * 3 - 1] != ':') return bad();
    unsigned value = 0;
    for (size_t j = 0; j < 2; ++j) {
      char c = text[i * 3 + j];
      unsigned digit;
      if (c >= '0' && c <= '9')
        digit = static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f')
        digit = static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        digit = static_cast<unsigned>(c - 'A' + 10);
      else
        return bad();
      value = value * 16 + digit;
    }
    mac[i] = static_cast<uint8_t>(value);
  }
  return mac;
}

Mac derivedMac(std::string_view seed) {
  uint64_t h = stableHash(seed);
  Mac mac{};
  for (int i = 0; i < 6; ++i) mac[i] = static_cast<uint8_t>(h >> (8 * (7 - i)));
  mac[0] = static_cast<uint8_t>((mac[0] & 0xfc) | 0x02);
  return mac;
}

}  // namespace routelet::netlink
