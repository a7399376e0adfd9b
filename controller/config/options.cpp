#include "controller/config/options.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cstdint>
#include <set>

namespace routelet::config {
namespace {

// One table drives flags, environment variables and YAML keys, so the three can never
// drift apart: --cni-conf-dir, ROUTELET_CNI_CONF_DIR, cniConfDir.
struct Setting {
  const char* flag;
  const char* env;
  const char* yaml;
  std::function<Status(Options&, const std::string&)> apply;
  bool list = false;  // takes comma-separated values (in YAML also a sequence)
};

// "a,b,c" into its parts; "" is one empty part, so a parser names it as a bad value.
std::vector<std::string> splitList(const std::string& v) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    auto comma = v.find(',', start);
    parts.push_back(v.substr(start, comma == std::string::npos ? comma : comma - start));
    if (comma == std::string::npos) return parts;
    start = comma + 1;
  }
}

// "a,b": at most one value of each address family (T: ip::Address or ip::Prefix).
template <typename T>
Status parseOnePerFamily(const std::string& v, const char* twice, std::vector<T>& out) {
  out.clear();
  for (const auto& part : splitList(v)) {
    auto value = T::parse(part);
    if (!value) return value.error();
    for (const auto& have : out)
      if (have.family() == value->family()) return makeError(twice);
    out.push_back(*value);
  }
  return okStatus();
}

Result<uint64_t> parseUnsigned(const std::string& v, uint64_t max) {
  uint64_t out = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (v.empty() || ec != std::errc() || end != v.data() + v.size() || out > max) {
    return makeError("want a whole number from 0 to " + std::to_string(max));
  }
  return out;
}

Result<std::chrono::seconds> parseDuration(const std::string& v) {
  // Accepts "60", "60s", "5m", "1h" (the forms a ConfigMap author reaches for).
  if (v.empty()) return makeError("want a duration like 60s, 5m or 1h");
  uint64_t mult = 1;
  std::string num = v;
  switch (v.back()) {
    case 's':
      num.pop_back();
      break;
    case 'm':
      mult = 60;
      num.pop_back();
      break;
    case 'h':
      mult = 3600;
      num.pop_back();
      break;
    default:
      break;
  }
  auto n = parseUnsigned(num, 7 * 24 * 3600);
  if (!n || *n * mult == 0) return makeError("want a duration like 60s, 5m or 1h (above zero)");
  return std::chrono::seconds(*n * mult);
}

Status setSwitch(bool& field, const std::string& v) {
  if (v == "on" || v == "true") {
    field = true;
  } else if (v == "off" || v == "false") {
    field = false;
  } else {
    return makeError("want on or off");
  }
  return okStatus();
}

Status setPath(std::string& field, const std::string& v) {
  if (v.empty() || v[0] != '/') return makeError("want an absolute path");
  field = v;
  return okStatus();
}

Status setListen(std::string& field, const std::string& v) {
  auto colon = v.rfind(':');
  if (colon == std::string::npos || !parseUnsigned(v.substr(colon + 1), 65535)) {
    return makeError("want HOST:PORT, e.g. 127.0.0.1:9654 or [::1]:9654");
  }
  field = v;
  return okStatus();
}

