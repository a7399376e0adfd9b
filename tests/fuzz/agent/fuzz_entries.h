// Fuzz entry points of the agent. Each returns whether the input was accepted and traps
// when an invariant breaks.
#pragma once

#include <cstddef>
#include <cstdint>

namespace routelet::agent::fuzz {

// parseInvocation with --config naming a file whose content is the input.
bool options(const uint8_t* data, size_t size);
// The input is a NodeList; its Nodes, with this node ("self", 10.244.0.0/24) added unless
// the list has it, go through a reconcile pass into status.json and the status patch,
// which must be valid JSON without raw control characters whatever the Nodes hold.
bool nodeStatus(const uint8_t* data, size_t size);

}  // namespace routelet::agent::fuzz
