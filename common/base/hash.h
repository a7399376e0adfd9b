// A hash for names and addresses that must come out the same everywhere.
#pragma once

#include <cstdint>
#include <string_view>

namespace routelet {

// 64-bit FNV-1a: stable across builds and hosts, so names and MACs derived from it are the
// same for every plugin invocation (DEL and GC recompute what ADD chose) and for the agent.
inline uint64_t stableHash(std::string_view data) {
  uint64_t h = 14695981039346656037ull;
  for (char c : data) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace routelet
