#include "controller/node/cni_config.h"

#include "cni/config/net_conf.h"

namespace routelet::node {

ip::Address gatewayOf(const ip::Prefix& podCIDR) {
  return podCIDR.nth(1);
}

std::string conflistFor(const CniConfigInputs& in) {
  cni::config::NetConf conf;
  conf.cniVersion = kConflistVersion;
  conf.name = "routelet";
  conf.bridge = in.bridge;
  conf.mtu = in.mtu;
  conf.dataDir = in.dataDir;
  conf.hairpinMode = in.hairpin;
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
      // libcni before 1.2 (containerd 1.6/1.7, CRI-O up to 1.30) reads only cniVersion
      // and can parse results up to 1.0.0: a 1.1.0 here fails every pod's ADD there.
      // libcni 1.2+ picks the highest entry of cniVersions it implements, 1.1.0, and
      // with it GC and STATUS. cni/README.md has the whole reasoning.
      {"cniVersion", kConflistVersion},
      {"cniVersions", in.offerNewest ? nlohmann::json{kConflistVersion, kConflistNewestVersion}
                                     : nlohmann::json{kConflistVersion}},
      {"name", "routelet"},
      {"plugins", plugins},
  };
  return list.dump(2) + "\n";
}

}  // namespace routelet::node
