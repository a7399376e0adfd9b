// Fuzz entry points for the IPAM store's two file formats (cni/ipam/records.h). Each returns
// whether the input was accepted and traps when an invariant breaks.
#pragma once

#include <cstddef>
#include <cstdint>

namespace routelet::cni::ipam::fuzz {

// parseLease; an accepted lease is the owner as formatLease writes it, or an index of it.
bool lease(const uint8_t* data, size_t size);
// parseIndex; an accepted record formats back to the input once addresses are canonical.
bool index(const uint8_t* data, size_t size);

}  // namespace routelet::cni::ipam::fuzz
