#include "cni/config/net_conf.h"

#include "cni/config/codes.h"
#include "cni/config/names.h"
#include "cni/config/version.h"
#include "common/bridge/bridge.h"
#include "common/netlink/mac.h"

namespace routelet::cni::config {
namespace {
using nlohmann::json;

Error invalid(const std::string& message) {
  return makeError(message, kCodeInvalidConfig);
}

// The JSON value of a field as text for an error message.
std::string shown(const json& v) {
  return shownJson(v);
}

// Reads an optional string field; a present non-string is an error naming the field.
Status readString(const json& obj, const std::string& path, const char* key, std::string* out,
                  bool required = false) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) {
    if (required) return invalid(path + key + " is required");
    return okStatus();
  }
  if (!it->is_string()) return invalid(path + key + " must be a string, got " + shown(*it));
  *out = it->get<std::string>();
  return okStatus();
}

Result<ip::Address> readAddress(const json& obj, const std::string& path, const char* key) {
  std::string text;
  if (auto s = readString(obj, path, key, &text, true); !s) return s.error();
  auto a = ip::Address::parse(text);
  if (!a) return invalid(path + key + " " + quoteValue(text) + " is not an IP address");
  return a;
}

bool isV4Broadcast(const ip::Prefix& subnet, const ip::Address& a) {
  return subnet.family() == ip::Family::kV4 && a == subnet.nth(subnet.size() - 1);
}

Result<Range> readRange(const json& item, size_t i) {
  const std::string path = "ranges[" + std::to_string(i) + "].";
  if (!item.is_object())
    return invalid("ranges[" + std::to_string(i) + "] must be an object, got " + shown(item));
  std::string subnetText;
  if (auto s = readString(item, path, "subnet", &subnetText, true); !s) return s.error();
  auto subnet = ip::Prefix::parse(subnetText, true);
  if (!subnet) return invalid(path + "subnet: " + subnet.error().message);
  const int bits = subnet->address().byteLength() * 8;
  // A /31 or /32 (/127, /128) leaves no address for a pod once network, gateway and
  // broadcast are taken.
  if (subnet->length() > bits - 2)
    return invalid(path + "subnet " + quoteValue(subnetText) + " is too small: use /" +
                   std::to_string(bits - 2) + " or shorter");
  Range r;
  r.subnet = *subnet;
  r.gateway = subnet->nth(1);
  if (item.contains("gateway")) {
    auto gw = readAddress(item, path, "gateway");
    if (!gw) return gw.error();
    if (!subnet->contains(*gw) || *gw == subnet->address() || isV4Broadcast(*subnet, *gw))
      return invalid(path + "gateway " + quoteValue(gw->str()) +
                     " is not a host address of subnet " + subnet->str());
    r.gateway = *gw;
  }
  for (const char* key : {"rangeStart", "rangeEnd"}) {
    if (!item.contains(key)) continue;
    auto a = readAddress(item, path, key);
    if (!a) return a.error();
    if (!subnet->contains(*a) || *a == subnet->address() || isV4Broadcast(*subnet, *a))
      return invalid(path + key + " " + quoteValue(a->str()) + " is not a host address of subnet " +
                     subnet->str());
    (std::string_view(key) == "rangeStart" ? r.rangeStart : r.rangeEnd) = *a;
  }
  if (r.rangeStart && r.rangeEnd && *r.rangeEnd < *r.rangeStart)
    return invalid(path + "rangeEnd " + r.rangeEnd->str() + " is before rangeStart " +
                   r.rangeStart->str());
  return r;
}

