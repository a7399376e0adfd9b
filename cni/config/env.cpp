#include "cni/config/env.h"

#include <array>
#include <vector>

#include "cni/config/codes.h"
#include "cni/config/names.h"

namespace routelet::cni::config {
namespace {

Error invalidEnv(const std::string& message) {
  return makeError(message, kCodeInvalidEnv);
}

constexpr std::array<std::pair<std::string_view, Command>, 6> kCommands = {{
    {"ADD", Command::kAdd},
    {"DEL", Command::kDel},
    {"CHECK", Command::kCheck},
    {"VERSION", Command::kVersion},
    {"GC", Command::kGc},
    {"STATUS", Command::kStatus},
}};

constexpr std::array<std::string_view, 4> kKnownArgs = {
    "K8S_POD_NAMESPACE", "K8S_POD_NAME", "K8S_POD_INFRA_CONTAINER_ID", "K8S_POD_UID"};

bool truthy(std::string_view v) {
  return v == "1" || v == "true" || v == "True" || v == "TRUE";
}

}  // namespace

const char* commandName(Command c) {
  for (const auto& [name, cmd] : kCommands)
    if (cmd == c) return name.data();
  return "?";
}

Result<std::map<std::string, std::string>> parseCniArgs(std::string_view text) {
  std::map<std::string, std::string> out;
  while (!text.empty()) {
    auto semi = text.find(';');
    std::string_view pair = text.substr(0, semi);
    text = semi == std::string_view::npos ? std::string_view() : text.substr(semi + 1);
    if (pair.empty()) continue;  // tolerate "A=1;;B=2" and a trailing ';'
    auto eq = pair.find('=');
    if (eq == std::string_view::npos || eq == 0)
      return invalidEnv("CNI_ARGS entry " + quoteValue(pair) + " is not KEY=VALUE");
    out[std::string(pair.substr(0, eq))] = std::string(pair.substr(eq + 1));
  }
  auto ignore = out.find("IgnoreUnknown");
  if (ignore != out.end() && !truthy(ignore->second) && ignore->second != "0" &&
      ignore->second != "false" && ignore->second != "False" && ignore->second != "FALSE")
    return invalidEnv("CNI_ARGS IgnoreUnknown=" + quoteValue(ignore->second) +
                      " must be 1, 0, true or false");
  if (ignore == out.end() || !truthy(ignore->second)) {
    for (const auto& [key, value] : out) {
      if (key == "IgnoreUnknown") continue;
      bool known = false;
      for (auto k : kKnownArgs) known = known || key == k;
      if (!known)
        return invalidEnv("CNI_ARGS key " + quoteValue(key) +
                          " is not known to routelet-cni (set IgnoreUnknown=1 to ignore it)");
    }
  }
  return out;
}

namespace {
std::optional<std::string> attachmentProblem(const std::string& containerId,
                                             const std::string& ifname) {
  if (!isValidIdentifier(containerId))
    return "CNI_CONTAINERID " + quoteValue(containerId) +
           " must match ^[a-zA-Z0-9][a-zA-Z0-9_.\\-]*$";
  if (containerId.size() > kMaxContainerIdBytes)
    return "CNI_CONTAINERID " + quoteValue(containerId) + " is " +
           std::to_string(containerId.size()) + " bytes long, over the " +
           std::to_string(kMaxContainerIdBytes) + " routelet-cni accepts";
  if (auto why = ifnameProblem(ifname)) return "CNI_IFNAME " + quoteValue(ifname) + " " + *why;
  return std::nullopt;
}
}  // namespace

Result<Env> parseEnv(const Getenv& get) {
  Env env;
  auto command = get("CNI_COMMAND");
  if (!command || command->empty())
    return invalidEnv("required environment variable CNI_COMMAND is missing");
  bool found = false;
  for (const auto& [name, cmd] : kCommands) {
    if (*command == name) {
      env.command = cmd;
      found = true;
    }
  }
  if (!found)
    return invalidEnv("CNI_COMMAND " + quoteValue(*command) +
                      " is not a CNI verb: use ADD, DEL, CHECK, VERSION, GC or STATUS");
  env.path = get("CNI_PATH").value_or("");
  // VERSION, GC and STATUS concern no attachment: libcni passes the attachment variables
  // as "dummy" (VERSION) or "" (GC, STATUS), so they are not read at all.
  if (env.command == Command::kVersion || env.command == Command::kGc ||
      env.command == Command::kStatus)
    return env;

  std::vector<std::string> required = {"CNI_CONTAINERID", "CNI_IFNAME"};
  if (env.command != Command::kDel) required.insert(required.begin() + 1, "CNI_NETNS");
  std::string missing;
  for (const auto& name : required) {
    auto v = get(name.c_str());
    if (!v || v->empty()) missing += (missing.empty() ? "" : ", ") + name;
  }
  if (!missing.empty())
    return invalidEnv(std::string("required environment variable(s) missing for ") +
                      commandName(env.command) + ": " + missing);
  env.containerId = *get("CNI_CONTAINERID");
  env.ifname = *get("CNI_IFNAME");
  env.netns = get("CNI_NETNS").value_or("");
  if (auto why = attachmentProblem(env.containerId, env.ifname)) {
    // No ADD can have made anything for such an attachment, so its DEL has nothing to undo:
    // it succeeds, or the runtime would retry it for ever.
    if (env.command != Command::kDel) return invalidEnv(*why);
    env.neverAdded = *why;
  }
  if (auto args = get("CNI_ARGS")) {
    auto parsed = parseCniArgs(*args);
    if (!parsed) return parsed.error();
    env.args = std::move(*parsed);
  }
  return env;
}

}  // namespace routelet::cni::config
