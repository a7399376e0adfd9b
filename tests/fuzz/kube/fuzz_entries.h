// Fuzz entry points for the kube client's parsers, shared by the libFuzzer targets and the
// corpus replay test. Each returns whether the input was accepted and traps when an
// invariant the rest of the agent relies on is broken.
#pragma once

#include <cstddef>
#include <cstdint>

namespace routelet::kube::fuzz {

bool node(const uint8_t* data, size_t size);
bool nodeList(const uint8_t* data, size_t size);
// Splits the input into watch lines (the first byte picks chunk sizes) and decodes each.
bool watchStream(const uint8_t* data, size_t size);
bool kubeconfig(const uint8_t* data, size_t size);

}  // namespace routelet::kube::fuzz
