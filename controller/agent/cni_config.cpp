#include "controller/agent/cni_config.h"

#include "cni/config/net_conf.h"

namespace routelet::agent {

ip::Address gatewayOf(const ip::Prefix& podCIDR) {
  return podCIDR.nth(1);
}

std::string conflistFor(const CniConfigInputs& in) {
  cni::config::NetConf conf;
  conf.cniVersion = "1.1.0";
  conf.name = "routelet";
  conf.bridge = in.bridge;
  conf.mtu = in.mtu;
  conf.dataDir = in.dataDir;
  for (const auto& cidr : in.podCIDRs) {
    conf.ranges.push_back(cni::config::Range{cidr, gatewayOf(cidr), std::nullopt, std::nullopt});
  }
  nlohmann::json plugin = cni::config::toJsonObject(conf);
  // In a conflist the runtime injects cniVersion and name into each plugin's config.
  plugin.erase("cniVersion");
  plugin.erase("name");
  nlohmann::json plugins = nlohmann::json::array({plugin});
  if (in.portmap) {
    plugins.push_back(
        {{"type", "portmap"}, {"capabilities", {{"portMappings", true}}}, {"snat", true}});
  }
  nlohmann::json list = {
      {"cniVersion", "1.1.0"},
      // CNI 1.1: runtimes that know cniVersions pick the highest they support; older
      // ones read cniVersion. Kubernetes requires at least 0.4.0.
      {"cniVersions", {"1.0.0", "1.1.0"}},
      {"name", "routelet"},
      {"plugins", plugins},
  };
  return list.dump(2) + "\n";
}

}  // namespace routelet::agent
