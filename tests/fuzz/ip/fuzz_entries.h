// Fuzz entry points for ip::Address and ip::Prefix parsing. Each returns whether the input
// was accepted and traps when an invariant breaks (see tests/fuzz/support/fuzz_check.h).
#pragma once

#include <cstddef>
#include <cstdint>

namespace routelet::ip::fuzz {

// Address::parse; an accepted value prints canonically and parses back to itself.
bool address(const uint8_t* data, size_t size);
// Prefix::parse (strict and not) and Prefix::parseInterface, with the same round trip.
bool prefix(const uint8_t* data, size_t size);

}  // namespace routelet::ip::fuzz
