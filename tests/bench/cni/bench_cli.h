// What every benchmark driver written in C++ needs around its measurements: Ctrl-C that
// unwinds (so the namespaces it made are removed) and checked numeric options.
#pragma once

#include <optional>
#include <string>

namespace routelet::bench::cni {

// SIGINT, SIGTERM and SIGHUP set a flag instead of killing the process. Without
// SA_RESTART: a blocked waitpid/poll returns EINTR, the loops notice the flag and unwind,
// and the namespaces are removed on the way out.
void installInterruptHandler();
bool interrupted();

// The whole of `text` as an integer in [lo, hi], or nullopt.
std::optional<int> parseNumber(const std::string& text, int lo, int hi);

}  // namespace routelet::bench::cni
