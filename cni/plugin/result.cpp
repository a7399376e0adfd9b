#include "cni/plugin/result.h"

#include <cstdint>

#include "cni/config/codes.h"
#include "cni/config/names.h"
#include "cni/config/version.h"
#include "common/netlink/netlink.h"

namespace routelet::cni::plugin {
namespace {
using nlohmann::json;

Error badPrev(const std::string& message) {
  return makeError("prevResult: " + message, kCodeInvalidConfig);
}

const json* field(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

Result<std::string> stringField(const json& obj, const std::string& path, const char* key) {
  const json* v = field(obj, key);
  if (!v) return badPrev(path + key + " is missing");
  if (!v->is_string())
    return badPrev(path + key + " must be a string, got " + config::shownJson(*v));
  return v->get<std::string>();
}

Result<ip::Address> addressField(const json& obj, const std::string& path, const char* key) {
  auto text = stringField(obj, path, key);
  if (!text) return text.error();
  auto a = ip::Address::parse(*text);
  if (!a) return badPrev(path + key + " " + config::quoteValue(*text) + " is not an IP address");
  return a;
}

Result<Interface> parseInterface(const json& item, const std::string& path) {
  if (!item.is_object()) return badPrev(path + " must be an object");
  Interface out;
  auto name = stringField(item, path + ".", "name");
  if (!name) return name.error();
  out.name = *name;
  if (field(item, "mac")) {
    auto text = stringField(item, path + ".", "mac");
    if (!text) return text.error();
    auto mac = netlink::parseMac(*text);
    if (!mac) return badPrev(path + ".mac " + config::quoteValue(*text) + " is not a MAC address");
    out.mac = *mac;
  }
  if (field(item, "sandbox")) {
    auto sandbox = stringField(item, path + ".", "sandbox");
    if (!sandbox) return sandbox.error();
    out.sandbox = *sandbox;
  }
  if (const json* mtu = field(item, "mtu")) {
    // IFLA_MTU is a u32: a wider number would be cut to its low bits.
    auto v = config::integerIn(*mtu, 0, UINT32_MAX);
    if (!v)
      return badPrev(path + ".mtu " + config::shownJson(*mtu) + " is not an MTU (0-" +
                     std::to_string(UINT32_MAX) + ")");
    out.mtu = static_cast<uint32_t>(*v);
  }
  return out;
}

Result<IpConfig> parseIp(const json& item, const std::string& path, size_t interfaces) {
  if (!item.is_object()) return badPrev(path + " must be an object");
  IpConfig out;
  auto text = stringField(item, path + ".", "address");
  if (!text) return text.error();
  auto prefix = ip::Prefix::parseInterface(*text);
  if (!prefix) return badPrev(path + ".address: " + prefix.error().message);
  out.address = *prefix;
  if (field(item, "gateway")) {
    auto gw = addressField(item, path + ".", "gateway");
    if (!gw) return gw.error();
    out.gateway = *gw;
  }
  if (const json* index = field(item, "interface")) {
    auto v = config::integerIn(*index, 0, static_cast<int64_t>(interfaces) - 1);
    if (!v)
      return badPrev(path + ".interface " + config::shownJson(*index) +
                     " is not an index into interfaces");
    out.interface = static_cast<int>(*v);
  }
  return out;
}

Result<RouteEntry> parseRoute(const json& item, const std::string& path) {
  if (!item.is_object()) return badPrev(path + " must be an object");
  RouteEntry out;
  auto dst = stringField(item, path + ".", "dst");
  if (!dst) return dst.error();
  auto prefix = ip::Prefix::parse(*dst, false);
  if (!prefix) return badPrev(path + ".dst: " + prefix.error().message);
  out.dst = *prefix;
  if (field(item, "gw")) {
    auto gw = addressField(item, path + ".", "gw");
    if (!gw) return gw.error();
    out.gw = *gw;
  }
  return out;
}

// Parses obj[key] as an array with parse(item, "key[i]"); absent means empty.
template <typename T, typename F>
Status parseList(const json& obj, const char* key, std::vector<T>* out, F parse) {
  const json* list = field(obj, key);
  if (!list) return okStatus();
  if (!list->is_array()) return badPrev(std::string(key) + " must be an array");
  for (size_t i = 0; i < list->size(); ++i) {
    auto item = parse((*list)[i], std::string(key) + "[" + std::to_string(i) + "]");
    if (!item) return item.error();
    out->push_back(std::move(*item));
  }
  return okStatus();
}

}  // namespace

json resultJsonObject(const AddResult& result, std::string_view cniVersion) {
  const bool legacyIps = !config::versionAtLeast(cniVersion, "1.0.0");
  const bool interfaceMtu = config::versionAtLeast(cniVersion, "1.1.0");
  json interfaces = json::array();
  for (const Interface& i : result.interfaces) {
    json item = {{"name", i.name}, {"mac", netlink::macString(i.mac)}};
    if (interfaceMtu && i.mtu != 0) item["mtu"] = i.mtu;
    if (!i.sandbox.empty()) item["sandbox"] = i.sandbox;
    interfaces.push_back(std::move(item));
  }
  json ips = json::array();
  for (const IpConfig& c : result.ips) {
    json item = {{"address", c.address.str()}};
    if (legacyIps) item["version"] = ip::familyName(c.address.family());
    if (c.gateway) item["gateway"] = c.gateway->str();
    if (c.interface) item["interface"] = *c.interface;
    ips.push_back(std::move(item));
  }
  json routes = json::array();
  for (const RouteEntry& r : result.routes) {
    json item = {{"dst", r.dst.str()}};
    if (r.gw) item["gw"] = r.gw->str();
    routes.push_back(std::move(item));
  }
  return json{{"cniVersion", cniVersion},
              {"interfaces", std::move(interfaces)},
              {"ips", std::move(ips)},
              {"routes", std::move(routes)},
              {"dns", json::object()}};
}

std::string resultJson(const AddResult& result, std::string_view cniVersion) {
  return resultJsonObject(result, cniVersion).dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<AddResult> parseResult(const json& doc) {
  if (!doc.is_object()) return badPrev("must be an object");
  AddResult out;
  if (auto s = parseList(doc, "interfaces", &out.interfaces, parseInterface); !s) return s.error();
  const size_t n = out.interfaces.size();
  if (auto s = parseList(
          doc, "ips", &out.ips,
          [n](const json& item, const std::string& path) { return parseIp(item, path, n); });
      !s)
    return s.error();
  if (auto s = parseList(doc, "routes", &out.routes, parseRoute); !s) return s.error();
  return out;
}

std::string errorJson(std::string_view cniVersion, int code, std::string_view msg,
                      std::string_view details) {
  json out = {{"cniVersion", cniVersion}, {"code", code}, {"msg", msg}};
  if (!details.empty()) out["details"] = details;
  // replace: a message may quote hostile bytes; never fail to print the error itself.
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string versionJson(std::string_view cniVersion) {
  json versions = json::array();
  for (auto v : config::kSupportedVersions) versions.push_back(v);
  return json{{"cniVersion", cniVersion}, {"supportedVersions", std::move(versions)}}.dump(
      -1, ' ', false, json::error_handler_t::replace);
}

}  // namespace routelet::cni::plugin
