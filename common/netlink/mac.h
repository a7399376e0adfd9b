// Ethernet addresses as routelet handles them: the six bytes a link or a neighbour carries,
// their text form, and the stable MACs routelet derives for the devices it makes.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/base/result.h"

namespace routelet::netlink {

using Mac = std::array<uint8_t, 6>;
std::string macString(const Mac& mac);
Result<Mac> parseMac(const std::string& text);

// A unicast, locally administered MAC (IEEE 802: bit 0 of the first octet clear, bit 1 set)
// derived from seed, so it never collides with a vendor-assigned address.
Mac derivedMac(std::string_view seed);

}  // namespace routelet::netlink
