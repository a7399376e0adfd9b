#include "controller/masquerade/rules.h"

#include <algorithm>
#include <array>
#include <map>

namespace routelet::masquerade {
namespace {

struct FamilyNames {
  ip::Family family;
  const char* suffix;   // v4, v6
  const char* type;     // the sets' element type
  const char* match;    // the payload expression of an address
  const char* special;  // never masqueraded: multicast has no way back anyway
};
constexpr FamilyNames kFamilies[] = {
    {ip::Family::kV4, "v4", "ipv4_addr", "ip", "224.0.0.0/4"},
    {ip::Family::kV6, "v6", "ipv6_addr", "ip6", "ff00::/8"},
};

std::string localSet(const FamilyNames& f) {
  return std::string("local_") + f.suffix;
}
std::string exemptSet(const FamilyNames& f, int length) {
  return std::string("exempt_") + f.suffix + "_" + std::to_string(length);
}

// The netmask of a prefix length, as an address nft reads: 255.255.255.0, ffff:ffff::.
std::string mask(ip::Family family, int length) {
  std::array<uint8_t, 16> bytes{};
  for (int i = 0; i < length; ++i) bytes[i / 8] |= static_cast<uint8_t>(0x80 >> (i % 8));
  return ip::Address::fromBytes(family, bytes.data()).str();
}

const ip::Prefix* sourceOf(const MasqueradeRules& rules, ip::Family f) {
  for (const auto& p : rules.sources)
    if (p.family() == f) return &p;
  return nullptr;
}

// Exempt keys by prefix length, of one family.
std::map<int, std::vector<ip::Address>> keysByLength(const MasqueradeRules& rules, ip::Family f) {
  std::map<int, std::vector<ip::Address>> out;
  for (const auto& p : rules.keep)
    if (p.family() == f) out[p.length()].push_back(p.network().address());
  return out;
}

// What the shape depends on: the sources and, per family, the exempt lengths.
std::vector<std::pair<ip::Prefix, std::vector<int>>> shapeOf(const MasqueradeRules& rules) {
  std::vector<std::pair<ip::Prefix, std::vector<int>>> shape;
  for (const auto& f : kFamilies) {
    const ip::Prefix* source = sourceOf(rules, f.family);
    if (!source) continue;
    std::vector<int> lengths;
    for (const auto& [length, keys] : keysByLength(rules, f.family)) lengths.push_back(length);
    shape.emplace_back(*source, std::move(lengths));
  }
  return shape;
}

}  // namespace

std::vector<ip::Prefix> outermost(std::vector<ip::Prefix> prefixes) {
  for (auto& p : prefixes) p = p.network();
  std::sort(prefixes.begin(), prefixes.end());
  std::vector<ip::Prefix> out;
  for (const auto& p : prefixes) {
    // Sorted by address, then length: a prefix inside another comes after it, and before
    // any prefix that starts beyond that other one's end.
    if (!out.empty() && out.back().family() == p.family() && out.back().contains(p.address()))
      continue;
    out.push_back(p);
  }
  return out;
}

MasqueradeRules masqueradeRules(const model::NodeCache& cache, const routes::SelfInfo& self,
                                const std::vector<ip::Prefix>& nonMasquerade) {
  MasqueradeRules rules;
  rules.sources = outermost(self.podCIDRs);
  std::vector<ip::Prefix> keep = self.podCIDRs;
  keep.insert(keep.end(), self.clusterCIDRs.begin(), self.clusterCIDRs.end());
  keep.insert(keep.end(), nonMasquerade.begin(), nonMasquerade.end());
  for (const auto& [name, node] : cache.nodes()) {
    if (name == self.name) continue;
    for (const auto& cidr : node.podCIDRs)
      if (!routes::unsafePodCIDR(cidr, self)) keep.push_back(cidr);
  }
  rules.keep = outermost(std::move(keep));
  return rules;
}

std::string masqueradeScript(const MasqueradeRules& rules) {
  // Creating the table first makes the delete succeed when there is none: the three lines
  // replace any table of that name, whatever it held, in one transaction.
  std::string t = masqueradeTableName();
  std::string s = "add table " + t + "\ndelete table " + t + "\nadd table " + t + "\nadd chain " +
                  t +
                  " postrouting { type nat hook postrouting priority srcnat; policy accept; }\n";
  for (const auto& f : kFamilies) {
    const ip::Prefix* source = sourceOf(rules, f.family);
    if (!source) continue;  // a family without a podCIDR here has nothing to masquerade
    std::string chain = std::string("masquerade_") + f.suffix;
    s += "add chain " + t + " " + chain + "\n";
    for (const auto& [length, keys] : keysByLength(rules, f.family)) {
      s += "add set " + t + " " + exemptSet(f, length) + " { type " + f.type + "; }\n";
      s += "add rule " + t + " " + chain + " " + f.match + " daddr & " + mask(f.family, length) +
           " @" + exemptSet(f, length) + " return\n";
    }
    s += "add rule " + t + " " + chain + " " + f.match + " daddr " + f.special + " return\n";
    s += "add rule " + t + " " + chain + " masquerade fully-random\n";
    s += "add set " + t + " " + localSet(f) + " { type " + f.type + "; }\n";
    s += "add rule " + t + " postrouting " + f.match + " saddr & " +
         mask(f.family, source->length()) + " @" + localSet(f) + " jump " + chain + "\n";
  }
  return s;
}

std::vector<SetChange> masqueradeElements(const MasqueradeRules& rules) {
  std::vector<SetChange> changes, locals;
  for (const auto& f : kFamilies) {
    const ip::Prefix* source = sourceOf(rules, f.family);
    if (!source) continue;
    for (auto& [length, keys] : keysByLength(rules, f.family))
      changes.push_back({exemptSet(f, length), f.family, true, std::move(keys), {}});
    locals.push_back({localSet(f), f.family, true, {source->network().address()}, {}});
  }
  changes.insert(changes.end(), locals.begin(), locals.end());
  return changes;
}

std::optional<std::vector<SetChange>> masqueradeUpdate(const MasqueradeRules& from,
                                                       const MasqueradeRules& to) {
  if (shapeOf(from) != shapeOf(to)) return std::nullopt;
  std::vector<SetChange> changes;
  for (const auto& f : kFamilies) {
    if (!sourceOf(to, f.family)) continue;
    auto before = keysByLength(from, f.family);
    auto after = keysByLength(to, f.family);
    for (auto& [length, keys] : after) {
      auto& old = before[length];
      SetChange removed{exemptSet(f, length), f.family, false, {}, {}};
      SetChange added{exemptSet(f, length), f.family, true, {}, {}};
      std::set_difference(old.begin(), old.end(), keys.begin(), keys.end(),
                          std::back_inserter(removed.keys));
      std::set_difference(keys.begin(), keys.end(), old.begin(), old.end(),
                          std::back_inserter(added.keys));
      if (!removed.keys.empty()) changes.push_back(std::move(removed));
      if (!added.keys.empty()) changes.push_back(std::move(added));
    }
  }
  return changes;
}

std::string masqueradeRemovalScript() {
  return "add table " + masqueradeTableName() + "\ndelete table " + masqueradeTableName() + "\n";
}

}  // namespace routelet::masquerade
