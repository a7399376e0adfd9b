// Fuzz entry points for routelet-cni's parsers: the network config on stdin, the CNI_*
// environment, CNI_ARGS, a prevResult and GC's valid-attachments list. Each returns whether
// the input was accepted and traps when an invariant breaks (tests/fuzz/support/fuzz_check.h).
#pragma once

#include <cstddef>
#include <cstdint>

namespace routelet::cni::fuzz {

// config::parse; an accepted config serialises with toJson and parses back equal.
bool netConf(const uint8_t* data, size_t size);
// config::parseEnv over "NAME=value" lines (NUL-free lines, like a real environment).
bool env(const uint8_t* data, size_t size);
// config::parseCniArgs; an accepted map printed as "K=V;..." parses back equal.
bool cniArgs(const uint8_t* data, size_t size);
// plugin::parseResult of a JSON document; an accepted result printed for 1.1.0 parses back.
bool prevResult(const uint8_t* data, size_t size);
// plugin::gcValidList of a JSON document (a GC config).
bool gcValidList(const uint8_t* data, size_t size);

}  // namespace routelet::cni::fuzz
