// What the C++ benchmarks read of their own process and the machine, and how they print
// it: thread CPU, load average, /proc/self/status figures, the agent's allocator settings.
#pragma once

#include <cstddef>
#include <string>

namespace routelet::bench::cni {

double threadCpuMs();                      // CPU time of the calling thread
std::string loadavg();                     // "1.20 0.90 0.70"
long statusKib(const std::string& field);  // a /proc/self/status field ("VmHWM"); -1: none
void resetPeak();                          // VmHWM starts again from the current resident size
void useAgentMalloc();                     // the allocator settings the agent's main() makes
std::string fmt(const char* format, double value);  // printf of one number
std::string pad(std::string text, size_t width);    // text, spaces to width

}  // namespace routelet::bench::cni
