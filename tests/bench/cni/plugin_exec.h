// Calls a CNI plugin the way a runtime does: fork/exec with an explicit environment, the
// network config on stdin, the result read from stdout. posix_spawn (a vfork-style clone
// in glibc) keeps the caller's own cost far below the plugins', so the clock measures them.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "common/base/result.h"

namespace routelet::bench::cni {

using Clock = std::chrono::steady_clock;

inline double toMs(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

struct PluginCall {
  std::string binary;
  std::vector<std::string> env;  // "KEY=value", the whole environment of the plugin
  std::string stdinData;
  std::vector<std::string> args;  // after argv[0]; a CNI plugin gets none, `nft -f FILE` two
};

struct PluginOutcome {
  int exitCode = 0;  // the exit status, or 128 + signal number
  std::string out;
  std::string err;
  Clock::duration elapsed{};  // from the spawn until the plugin was reaped
  double cpuMs = 0;           // its user + system CPU time (wait4), blind to others' load
};

// A started plugin. Destroying it without finishPlugin() still reaps the child, so an
// aborted run leaves no zombie and no open descriptor.
class RunningPlugin {
 public:
  RunningPlugin() = default;
  RunningPlugin(RunningPlugin&& o) noexcept;
  RunningPlugin& operator=(RunningPlugin&&) = delete;
  RunningPlugin(const RunningPlugin&) = delete;
  RunningPlugin& operator=(const RunningPlugin&) = delete;
  ~RunningPlugin();

 private:
  friend Result<RunningPlugin> spawnPlugin(const PluginCall& call);
  friend Result<PluginOutcome> finishPlugin(RunningPlugin& plugin);
  pid_t pid_ = -1;
  int outFd_ = -1;
  int errFd_ = -1;
  Clock::time_point start_{};
};

// The config is written to the stdin pipe before the spawn (it fits in the pipe buffer),
// so the timed region holds only the exec, the plugin's work and the reap.
Result<RunningPlugin> spawnPlugin(const PluginCall& call);
// Reads stdout and stderr to their end and reaps the plugin.
Result<PluginOutcome> finishPlugin(RunningPlugin& plugin);
Result<PluginOutcome> runPlugin(const PluginCall& call);

}  // namespace routelet::bench::cni