const std::vector<Setting>& settings() {
  static const std::vector<Setting> table = {
      {"config", "ROUTELET_CONFIG", nullptr,
       [](Options& o, const std::string& v) { return setPath(o.configFile, v); }},
      {"node-name", "NODE_NAME", "nodeName",
       [](Options& o, const std::string& v) -> Status {
         if (v.empty() || v.size() > 253) return makeError("want a Node name (1-253 characters)");
         o.nodeName = v;
         return okStatus();
       }},
      {"kubeconfig", "KUBECONFIG", "kubeconfig",
       [](Options& o, const std::string& v) { return setPath(o.kubeconfig, v); }},
      {"cni-conf-dir", "ROUTELET_CNI_CONF_DIR", "cniConfDir",
       [](Options& o, const std::string& v) { return setPath(o.cniConfDir, v); }},
      {"cni-bin-dir", "ROUTELET_CNI_BIN_DIR", "cniBinDir",
       [](Options& o, const std::string& v) { return setPath(o.cniBinDir, v); }},
      {"ipam-data-dir", "ROUTELET_IPAM_DATA_DIR", "ipamDataDir",
       [](Options& o, const std::string& v) { return setPath(o.ipamDataDir, v); }},
      {"run-dir", "ROUTELET_RUN_DIR", "runDir",
       [](Options& o, const std::string& v) { return setPath(o.runDir, v); }},
      {"proc-sys", "ROUTELET_PROC_SYS", "procSys",
       [](Options& o, const std::string& v) { return setPath(o.procSys, v); }},
      {"bridge", "ROUTELET_BRIDGE", "bridge",
       [](Options& o, const std::string& v) -> Status {
         // IFNAMSIZ is 16 including the NUL (include/uapi/linux/if.h).
         if (v.empty() || v.size() > 15 || v.find_first_of("/: \t") != std::string::npos) {
           return makeError("want an interface name of 1-15 characters without / : or spaces");
         }
         o.bridge = v;
         return okStatus();
       }},
      {"mtu", "ROUTELET_MTU", "mtu",
       [](Options& o, const std::string& v) -> Status {
         auto n = parseUnsigned(v, 65535);
         if (!n || (*n != 0 && *n < 576)) return makeError("want 0 (auto) or 576-65535");
         o.mtu = static_cast<uint32_t>(*n);
         return okStatus();
       }},
      {"route-protocol", "ROUTELET_ROUTE_PROTOCOL", "routeProtocol",
       [](Options& o, const std::string& v) -> Status {
         auto n = parseUnsigned(v, 255);
         if (!n) return n.error();
         if (const char* owner = routeProtocolOwner(static_cast<uint8_t>(*n))) {
           return makeError(v + " is used by " + owner +
                            ": routelet would delete its routes as stale; pick an unused "
                            "number, such as the default 201");
         }
         o.routeProtocol = static_cast<uint8_t>(*n);
         return okStatus();
       }},
      {"resync-period", "ROUTELET_RESYNC_PERIOD", "resyncPeriod",
       [](Options& o, const std::string& v) -> Status {
         auto d = parseDuration(v);
         if (!d) return d.error();
         o.resyncPeriod = *d;
         return okStatus();
       }},
      {"listen", "ROUTELET_LISTEN", "listen",
       [](Options& o, const std::string& v) { return setListen(o.listen, v); }},
      {"metrics-listen", "ROUTELET_METRICS_LISTEN", "metricsListen",
       [](Options& o, const std::string& v) { return setListen(o.metricsListen, v); }},
      {"node-ip", "ROUTELET_NODE_IP", "nodeIP",
       [](Options& o, const std::string& v) -> Status {
         // Comma-separated, one per family, as kubelet's --node-ip.
         return parseOnePerFamily<ip::Address>(v, "two addresses of one family", o.nodeIPs);
       },
       true},
      {"cluster-cidr", "ROUTELET_CLUSTER_CIDR", "clusterCIDRs",
       [](Options& o, const std::string& v) -> Status {
         // Comma-separated, one per family, as kube-controller-manager's --cluster-cidr.
         return parseOnePerFamily<ip::Prefix>(v, "two ranges of one family", o.clusterCIDRs);
       },
       true},
      {"min-pod-cidr-length", "ROUTELET_MIN_POD_CIDR_LENGTH", "minPodCIDRLength",
       [](Options& o, const std::string& v) -> Status {
         // "V4,V6", e.g. the default "8,32".
         auto parts = splitList(v);
         if (parts.size() != 2) return makeError("want IPv4,IPv6 prefix lengths, e.g. 8,32");
         auto v4 = parseUnsigned(parts[0], 32);
         auto v6 = parseUnsigned(parts[1], 128);
         if (!v4 || !v6) return makeError("want IPv4,IPv6 prefix lengths, e.g. 8,32");
         o.minPodCIDRLengthV4 = static_cast<uint8_t>(*v4);
         o.minPodCIDRLengthV6 = static_cast<uint8_t>(*v6);
         return okStatus();
       }},
      {"portmap", "ROUTELET_PORTMAP", "portmap",
       [](Options& o, const std::string& v) -> Status {
         if (v == "auto")
           o.portmap = PortmapMode::kAuto;
         else if (v == "on" || v == "true")
           o.portmap = PortmapMode::kOn;
         else if (v == "off" || v == "false")
           o.portmap = PortmapMode::kOff;
         else
           return makeError("want auto, on or off");
         return okStatus();
       }},
      {"masquerade", "ROUTELET_MASQUERADE", "masquerade",
       [](Options& o, const std::string& v) { return setSwitch(o.masquerade, v); }},
      {"network-policy", "ROUTELET_NETWORK_POLICY", "networkPolicy",
       [](Options& o, const std::string& v) { return setSwitch(o.networkPolicy, v); }},
      {"non-masquerade-cidrs", "ROUTELET_NON_MASQUERADE_CIDRS", "nonMasqueradeCIDRs",
       [](Options& o, const std::string& v) -> Status {
         // Comma-separated (a YAML list is joined with commas); "" for none.
         o.nonMasqueradeCIDRs.clear();
         if (v.empty()) return okStatus();
         for (const auto& part : splitList(v)) {
           auto p = ip::Prefix::parse(part);
           if (!p) return p.error();
           if (p->length() == 0)
             return makeError(p->str() +
                              " would turn masquerade off for every destination; "
                              "set masquerade: off instead");
           o.nonMasqueradeCIDRs.push_back(*p);
         }
         return okStatus();
       },
       true},
      {"bridge-netfilter", "ROUTELET_BRIDGE_NETFILTER", "bridgeNetfilter",
       [](Options& o, const std::string& v) { return setSwitch(o.bridgeNetfilter, v); }},
      {"hairpin", "ROUTELET_HAIRPIN", "hairpin",
       [](Options& o, const std::string& v) { return setSwitch(o.hairpin, v); }},
      {"mode", "ROUTELET_MODE", "mode",
       [](Options& o, const std::string& v) -> Status {
         auto m = routes::parseMode(v);
         if (!m) return m.error();
         o.mode = *m;
         return okStatus();
       }},
      {"vxlan-vni", "ROUTELET_VXLAN_VNI", "vxlanVNI",
       [](Options& o, const std::string& v) -> Status {
         auto n = parseUnsigned(v, 16777215);
         if (!n || *n == 0) return makeError("want a VXLAN network identifier, 1-16777215");
         o.vxlanVNI = static_cast<uint32_t>(*n);
         return okStatus();
       }},
      {"vxlan-port", "ROUTELET_VXLAN_PORT", "vxlanPort",
       [](Options& o, const std::string& v) -> Status {
         auto n = parseUnsigned(v, 65535);
         if (!n || *n == 0) return makeError("want a UDP port, 1-65535");
         o.vxlanPort = static_cast<uint16_t>(*n);
         return okStatus();
       }},
      {"max-nodes", "ROUTELET_MAX_NODES", "maxNodes",
       [](Options& o, const std::string& v) -> Status {
         auto n = parseUnsigned(v, 10000000);
         if (!n || *n == 0) return makeError("want a number of Nodes, 1-10000000");
         o.maxNodes = *n;
         return okStatus();
       }},
      {"max-pods", "ROUTELET_MAX_PODS", "maxPods",
       [](Options& o, const std::string& v) -> Status {
         auto n = parseUnsigned(v, 100000000);
         if (!n || *n == 0) return makeError("want a number of Pods, 1-100000000");
         o.maxPods = *n;
         return okStatus();
       }},
      {"log-level", "ROUTELET_LOG_LEVEL", "logLevel",
       [](Options& o, const std::string& v) -> Status {
         if (!log::parseLevel(v, &o.logLevel)) return makeError("want debug, info, warn or error");
         return okStatus();
       }},
  };
  return table;
}

