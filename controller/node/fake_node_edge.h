// A stateful NodeEdge for unit tests: files and sysctls in maps, the bridge as its last
// ensure() said, failures on demand.
#pragma once

#include <cerrno>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/fs/fake_files.h"
#include "controller/node/node_edge.h"

namespace routelet::node {

class FakeNodeEdge : public NodeEdge {
 public:
  Result<HostFacts> inspect(const std::vector<ip::Address>& nodeIPs, const std::string&) override {
    HostFacts f;
    f.onLink = onLink;
    f.nodeIPMtu = nodeIPs.empty() ? 0 : underlayMtu;
    f.nodeIPInterface = "eth0";
    f.nodeIPIndex = nodeIPs.empty() ? 0 : 2;
    return f;
  }
  Status ensureBridge(const std::string& name, uint32_t mtu,
                      const std::vector<ip::Prefix>& gws) override {
    ++bridgeCalls;
    bridgeName = name;
    bridgeMtu = mtu;
    bridgeGateways = gws;
    if (!bridgeError.empty()) return makeError(bridgeError, EPERM);
    return okStatus();
  }
  Status setSysctl(const std::string& key, const std::string& value) override {
    ++sysctlCalls[key];
    if (auto it = sysctlErrors.find(key); it != sysctlErrors.end())
      return makeError(it->second.first, it->second.second);
    sysctls[key] = value;
    return okStatus();
  }
  Result<std::vector<ip::Address>> gateways() override {
    ++gatewayLookups;
    return defaultGateways;
  }
  Result<bool> writeIfChanged(const std::string& path, const std::string& content) override {
    return files.writeIfChanged(path, content);
  }
  Result<std::vector<std::string>> pluginVersions(const std::string& path) override {
    auto it = pluginAnswers.find(path);
    if (it != pluginAnswers.end()) return it->second;
    if (installed.count(path)) return makeError(path + ": no VERSION answer", EIO);
    return makeError(path + ": no such file", ENOENT);
  }

  std::vector<ip::Prefix> onLink = {*ip::Prefix::parse("192.168.1.0/24")};
  std::vector<ip::Address> defaultGateways = {*ip::Address::parse("192.168.1.1")};
  int gatewayLookups = 0;
  uint32_t underlayMtu = 1450;
  fs::FakeFiles files;
  std::map<std::string, std::string> sysctls;
  std::map<std::string, int> sysctlCalls;
  std::map<std::string, std::pair<std::string, int>> sysctlErrors;  // key: message, errno
  // VERSION answers by path; a plugin in neither is not installed.
  std::map<std::string, std::vector<std::string>> pluginAnswers;
  std::set<std::string> installed;  // plugins that are there but give no answer
  int bridgeCalls = 0;
  std::string bridgeError;  // set: ensureBridge fails with it
  std::string bridgeName;
  uint32_t bridgeMtu = 0;
  std::vector<ip::Prefix> bridgeGateways;
};

}  // namespace routelet::node
