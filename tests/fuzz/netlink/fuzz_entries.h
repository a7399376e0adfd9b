// Fuzz entry points for the rtnetlink message code (common/netlink/message.h). Each returns
// whether the input was accepted and traps when an invariant breaks.
#pragma once

#include <cstddef>
#include <cstdint>

namespace routelet::netlink::fuzz {

// A received datagram: splitMessages, then the parser of each message's type. Accepted when
// every message parses.
bool messages(const uint8_t* data, size_t size);
// Builder round trip: the input describes a link, an address or a route (first byte picks
// which); what the builder makes, the parser reads back to the same value.
bool build(const uint8_t* data, size_t size);

}  // namespace routelet::netlink::fuzz
