// Fuzz entry point for the agent's YAML config file (controller/agent/options.h). Returns
// whether the input was accepted and traps when an invariant breaks.
#pragma once

#include <cstddef>
#include <cstdint>

namespace routelet::agent::fuzz {

// parseInvocation with --config naming a file whose content is the input.
bool options(const uint8_t* data, size_t size);

}  // namespace routelet::agent::fuzz
