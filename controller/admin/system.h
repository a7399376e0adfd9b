// The node as `routelet status` and `routelet cleanup` see it: the kernel's routes, links
// and nftables tables, a few files and the agent's HTTP endpoints. One real implementation
// (kernel_system.h) and a stateful fake in the unit tests.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "common/netlink/netlink.h"
#include "controller/masquerade/rules.h"
#include "controller/policy/ruleset.h"

namespace routelet::admin {

// What an HTTP GET of one of the agent's endpoints returned. status 0: no answer.
struct HttpAnswer {
  int status = 0;
  std::string body;  // first line of the body, or why there was no answer
};

using masquerade::masqueradeTableName;  // as `nft list tables` names it
// routelet's nftables tables as `nft list tables` names them: masquerade's, NetworkPolicy's.
inline std::vector<std::string> routeletTables() {
  return {masqueradeTableName(), policy::policyTableName()};
}

// The sysctls the agent's bridgeNetfilter sets, per network namespace; their files exist
// only where br_netfilter is loaded. Read with sysctl::pathOf and System::readFile.
inline constexpr const char* kBridgeNfCallIptables = "net.bridge.bridge-nf-call-iptables";
inline constexpr const char* kBridgeNfCallIp6tables = "net.bridge.bridge-nf-call-ip6tables";

struct DirEntry {
  std::string name;
  bool directory = false;
};

class System {
 public:
  virtual ~System() = default;

  // Every route of the main table, both families (cached and cloned routes left out).
  virtual Result<std::vector<netlink::Route>> routes() = 0;
  virtual Result<std::vector<netlink::Link>> links() = 0;
  virtual Status deleteRoute(const netlink::Route& route) = 0;
  virtual Status deleteLink(const netlink::Link& link) = 0;

  // The nftables tables of this namespace as "family name" ("inet routelet", "ip filter").
  virtual Result<std::vector<std::string>> nftablesTables() = 0;
  // Deletes one of routelet's tables (routeletTables(): any other name is refused) and
  // nothing else; succeeds when it is already gone.
  virtual Status deleteTable(const std::string& table) = 0;

  // Files: readFile and listDir report a missing path with Error::code ENOENT.
  virtual Result<std::string> readFile(const std::string& path) = 0;
  virtual Result<std::vector<DirEntry>> listDir(const std::string& path) = 0;
  virtual bool exists(const std::string& path) = 0;
  // unlink(2) for a file, rmdir(2) for an (empty) directory; ENOENT when already gone.
  virtual Status remove(const std::string& path, bool directory) = 0;

  // GET http://<listen><path> with a short timeout; listen as the agent's --listen.
  virtual HttpAnswer httpGet(const std::string& listen, const std::string& path) = 0;
};

}  // namespace routelet::admin