Error settingError(const std::string& where, const std::string& value, const Error& why) {
  std::string shown = value.size() > 80 ? value.substr(0, 80) + "..." : value;
  return makeError(where + " \"" + shown + "\": " + why.message);
}

Status applyYaml(Options& o, const std::string& path, const std::string& text,
                 const std::set<std::string>& fixed) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return makeError("config file " + path + ": not valid YAML: " + e.what());
  }
  if (root.IsNull()) return okStatus();
  if (!root.IsMap()) return makeError("config file " + path + ": want a mapping of settings");
  for (const auto& kv : root) {
    std::string key;
    try {
      key = kv.first.as<std::string>();
    } catch (const YAML::Exception&) {
      return makeError("config file " + path + ": a key is not a string");
    }
    const Setting* found = nullptr;
    for (const auto& s : settings())
      if (s.yaml && key == s.yaml) found = &s;
    if (!found) {
      return makeError("config file " + path + ": unknown setting \"" + key.substr(0, 64) + "\"");
    }
    if (fixed.count(found->flag)) continue;  // a flag or variable already set it
    std::string value;
    try {
      if (kv.second.IsSequence() && found->list) {
        // A list setting may be a YAML sequence: its items joined as the flag takes them.
        for (std::size_t i = 0; i < kv.second.size(); ++i) {
          if (!kv.second[i].IsScalar()) throw YAML::Exception(YAML::Mark(), "not a scalar");
          value += (i ? "," : "") + kv.second[i].as<std::string>();
        }
      } else {
        if (!kv.second.IsScalar()) throw YAML::Exception(YAML::Mark(), "not a scalar");
        value = kv.second.as<std::string>();
      }
    } catch (const YAML::Exception&) {
      return makeError("config file " + path + ": " + key + " must be " +
                       (found->list ? "a value or a list of values" : "a single value"));
    }
    if (auto st = found->apply(o, value); !st) {
      return settingError("config file " + path + ": " + key, value, st.error());
    }
  }
  return okStatus();
}

