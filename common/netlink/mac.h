// Ethernet addresses as routelet handles them: the six bytes a link or a neighbour carries,
// and their text form.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "common/base/result.h"

namespace routelet::netlink {

using Mac = std::array<uint8_t, 6>;
std::string macString(const Mac& mac);
Result<Mac> parseMac(const std::string& text);

}  // namespace routelet::netlink