Status readRanges(const json& doc, NetConf* conf) {
  auto it = doc.find("ranges");
  if (it == doc.end() || it->is_null())
    return invalid(
        "ranges is required: give the node's pod CIDR(s), e.g. "
        "[{\"subnet\":\"10.244.1.0/24\"}]");
  if (!it->is_array()) return invalid("ranges must be an array, got " + shown(*it));
  if (it->empty() || it->size() > 2)
    return invalid("ranges must hold one or two entries (one per IP family), got " +
                   std::to_string(it->size()));
  for (size_t i = 0; i < it->size(); ++i) {
    auto r = readRange((*it)[i], i);
    if (!r) return r.error();
    conf->ranges.push_back(*r);
  }
  if (conf->ranges.size() == 2) {
    const Range& a = conf->ranges[0];
    const Range& b = conf->ranges[1];
    if (a.subnet.overlaps(b.subnet))
      return invalid("ranges[0].subnet " + a.subnet.str() + " overlaps ranges[1].subnet " +
                     b.subnet.str());
    if (a.subnet.family() == b.subnet.family())
      return invalid(std::string("ranges[0] and ranges[1] are both IPv") +
                     ip::familyName(a.subnet.family()) + " (" + a.subnet.str() + ", " +
                     b.subnet.str() + "): give at most one range per IP family");
  }
  return okStatus();
}

Status readMtu(const json& doc, NetConf* conf) {
  auto it = doc.find("mtu");
  if (it == doc.end() || it->is_null()) return okStatus();
  if (!it->is_number_integer()) return invalid("mtu must be an integer, got " + shown(*it));
  // 68 is IPv4's minimum (RFC 791), 1280 IPv6's (RFC 8200); the kernel refuses an IPv6
  // address on a link below 1280.
  const bool v6 = conf->range(ip::Family::kV6) != nullptr;
  const uint32_t min = v6 ? 1280 : 68;
  auto mtu = integerIn(*it, min, 65535);
  if (!mtu)
    return invalid("mtu " + shown(*it) + " is out of range: use " + std::to_string(min) + "-65535" +
                   (v6 ? " (IPv6 needs at least 1280)" : ""));
  conf->mtu = static_cast<uint32_t>(*mtu);
  return okStatus();
}

Status readBool(const json& doc, const char* key, bool* out) {
  auto it = doc.find(key);
  if (it == doc.end() || it->is_null()) return okStatus();
  if (!it->is_boolean())
    return invalid(std::string(key) + " must be true or false, got " + shown(*it));
  *out = it->get<bool>();
  return okStatus();
}

Status readAbsolutePath(const json& doc, const char* key, std::string* out) {
  if (auto s = readString(doc, "", key, out); !s) return s;
  if (!out->empty() && (*out)[0] != '/')
    return invalid(std::string(key) + " " + quoteValue(*out) + " must be an absolute path");
  // open(2) takes the path up to the NUL: the store or log would go somewhere else.
  if (out->find('\0') != std::string::npos)
    return invalid(std::string(key) + " " + quoteValue(*out) + " may not contain a NUL byte");
  return okStatus();
}

}  // namespace

const Range* NetConf::range(ip::Family f) const {
  for (const Range& r : ranges)
    if (r.subnet.family() == f) return &r;
  return nullptr;
}

MacBytes effectiveBridgeMac(const NetConf& conf) {
  return conf.bridgeMac ? *conf.bridgeMac : bridge::bridgeMacFor(conf.bridge);
}

Result<json> parseDocument(std::string_view text) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded())
    return makeError("config on stdin is not valid JSON (" + std::to_string(text.size()) +
                         " bytes, starting " + quoteValue(text.substr(0, 40)) + ")",
                     kCodeDecode);
  if (!doc.is_object())
    return makeError("config on stdin must be a JSON object, got " + shownJson(doc), kCodeDecode);
  return doc;
}

