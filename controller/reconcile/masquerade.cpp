#include "controller/reconcile/masquerade.h"

#include <algorithm>

namespace routelet::reconcile {
namespace {

struct FamilyNames {
  ip::Family family;
  const char* suffix;   // set names: local_pods_v4, no_masquerade_v4
  const char* type;     // the sets' element type
  const char* match;    // the payload expression of an address
  const char* special;  // never masqueraded: multicast has no way back anyway
};
constexpr FamilyNames kFamilies[] = {
    {ip::Family::kV4, "v4", "ipv4_addr", "ip", "224.0.0.0/4"},
    {ip::Family::kV6, "v6", "ipv6_addr", "ip6", "ff00::/8"},
};

std::vector<ip::Prefix> ofFamily(const std::vector<ip::Prefix>& all, ip::Family f) {
  std::vector<ip::Prefix> out;
  for (const auto& p : all)
    if (p.family() == f) out.push_back(p);
  return out;
}

std::string elements(const std::vector<ip::Prefix>& prefixes) {
  std::string out = "{ ";
  for (std::size_t i = 0; i < prefixes.size(); ++i) out += (i ? ", " : "") + prefixes[i].str();
  return out + " }";
}

std::string table() {
  return std::string("inet ") + kMasqueradeTable;
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

MasqueradeRules masqueradeRules(const NodeCache& cache, const SelfInfo& self,
                                const std::vector<ip::Prefix>& nonMasquerade) {
  MasqueradeRules rules;
  rules.sources = outermost(self.podCIDRs);
  std::vector<ip::Prefix> keep = self.podCIDRs;
  keep.insert(keep.end(), self.clusterCIDRs.begin(), self.clusterCIDRs.end());
  keep.insert(keep.end(), nonMasquerade.begin(), nonMasquerade.end());
  for (const auto& [name, node] : cache.nodes()) {
    if (name == self.name) continue;
    for (const auto& cidr : node.podCIDRs)
      if (!unsafePodCIDR(cidr, cache, self)) keep.push_back(cidr);
  }
  rules.keep = outermost(std::move(keep));
  return rules;
}

std::string masqueradeScript(const MasqueradeRules& rules) {
  // Creating the table first makes the delete succeed when there is none: the three lines
  // replace any table of that name, whatever it held, in one transaction.
  std::string s = "add table " + table() + "\ndelete table " + table() + "\nadd table " + table() +
                  "\nadd chain " + table() +
                  " postrouting { type nat hook postrouting priority srcnat; policy accept; }\n";
  for (const auto& f : kFamilies) {
    auto sources = ofFamily(rules.sources, f.family);
    if (sources.empty()) continue;
    std::string local = std::string("local_pods_") + f.suffix;
    std::string keep = std::string("no_masquerade_") + f.suffix;
    for (const auto& [name, members] :
         {std::pair{local, sources}, std::pair{keep, ofFamily(rules.keep, f.family)}}) {
      s += "add set " + table() + " " + name + " { type " + f.type + "; flags interval; }\n";
      if (!members.empty())
        s += "add element " + table() + " " + name + " " + elements(members) + "\n";
    }
    s += "add rule " + table() + " postrouting " + f.match + " saddr @" + local + " " + f.match +
         " daddr != @" + keep + " " + f.match + " daddr != " + f.special +
         " masquerade fully-random\n";
  }
  return s;
}

std::optional<std::string> masqueradeUpdate(const MasqueradeRules& from,
                                            const MasqueradeRules& to) {
  if (from.sources != to.sources) return std::nullopt;
  std::string s;
  for (const auto& f : kFamilies) {
    if (ofFamily(to.sources, f.family).empty()) continue;
    auto before = ofFamily(from.keep, f.family);
    auto after = ofFamily(to.keep, f.family);
    std::vector<ip::Prefix> removed, added;
    std::set_difference(before.begin(), before.end(), after.begin(), after.end(),
                        std::back_inserter(removed));
    std::set_difference(after.begin(), after.end(), before.begin(), before.end(),
                        std::back_inserter(added));
    for (const auto& a : added)
      for (const auto& b : before)
        if (a.overlaps(b)) return std::nullopt;
    std::string set = table() + " no_masquerade_" + f.suffix + " ";
    if (!removed.empty()) s += "delete element " + set + elements(removed) + "\n";
    if (!added.empty()) s += "add element " + set + elements(added) + "\n";
  }
  return s;
}

std::string masqueradeRemovalScript() {
  return "add table " + table() + "\ndelete table " + table() + "\n";
}

}  // namespace routelet::reconcile