// Route protocol numbers with an owner. Sources: the kernel's RTPROT_* values
// (include/uapi/linux/rtnetlink.h; 0-4 are its own, and iproute2's rt_protos names the
// same numbers), FRR's zebra (zebra/rt_netlink.h: 190-198 besides the kernel's 186-192)
// and Calico's Felix (80, on its blackhole and workload routes).
struct ProtocolOwner {
  uint8_t protocol;
  const char* owner;
};
constexpr ProtocolOwner kProtocolOwners[] = {
    {0, "the kernel (unspec)"},
    {1, "the kernel (redirect)"},
    {2, "the kernel"},
    {3, "the kernel (boot)"},
    {4, "the kernel (static)"},
    {8, "gated"},
    {9, "ra"},
    {10, "mrt"},
    {11, "zebra"},
    {12, "bird"},
    {13, "dnrouted"},
    {14, "xorp"},
    {15, "ntk"},
    {16, "dhcp"},
    {17, "mrouted"},
    {18, "keepalived"},
    {42, "babel"},
    {80, "Calico Felix"},
    {99, "openr"},
    {186, "bgp"},
    {187, "isis"},
    {188, "ospf"},
    {189, "rip"},
    {190, "ripng (FRR)"},
    {191, "nhrp (FRR)"},
    {192, "eigrp"},
    {193, "ldp (FRR)"},
    {194, "sharp (FRR)"},
    {195, "pbr (FRR)"},
    {196, "zstatic (FRR)"},
    {197, "openfabric (FRR)"},
    {198, "srte (FRR)"},
};

}  // namespace

const char* routeProtocolOwner(uint8_t protocol) {
  for (const auto& p : kProtocolOwners)
    if (p.protocol == protocol) return p.owner;
  return nullptr;
}

Result<Invocation> parseInvocation(const std::vector<std::string>& args, const Environment& env,
                                   const FileReader& readFile) {
  static const std::set<std::string> kCommands = {"run", "status", "cleanup", "version", "help"};
  Invocation inv;
  std::set<std::string> fixed;  // flags set by a higher-precedence source
  std::vector<std::pair<const Setting*, std::string>> flagValues;
  bool commandSeen = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      inv.command = "help";
      return inv;
    }
    if (a.rfind("--", 0) != 0) {
      if (!commandSeen && kCommands.count(a)) {
        inv.command = a;
        commandSeen = true;
      } else {
        inv.rest.push_back(a);
      }
      continue;
    }
    std::string name = a.substr(2), value;
    auto eq = name.find('=');
    bool hasValue = eq != std::string::npos;
    if (hasValue) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    const Setting* found = nullptr;
    for (const auto& s : settings())
      if (name == s.flag) found = &s;
    if (!found) {
      // Subcommands have their own flags (e.g. `status -o json`, `cleanup --dry-run`).
      inv.rest.push_back(a);
      continue;
    }
    if (!hasValue) {
      if (i + 1 >= args.size()) return makeError("flag --" + name + " needs a value");
      value = args[++i];
    }
    flagValues.emplace_back(found, value);
  }
  for (const auto& [s, value] : flagValues) {
    if (auto st = s->apply(inv.options, value); !st) {
      return settingError(std::string("flag --") + s->flag, value, st.error());
    }
    fixed.insert(s->flag);
  }
  for (const auto& s : settings()) {
    if (fixed.count(s.flag)) continue;
    auto it = env.find(s.env);
    if (it == env.end() || it->second.empty()) continue;
    if (auto st = s.apply(inv.options, it->second); !st) {
      return settingError(std::string("environment variable ") + s.env, it->second, st.error());
    }
    fixed.insert(s.flag);
  }
  if (!inv.options.configFile.empty()) {
    auto text = readFile(inv.options.configFile);
    if (!text) return text.error().wrap("config file " + inv.options.configFile);
    if (auto st = applyYaml(inv.options, inv.options.configFile, *text, fixed); !st)
      return st.error();
  }
  return inv;
}

std::string usage() {
  std::string u =
      "usage: routelet [run|status|cleanup|version] [flags]\n"
      "  run      the node agent (default)\n"
      "  status   what this node has programmed, peer by peer (-o json for scripts)\n"
      "  cleanup  remove everything routelet made on this node (--dry-run)\n"
      "flags (environment variable, config file key):\n";
  for (const auto& s : settings()) {
    u += std::string("  --") + s.flag + " (" + s.env + (s.yaml ? std::string(", ") + s.yaml : "") +
         ")\n";
  }
  return u;
}

routes::RoutesConfig routesConfig(const Options& o) {
  routes::RoutesConfig c;
  c.nodeName = o.nodeName;
  c.protocol = o.routeProtocol;
  c.clusterCIDRs = o.clusterCIDRs;
  c.minPodCIDRLengthV4 = o.minPodCIDRLengthV4;
  c.minPodCIDRLengthV6 = o.minPodCIDRLengthV6;
  c.mode = o.mode;
  c.vxlanVNI = o.vxlanVNI;
  c.vxlanPort = o.vxlanPort;
  return c;
}

}  // namespace routelet::config