Result<NetConf> fromJson(const json& doc) {
  NetConf conf;
  auto v = doc.find("cniVersion");
  if (v == doc.end() || !v->is_string())
    return makeError(
        "cniVersion is missing or not a string; supported: 0.3.0, 0.3.1, 0.4.0, "
        "1.0.0, 1.1.0",
        kCodeIncompatibleVersion);
  conf.cniVersion = v->get<std::string>();
  if (!isSupportedVersion(conf.cniVersion))
    return makeError("cniVersion " + quoteValue(conf.cniVersion) +
                         " is not supported; supported: 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0",
                     kCodeIncompatibleVersion);

  if (auto s = readString(doc, "", "name", &conf.name, true); !s) return s.error();
  if (!isValidIdentifier(conf.name))
    return invalid("name " + quoteValue(conf.name) + " must match ^[a-zA-Z0-9][a-zA-Z0-9_.\\-]*$");
  if (auto s = readString(doc, "", "type", &conf.type); !s) return s.error();
  if (auto s = readString(doc, "", "bridge", &conf.bridge, true); !s) return s.error();
  if (auto why = ifnameProblem(conf.bridge))
    return invalid("bridge " + quoteValue(conf.bridge) + " is not a valid interface name: it " +
                   *why);
  if (auto s = readRanges(doc, &conf); !s) return s.error();
  if (auto s = readMtu(doc, &conf); !s) return s.error();
  if (auto s = readAbsolutePath(doc, "dataDir", &conf.dataDir); !s) return s.error();
  if (conf.dataDir.empty()) conf.dataDir = std::string(kDefaultDataDir);
  if (auto s = readAbsolutePath(doc, "logFile", &conf.logFile); !s) return s.error();
  if (auto s = readString(doc, "", "logLevel", &conf.logLevel); !s) return s.error();
  if (auto s = readBool(doc, "hairpinMode", &conf.hairpinMode); !s) return s.error();
  if (!conf.logLevel.empty() && conf.logLevel != "debug" && conf.logLevel != "info" &&
      conf.logLevel != "warn" && conf.logLevel != "error")
    return invalid("logLevel " + quoteValue(conf.logLevel) + " must be debug, info, warn or error");

  std::string macText;
  if (auto s = readString(doc, "", "bridgeMac", &macText); !s) return s.error();
  if (!macText.empty()) {
    auto mac = netlink::parseMac(macText);
    if (!mac) return invalid("bridgeMac " + quoteValue(macText) + " is not a MAC address");
    // A multicast (group bit set) or all-zero MAC cannot be a link's own address.
    bool zero = true;
    for (uint8_t b : *mac) zero = zero && b == 0;
    if (zero || ((*mac)[0] & 1) != 0)
      return invalid("bridgeMac " + quoteValue(macText) + " must be a unicast, non-zero MAC");
    conf.bridgeMac = *mac;
  }
  return conf;
}

Result<NetConf> parse(std::string_view text) {
  auto doc = parseDocument(text);
  if (!doc) return doc.error();
  return fromJson(*doc);
}

json toJsonObject(const NetConf& conf) {
  json ranges = json::array();
  for (const Range& r : conf.ranges) {
    json item = {{"subnet", r.subnet.str()}, {"gateway", r.gateway.str()}};
    if (r.rangeStart) item["rangeStart"] = r.rangeStart->str();
    if (r.rangeEnd) item["rangeEnd"] = r.rangeEnd->str();
    ranges.push_back(std::move(item));
  }
  json out = {{"cniVersion", conf.cniVersion},
              {"name", conf.name},
              {"type", conf.type},
              {"bridge", conf.bridge},
              {"mtu", conf.mtu},
              {"dataDir", conf.dataDir},
              {"ranges", std::move(ranges)},
              {"hairpinMode", conf.hairpinMode}};
  if (conf.bridgeMac) out["bridgeMac"] = netlink::macString(*conf.bridgeMac);
  if (!conf.logFile.empty()) out["logFile"] = conf.logFile;
  if (!conf.logLevel.empty()) out["logLevel"] = conf.logLevel;
  return out;
}

std::string toJson(const NetConf& conf) {
  // replace: a NetConf built in code may hold bytes that are not UTF-8; never throw.
  return toJsonObject(conf).dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace routelet::cni::config
