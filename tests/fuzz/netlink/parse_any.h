// The parser of each message's type over a whole datagram, results dropped: what the
// netlink fuzz target and the unit tests run on hostile input to show that no parser of
// common/netlink/message.h crashes on it. Test support, not part of routelet itself.
#pragma once

#include <cstddef>
#include <cstdint>

namespace routelet::netlink::fuzz {

// Splits and parses whatever it is given; never crashes. Always returns 0, as a libFuzzer
// entry does.
int parseAny(const uint8_t* data, size_t size);

}  // namespace routelet::netlink::fuzz
