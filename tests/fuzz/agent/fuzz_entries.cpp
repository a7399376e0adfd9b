#include "tests/fuzz/agent/fuzz_entries.h"

#include <set>

#include "controller/agent/options.h"
#include "tests/fuzz/support/fuzz_check.h"

namespace routelet::agent::fuzz {
namespace {
using routelet::fuzz::accepted;
using routelet::fuzz::check;

constexpr const char* kPath = "/etc/routelet/config.yaml";

bool absolute(const std::string& p) {
  return !p.empty() && p[0] == '/';
}

// What the agent relies on for every accepted configuration.
void checkOptions(const Options& o) {
  check(o.configFile == kPath);
  for (const auto* p : {&o.cniConfDir, &o.cniBinDir, &o.ipamDataDir, &o.runDir})
    check(absolute(*p));
  check(o.kubeconfig.empty() || absolute(o.kubeconfig));
  check(!o.bridge.empty() && o.bridge.size() <= 15);
  check(o.mtu == 0 || (o.mtu >= 576 && o.mtu <= 65535));
  check(o.routeProtocol > 4);
  check(o.resyncPeriod.count() > 0 && o.resyncPeriod.count() <= 7 * 24 * 3600);
  check(o.nodeName.size() <= 253);
  check(o.nodeIPs.size() <= 2);
  if (o.nodeIPs.size() == 2) check(o.nodeIPs[0].family() != o.nodeIPs[1].family());
}

}  // namespace

bool options(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  int reads = 0;
  FileReader reader = [&](const std::string& path) -> Result<std::string> {
    ++reads;
    check(path == kPath);
    return text;
  };
  auto inv = parseInvocation({"run", std::string("--config=") + kPath}, {}, reader);
  check(reads == 1);
  if (inv) {
    check(inv->command == "run" && inv->rest.empty());
    checkOptions(inv->options);
  }
  return accepted(inv);
}

}  // namespace routelet::agent::fuzz
