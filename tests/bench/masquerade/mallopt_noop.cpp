// Preloaded into the agent by run-masquerade-bench --agent-malloc glibc: the agent's
// mallopt() calls (controller/main.cpp) then do nothing, so the same binary runs on
// glibc's default allocator thresholds, for a heal and a peak memory to compare with its
// own settings. glibc's internal callers use __libc_mallopt and are not affected.
extern "C" int mallopt(int, int) {
  return 1;  // "success", as glibc answers for a known parameter
}
