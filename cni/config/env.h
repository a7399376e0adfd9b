// The CNI_* environment a runtime sets for each invocation (SPEC.md, "Parameters"),
// validated per verb. Every problem is error code 4 naming the variable and its value.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/base/result.h"

namespace routelet::cni::config {

enum class Command { kAdd, kDel, kCheck, kVersion, kGc, kStatus };
const char* commandName(Command c);

struct Env {
  Command command = Command::kVersion;
  std::string containerId;
  std::string netns;  // may be empty on DEL
  std::string ifname;
  std::string path;
  std::map<std::string, std::string> args;  // CNI_ARGS
  // DEL only: why CNI_CONTAINERID/CNI_IFNAME name an attachment no ADD accepts (the same
  // values are code 4 for every other verb). Such a DEL has nothing to undo.
  std::optional<std::string> neverAdded;
};

// Looks a variable up; nullopt when unset. main() passes getenv, tests a map.
using Getenv = std::function<std::optional<std::string>(const char* name)>;

Result<Env> parseEnv(const Getenv& get);

// "K=V;K=V". Keys containerd and CRI-O send for Kubernetes pods are known; any other key is
// an error unless IgnoreUnknown is true ("1"/"true", as libcni reads it), because a
// runtime passing arguments the plugin silently drops would be surprised.
Result<std::map<std::string, std::string>> parseCniArgs(std::string_view text);

}  // namespace routelet::cni::config
