// Invariant checks shared by every fuzz entry point. A broken invariant traps, so libFuzzer
// reports it as a crash with the input that caused it, and the corpus replay test dies on it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/base/result.h"

namespace routelet::fuzz {

// Error messages end up in logs and in the CNI error object the runtime prints: hostile
// input may be quoted, but never whole. 1 KiB leaves room for a field path and a hint.
inline constexpr size_t kMaxErrorMessage = 1024;

inline void check(bool ok) {
  if (!ok) __builtin_trap();
}

// Every rejection explains itself, in bounded length.
inline void checkError(const Error& e) {
  check(!e.message.empty());
  check(e.message.size() <= kMaxErrorMessage);
}

template <typename T>
bool accepted(const Result<T>& r) {
  if (!r) checkError(r.error());
  return r.ok();
}

inline std::string_view asText(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace routelet::fuzz
