#include "cni/plugin/commands.h"

#include <algorithm>
#include <set>

#include "cni/config/codes.h"
#include "cni/config/names.h"
#include "cni/config/version.h"
#include "cni/ipam/allocator.h"
#include "cni/ipam/disk_store.h"
#include "cni/plugin/naming.h"
#include "common/base/log.h"
#include "common/netlink/netlink.h"

namespace routelet::cni::plugin {
namespace {
using config::Command;
using config::quoteValue;
using nlohmann::json;

constexpr const char* kValidAttachmentsKey = "cni.dev/valid-attachments";
constexpr const char* kAttachmentsKey = "cni.dev/attachments";

// The version errors are reported in: the config's own when it names one, else the latest.
std::string errorVersion(const json* doc) {
  if (doc) {
    auto v = doc->find("cniVersion");
    if (v != doc->end() && v->is_string()) return v->get<std::string>();
  }
  return std::string(config::kLatestVersion);
}

Outcome failure(const std::string& version, const Error& e, std::string_view details = {}) {
  int code = e.code > 0 ? e.code : kCodeIo;
  log::error("code " + std::to_string(code) + ": " + e.message +
             (details.empty() ? "" : " (" + std::string(details) + ")"));
  return Outcome{1, errorJson(version, code, e.message, details)};
}

// Store errors carry the store's own codes; the runtime sees CNI codes.
Error fromStore(const Error& e) {
  switch (e.code) {
    case ipam::kErrExhausted:
      return makeError(e.message, kCodeExhausted);
    case ipam::kErrAlreadyAllocated:
      return makeError(e.message, kCodeAlreadyAttached);  // it says a DEL must come first
    default:
      return makeError("IPAM store: " + e.message, kCodeIo);
  }
}

std::vector<ipam::Range> ipamRanges(const config::NetConf& conf) {
  std::vector<ipam::Range> out;
  for (const auto& r : conf.ranges) out.push_back({r.subnet, r.gateway, r.rangeStart, r.rangeEnd});
  return out;
}

ip::Prefix defaultRoute(ip::Family f) {
  return *ip::Prefix::parse(f == ip::Family::kV4 ? "0.0.0.0/0" : "::/0");
}

Result<ipam::DiskStore> openStore(const config::NetConf& conf) {
  auto store = ipam::DiskStore::open(conf.dataDir, conf.name);
  if (!store) return fromStore(store.error());
  return store;
}

Outcome cmdAdd(const config::NetConf& conf, const config::Env& env, Dataplane& dp) {
  const ipam::Attachment who{env.containerId, env.ifname};
  auto store = openStore(conf);
  if (!store) return failure(conf.cniVersion, store.error());
  ipam::Allocator ipam(*store);
  auto addresses = ipam.allocate(ipamRanges(conf), who);
  if (!addresses) return failure(conf.cniVersion, fromStore(addresses.error()));

  AttachSpec spec;
  spec.netnsPath = env.netns;
  spec.bridge = conf.bridge;
  spec.bridgeMac = config::effectiveBridgeMac(conf);
  spec.mtu = conf.mtu;
  spec.hairpin = conf.hairpinMode;
  spec.hostVeth = hostVethName(env.containerId, env.ifname);
  spec.hostMac = hostVethMac(env.containerId, env.ifname);
  spec.ifname = env.ifname;
  spec.podMac = podMac(env.containerId, env.ifname);
  for (size_t i = 0; i < conf.ranges.size() && i < addresses->size(); ++i) {
    const auto& r = conf.ranges[i];
    spec.bridgeAddresses.push_back(ip::Prefix::make(r.gateway, r.subnet.length()));
    spec.podAddresses.push_back(ip::Prefix::make((*addresses)[i], r.subnet.length()));
    spec.gateways.push_back(r.gateway);
  }
  auto attached = dp.attach(spec);
  if (!attached) {
    // The dataplane removed what it made; the lease goes too, so a failed ADD leaks nothing.
    if (auto st = ipam.release(who); !st)
      log::error("ADD failed and releasing the lease of " + env.containerId + "/" + env.ifname +
                 " failed too: " + st.error().message);
    return failure(conf.cniVersion, attached.error());
  }
  log::info("ADD " + env.containerId + " " + env.ifname + ": " + spec.hostVeth + " on " +
            conf.bridge);
  return Outcome{0, resultJson(buildAddResult(conf, env, spec, *attached), conf.cniVersion)};
}

Outcome cmdDel(const config::NetConf& conf, const config::Env& env, Dataplane& dp) {
  if (env.neverAdded) {
    log::info("DEL: nothing to undo, no ADD accepts this attachment: " + *env.neverAdded);
    return Outcome{};
  }
  // The host veth is found by its derived name, so DEL needs neither the netns nor a
  // prevResult; deleting it takes the pod end with it.
  const std::string hostVeth = hostVethName(env.containerId, env.ifname);
  if (auto st = dp.detach(hostVeth); !st) return failure(conf.cniVersion, st.error());
  auto store = openStore(conf);
  if (!store) return failure(conf.cniVersion, store.error());
  if (auto st = ipam::Allocator(*store).release({env.containerId, env.ifname}); !st)
    return failure(conf.cniVersion, fromStore(st.error()));
  log::info("DEL " + env.containerId + " " + env.ifname);
  return Outcome{};
}

Outcome cmdCheck(const json& doc, const config::NetConf& conf, const config::Env& env,
                 Dataplane& dp) {
  if (!config::versionAtLeast(conf.cniVersion, "0.4.0"))
    return failure(conf.cniVersion, makeError("CHECK needs cniVersion 0.4.0 or later, config has " +
                                                  quoteValue(conf.cniVersion),
                                              kCodeIncompatibleVersion));
  auto prevIt = doc.find("prevResult");
  if (prevIt == doc.end() || prevIt->is_null())
    return failure(conf.cniVersion,
                   makeError("prevResult is required for CHECK", kCodeInvalidConfig));
  auto prev = parseResult(*prevIt);
  if (!prev) return failure(conf.cniVersion, prev.error());
  auto view =
      dp.inspect(env.netns, env.ifname, hostVethName(env.containerId, env.ifname), conf.bridge);
  if (!view) return failure(conf.cniVersion, view.error());
  auto store = openStore(conf);
  if (!store) return failure(conf.cniVersion, store.error());
  auto leases = ipam::Allocator(*store).leasesOf({env.containerId, env.ifname});
  if (!leases) return failure(conf.cniVersion, fromStore(leases.error()));
  auto diffs = checkDifferences(*prev, env, *view, *leases);
  if (diffs.empty()) return Outcome{};
  std::string msg = "CHECK of " + env.containerId + "/" + env.ifname + " found " +
                    std::to_string(diffs.size()) + " difference(s): ";
  for (size_t i = 0; i < diffs.size(); ++i) msg += (i ? "; " : "") + diffs[i];
  return failure(conf.cniVersion, makeError(msg, kCodeCheckFailed));
}

Outcome cmdGc(const json& doc, const config::NetConf& conf, Dataplane& dp) {
  if (!config::versionAtLeast(conf.cniVersion, "1.1.0"))
    return failure(conf.cniVersion,
                   makeError("GC needs cniVersion 1.1.0, config has " + quoteValue(conf.cniVersion),
                             kCodeIncompatibleVersion));
  auto valid = gcValidList(doc);
  if (!valid) return failure(conf.cniVersion, valid.error());
  if (!*valid) {
    // Without a list the runtime has said nothing about which attachments live (cnitool gc
    // sends none); releasing everything would cut every running pod off.
    log::info("GC without cni.dev/valid-attachments: nothing released");
    return Outcome{};
  }
  const std::vector<ipam::Attachment>& keep = **valid;
  std::vector<std::string> errors;
  auto store = openStore(conf);
  if (!store) return failure(conf.cniVersion, store.error());
  auto report = ipam::Allocator(*store).gc(keep);
  if (!report) {
    errors.push_back(report.error().message);
  } else {
    for (const auto& e : report->errors) errors.push_back(e.message);
    for (const auto& l : report->released)
      log::info("GC released " + l.address.str() + " of " + l.owner.containerId + "/" +
                l.owner.ifname);
  }
  std::set<std::string> keepNames;
  for (const auto& a : keep) keepNames.insert(hostVethName(a.containerId, a.ifname));
  auto ports = dp.bridgePorts(conf.bridge);
  if (!ports) {
    errors.push_back(ports.error().message);
  } else {
    for (const auto& name : *ports) {
      if (!isHostVethName(name) || keepNames.count(name)) continue;
      if (auto st = dp.detach(name); !st)
        errors.push_back(st.error().message);
      else
        log::info("GC removed host veth " + name);
    }
  }
  if (errors.empty()) return Outcome{};
  std::string details;
  for (size_t i = 0; i < errors.size(); ++i) details += (i ? "; " : "") + errors[i];
  return failure(conf.cniVersion,
                 makeError("GC finished with " + std::to_string(errors.size()) + " error(s)",
                           kCodeGcIncomplete),
                 details);
}

Outcome cmdStatus(const config::NetConf& conf) {
  if (!config::versionAtLeast(conf.cniVersion, "1.1.0"))
    return failure(conf.cniVersion, makeError("STATUS needs cniVersion 1.1.0, config has " +
                                                  quoteValue(conf.cniVersion),
                                              kCodeIncompatibleVersion));
  auto store = openStore(conf);
  if (!store)
    return failure(conf.cniVersion,
                   makeError("cannot serve ADD: " + store.error().message, kCodeStatusCannotAdd));
  auto can = ipam::Allocator(*store).canAllocate(ipamRanges(conf));
  if (!can)
    return failure(conf.cniVersion,
                   makeError("cannot serve ADD: " + can.error().message, kCodeStatusCannotAdd));
  if (!*can) {
    std::string ranges;
    for (const auto& r : conf.ranges) ranges += (ranges.empty() ? "" : ", ") + r.subnet.str();
    return failure(conf.cniVersion,
                   makeError("cannot serve ADD: address pool exhausted (ranges " + ranges +
                                 "): delete pods or widen the node's pod CIDR",
                             kCodeStatusCannotAdd));
  }
  return Outcome{};
}

bool sameAddress(const ip::Prefix& a, const ip::Prefix& b) {
  return a.address() == b.address() && a.length() == b.length();
}

}  // namespace

AddResult buildAddResult(const config::NetConf& conf, const config::Env& env,
                         const AttachSpec& spec, const Attached& attached) {
  AddResult r;
  r.interfaces.push_back({conf.bridge, attached.bridgeMac, "", conf.mtu});
  r.interfaces.push_back({spec.hostVeth, spec.hostMac, "", conf.mtu});
  r.interfaces.push_back({env.ifname, spec.podMac, env.netns, conf.mtu});
  const int podIndex = 2;
  for (size_t i = 0; i < spec.podAddresses.size(); ++i) {
    r.ips.push_back({spec.podAddresses[i], spec.gateways[i], podIndex});
    r.routes.push_back({defaultRoute(spec.gateways[i].family()), spec.gateways[i]});
  }
  return r;
}

std::vector<std::string> checkDifferences(const AddResult& prev, const config::Env& env,
                                          const PodView& view,
                                          const std::vector<ip::Address>& leases) {
  std::vector<std::string> diffs;
  const std::string hostVeth = hostVethName(env.containerId, env.ifname);
  const Interface* pod = nullptr;
  for (const auto& i : prev.interfaces)
    if (i.name == env.ifname && !i.sandbox.empty()) pod = &i;
  if (!pod) diffs.push_back("prevResult has no interface " + env.ifname + " with a sandbox");
  if (!view.podLinkFound) {
    diffs.push_back("interface " + env.ifname + " is missing in " + env.netns);
  } else {
    if (pod && pod->mac != view.podMac)
      diffs.push_back("interface " + env.ifname + " has MAC " + netlink::macString(view.podMac) +
                      ", ADD set " + netlink::macString(pod->mac));
    if (!view.podUp) diffs.push_back("interface " + env.ifname + " is down");
    for (const auto& c : prev.ips) {
      bool found = std::any_of(view.podAddresses.begin(), view.podAddresses.end(),
                               [&](const ip::Prefix& p) { return sameAddress(p, c.address); });
      if (!found) diffs.push_back("address " + c.address.str() + " is missing on " + env.ifname);
    }
    for (const auto& r : prev.routes) {
      bool found =
          std::any_of(view.podRoutes.begin(), view.podRoutes.end(), [&](const PodView::Route& k) {
            return k.dst.network() == r.dst.network() && k.gw == r.gw;
          });
      if (!found)
        diffs.push_back("route " + r.dst.str() + (r.gw ? " via " + r.gw->str() : "") +
                        " is missing on " + env.ifname);
    }
  }
  if (!view.hostLinkFound) {
    diffs.push_back("host veth " + hostVeth + " is missing");
  } else {
    if (!view.hostOnBridge) diffs.push_back("host veth " + hostVeth + " is not on the bridge");
    if (!view.hostUp) diffs.push_back("host veth " + hostVeth + " is down");
  }
  std::set<ip::Address> want, held(leases.begin(), leases.end());
  for (const auto& c : prev.ips) want.insert(c.address.address());
  for (const auto& a : want)
    if (!held.count(a)) diffs.push_back("lease of " + a.str() + " is not held by this container");
  for (const auto& a : held)
    if (!want.count(a)) diffs.push_back("lease of " + a.str() + " is held but not in prevResult");
  return diffs;
}

Result<std::optional<std::vector<ipam::Attachment>>> gcValidList(const json& doc) {
  std::optional<std::vector<ipam::Attachment>> out;
  for (const char* key : {kValidAttachmentsKey, kAttachmentsKey}) {
    auto it = doc.find(key);
    if (it == doc.end() || it->is_null()) continue;
    if (!it->is_array())
      return makeError(std::string(key) + " must be an array, got " + config::shownJson(*it),
                       kCodeInvalidConfig);
    if (!out) out.emplace();
    for (size_t i = 0; i < it->size(); ++i) {
      const json& item = (*it)[i];
      const std::string path = std::string(key) + "[" + std::to_string(i) + "]";
      auto id = item.is_object() ? item.find("containerID") : item.end();
      auto ifname = item.is_object() ? item.find("ifname") : item.end();
      if (!item.is_object() || id == item.end() || !id->is_string() || ifname == item.end() ||
          !ifname->is_string())
        return makeError(path + " must be {\"containerID\":string,\"ifname\":string}, got " +
                             config::shownJson(item),
                         kCodeInvalidConfig);
      ipam::Attachment a{id->get<std::string>(), ifname->get<std::string>()};
      if (std::find(out->begin(), out->end(), a) == out->end()) out->push_back(std::move(a));
    }
  }
  return out;
}

Outcome run(const config::Env& env, std::string_view stdinText, Dataplane& dataplane,
            const ConfigHook& onConfig) {
  if (env.command == Command::kVersion) {
    // VERSION may come with only {"cniVersion": ...} or nothing at all; answer in the
    // version asked about when routelet-cni speaks it, else the latest: the list of
    // supported versions is the answer whatever the runtime names.
    json doc = json::parse(stdinText, nullptr, false);
    std::string asked = errorVersion(doc.is_object() ? &doc : nullptr);
    return Outcome{
        0, versionJson(config::isSupportedVersion(asked) ? asked
                                                         : std::string(config::kLatestVersion))};
  }
  auto doc = config::parseDocument(stdinText);
  if (!doc) return failure(errorVersion(nullptr), doc.error());
  const std::string version = errorVersion(&*doc);
  auto conf = config::fromJson(*doc);
  if (!conf) {
    // STATUS reports an unusable config as "cannot serve ADD" so the runtime marks the
    // node's network not ready instead of treating it as a protocol failure.
    if (env.command == Command::kStatus && conf.error().code == kCodeInvalidConfig)
      return failure(version,
                     makeError("cannot serve ADD: config unusable: " + conf.error().message,
                               kCodeStatusCannotAdd));
    return failure(version, conf.error());
  }
  if (onConfig) onConfig(*conf);
  switch (env.command) {
    case Command::kAdd:
      return cmdAdd(*conf, env, dataplane);
    case Command::kDel:
      return cmdDel(*conf, env, dataplane);
    case Command::kCheck:
      return cmdCheck(*doc, *conf, env, dataplane);
    case Command::kGc:
      return cmdGc(*doc, *conf, dataplane);
    case Command::kStatus:
      return cmdStatus(*conf);
    case Command::kVersion:
      break;
  }
  return failure(version, makeError("unreachable command", kCodeInvalidEnv));
}

}  // namespace routelet::cni::plugin
