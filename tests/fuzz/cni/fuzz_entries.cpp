#include "tests/fuzz/cni/fuzz_entries.h"

#include <set>

#include "cni/config/codes.h"
#include "cni/config/env.h"
#include "cni/config/names.h"
#include "cni/config/net_conf.h"
#include "cni/config/version.h"
#include "cni/plugin/commands.h"
#include "cni/plugin/result.h"
#include "tests/fuzz/support/fuzz_check.h"

namespace routelet::cni::fuzz {
namespace {
using nlohmann::json;
using routelet::fuzz::accepted;
using routelet::fuzz::asText;
using routelet::fuzz::check;

// The CNI error code a rejection carries must be one the runtime understands.
template <typename T>
void checkCode(const Result<T>& r, std::set<int> codes) {
  if (!r) check(codes.count(r.error().code) == 1);
}

void checkNetConf(const config::NetConf& c) {
  check(config::isSupportedVersion(c.cniVersion));
  check(config::isValidIdentifier(c.name));
  check(!config::ifnameProblem(c.bridge));
  check(!c.ranges.empty() && c.ranges.size() <= 2);
  for (const auto& r : c.ranges) {
    check(r.subnet == r.subnet.network());
    check(r.subnet.contains(r.gateway) && r.gateway != r.subnet.address());
    if (r.rangeStart) check(r.subnet.contains(*r.rangeStart));
    if (r.rangeEnd) check(r.subnet.contains(*r.rangeEnd));
    if (r.rangeStart && r.rangeEnd) check(!(*r.rangeEnd < *r.rangeStart));
  }
  if (c.ranges.size() == 2) check(c.ranges[0].subnet.family() != c.ranges[1].subnet.family());
  check(c.mtu >= 68 && c.mtu <= 65535);
  check(!c.dataDir.empty() && c.dataDir[0] == '/');
  check(c.logFile.empty() || c.logFile[0] == '/');
  // Paths reach open(2) as C strings: a NUL would cut them short.
  check(c.dataDir.find('\0') == std::string::npos && c.logFile.find('\0') == std::string::npos);
  auto again = config::parse(config::toJson(c));
  check(again.ok() && *again == c);
}

// Parses JSON without exceptions; nullopt when the input is not JSON at all.
std::optional<json> document(const uint8_t* data, size_t size) {
  json doc = json::parse(asText(data, size), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return std::nullopt;
  return doc;
}

}  // namespace

bool netConf(const uint8_t* data, size_t size) {
  auto c = config::parse(asText(data, size));
  checkCode(c, {kCodeIncompatibleVersion, kCodeDecode, kCodeInvalidConfig});
  if (c) checkNetConf(*c);
  return accepted(c);
}

bool env(const uint8_t* data, size_t size) {
  std::map<std::string, std::string> vars;
  std::string_view rest = asText(data, size);
  while (!rest.empty()) {
    std::string_view line = rest.substr(0, rest.find('\n'));
    rest.remove_prefix(std::min(rest.size(), line.size() + 1));
    auto eq = line.find('=');
    // A real environment cannot hold NUL bytes or a name with '='.
    if (eq == std::string_view::npos || line.find('\0') != std::string_view::npos) continue;
    vars[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
  }
  auto get = [&vars](const char* name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
  auto e = config::parseEnv(get);
  checkCode(e, {kCodeInvalidEnv});
  if (e && e->command != config::Command::kVersion && e->command != config::Command::kGc &&
      e->command != config::Command::kStatus) {
    // Only a DEL may name an attachment no ADD accepts, and it is marked as such.
    check(!e->neverAdded || e->command == config::Command::kDel);
    if (!e->neverAdded) {
      check(config::isValidIdentifier(e->containerId));
      check(e->containerId.size() <= config::kMaxContainerIdBytes);
      check(!config::ifnameProblem(e->ifname));
    }
    check(e->command == config::Command::kDel || !e->netns.empty());
  }
  return accepted(e);
}

bool cniArgs(const uint8_t* data, size_t size) {
  auto args = config::parseCniArgs(asText(data, size));
  checkCode(args, {kCodeInvalidEnv});
  if (args) {
    std::string printed;
    for (const auto& [k, v] : *args) {
      check(!k.empty() && k.find_first_of("=;") == std::string::npos);
      check(v.find(';') == std::string::npos);
      printed += k + "=" + v + ";";
    }
    auto again = config::parseCniArgs(printed);
    check(again.ok() && *again == *args);
  }
  return accepted(args);
}

bool prevResult(const uint8_t* data, size_t size) {
  auto doc = document(data, size);
  if (!doc) return false;
  auto r = plugin::parseResult(*doc);
  checkCode(r, {kCodeInvalidConfig});
  if (r) {
    for (const auto& ipc : r->ips)
      if (ipc.interface)
        check(*ipc.interface >= 0 && size_t(*ipc.interface) < r->interfaces.size());
    auto again = plugin::parseResult(plugin::resultJsonObject(*r, config::kLatestVersion));
    check(again.ok() && *again == *r);
  }
  return accepted(r);
}

bool gcValidList(const uint8_t* data, size_t size) {
  auto doc = document(data, size);
  if (!doc || !doc->is_object()) return false;
  auto list = plugin::gcValidList(*doc);
  checkCode(list, {kCodeInvalidConfig});
  if (list && *list) {
    // Duplicates are dropped: GC compares every lease against this list.
    std::set<ipam::Attachment> unique((*list)->begin(), (*list)->end());
    check(unique.size() == (*list)->size());
  }
  return accepted(list);
}

}  // namespace routelet::cni::fuzz
