// Runs the routelet-cni binary as a container runtime does: CNI_* environment, config on
// stdin, stdout captured; the child joins the "node" netns (setns) before exec, so the
// bridge and host veths live there and never in the root namespace.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>

namespace routelet::testing {

struct PluginRun {
  int exitCode = -1;
  std::string out;      // stdout
  std::string err;      // stderr
  bool killed = false;  // still running at finish's limit, so killed (exitCode 128 + SIGKILL)
};

class PluginProcess {
 public:
  // Starts the plugin; the config is written to its stdin at once and stdin closed.
  PluginProcess(const std::string& nodeNetnsPath, const std::map<std::string, std::string>& env,
                const std::string& input);
  PluginProcess(PluginProcess&& o) noexcept;
  PluginProcess(const PluginProcess&) = delete;
  PluginProcess& operator=(const PluginProcess&) = delete;
  ~PluginProcess();
  // Waits for exit and collects its output. A plugin still running after `limit` is
  // killed: a test of something that used to block fails instead of hanging the suite.
  PluginRun finish(std::chrono::milliseconds limit = std::chrono::milliseconds::max());

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  int err_ = -1;
};

PluginRun runPlugin(const std::string& nodeNetnsPath, const std::map<std::string, std::string>& env,
                    const std::string& input);

}  // namespace routelet::testing
