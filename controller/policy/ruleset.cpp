#include "controller/policy/ruleset.h"

#include <algorithm>
#include <iterator>

namespace routelet::policy {
namespace {

// A set no rule reads: after a whole write the agent adds one element to it over its own
// netlink socket, and the nf_tables monitor learns from that commit which are its own.
constexpr const char* kOwnerSet = "owner";

template <class T>
std::vector<T> minus(const std::vector<T>& a, const std::vector<T>& b) {
  std::vector<T> out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

std::string baseScript() {
  std::string t = policyTableName();
  std::string s = "add table " + t + "\ndelete table " + t + "\nadd table " + t + "\n";
  s += "add set " + t + " " + kOwnerSet + " { type ipv4_addr; }\n";
  for (const char* dir : {"ingress", "egress"}) {
    s += "add map " + t + " " + dir + "4 { type ipv4_addr : verdict; }\n";
    s += "add map " + t + " " + dir + "6 { type ipv6_addr : verdict; }\n";
  }
  struct Base {
    const char* chain;
    const char* hook;
    const char* priority;
    const char* dir;
    const char* map;
  };
  for (const Base& b : {Base{"egress", "forward", "filter - 1", "saddr", "egress"},
                        Base{"egress_host", "input", "filter - 1", "saddr", "egress"},
                        Base{"ingress", "forward", "filter", "daddr", "ingress"}}) {
    std::string c = t + " " + b.chain;
    s += "add chain " + c + " { type filter hook " + b.hook + " priority " + b.priority +
         "; policy accept; }\n";
    s += "add rule " + c + " ct state established,related accept\n";
    s += "add rule " + c +
         " icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, "
         "nd-router-advert } accept\n";
    s += "add rule " + c + " ip " + b.dir + " vmap @" + b.map + "4\n";
    s += "add rule " + c + " ip6 " + b.dir + " vmap @" + b.map + "6\n";
  }
  return s;
}

std::string addSet(const std::string& name, bool ports) {
  bool v4 = familyOfSet(name) == ip::Family::kV4;
  std::string type = v4 ? "ipv4_addr" : "ipv6_addr";
  if (ports) type += " . inet_proto . inet_service";
  return "add set " + policyTableName() + " " + name + " { type " + type + "; }\n";
}

std::string chainRules(const std::string& name, const std::vector<std::string>& rules) {
  std::string s;
  for (const auto& r : rules) s += "add rule " + policyTableName() + " " + name + " " + r + "\n";
  return s;
}

// Isolation chains jump to policy chains: made after them, removed before them.
bool isolation(const std::string& chain) {
  return chain.rfind("ii_", 0) == 0 || chain.rfind("ie_", 0) == 0;
}

std::string mapName(bool ingress, const ip::Address& a) {
  return std::string(ingress ? "ingress" : "egress") + (a.isV4() ? "4" : "6");
}

void verdicts(bool ingress, const std::map<ip::Address, std::string>* from,
              const std::map<ip::Address, std::string>& to, std::string* s) {
  static const std::map<ip::Address, std::string> kNone;
  if (!from) from = &kNone;
  std::string t = policyTableName();
  for (const auto& [a, chain] : *from) {
    auto it = to.find(a);
    if (it == to.end() || it->second != chain)
      *s += "delete element " + t + " " + mapName(ingress, a) + " { " + a.str() + " }\n";
  }
  for (const auto& [a, chain] : to) {
    auto it = from->find(a);
    if (it == from->end() || it->second != chain)
      *s += "add element " + t + " " + mapName(ingress, a) + " { " + a.str() + " : jump " + chain +
            " }\n";
  }
}

}  // namespace

std::string portKeyBytes(const PortKey& k) {
  std::string out(reinterpret_cast<const char*>(k.address.bytes()), k.address.isV4() ? 4 : 16);
  out += std::string{static_cast<char>(k.protocol), 0, 0, 0};
  out += std::string{static_cast<char>(k.port >> 8), static_cast<char>(k.port & 0xff), 0, 0};
  return out;
}

std::string policyTableName() {
  return std::string("inet ") + kPolicyTable;
}

Plan plan(const Desired* from, const Desired& to) {
  static const Desired kEmpty;
  Plan p;
  std::string t = policyTableName();
  const Desired& old = from ? *from : kEmpty;
  if (!from) {
    p.sets = baseScript();
    p.elements.push_back({kOwnerSet, ip::Family::kV4, true, {ip::Address()}, {}});
  }

  // Address sets: new ones made, elements by difference.
  for (const auto& [name, keys] : to.addressSets) {
    auto it = old.addressSets.find(name);
    static const std::vector<ip::Address> kNoKeys;
    const auto& before = it == old.addressSets.end() ? kNoKeys : it->second;
    if (it == old.addressSets.end()) p.sets += addSet(name, false);
    auto removed = minus(before, keys);
    auto added = minus(keys, before);
    ip::Family f = familyOfSet(name);
    if (!removed.empty()) p.elements.push_back({name, f, false, std::move(removed), {}});
    if (!added.empty()) p.elements.push_back({name, f, true, std::move(added), {}});
  }
  for (const auto& [name, keys] : to.portSets) {
    auto it = old.portSets.find(name);
    static const std::vector<PortKey> kNoKeys;
    const auto& before = it == old.portSets.end() ? kNoKeys : it->second;
    if (it == old.portSets.end()) p.sets += addSet(name, true);
    ip::Family f = familyOfSet(name);
    for (bool add : {false, true}) {
      nft::SetChange c{name, f, add, {}, {}};
      for (const auto& k : add ? minus(keys, before) : minus(before, keys))
        c.rawKeys.push_back(portKeyBytes(k));
      if (!c.rawKeys.empty()) p.elements.push_back(std::move(c));
    }
  }

  // Chains: policy chains first, then the isolation chains that jump to them.
  for (bool iso : {false, true}) {
    for (const auto& [name, rules] : to.chains) {
      if (isolation(name) != iso) continue;
      auto it = old.chains.find(name);
      if (it == old.chains.end()) {
        p.rest += "add chain " + t + " " + name + "\n" + chainRules(name, rules);
      } else if (it->second != rules) {
        p.rest += "flush chain " + t + " " + name + "\n" + chainRules(name, rules);
      }
    }
  }
  verdicts(true, from ? &old.ingress : nullptr, to.ingress, &p.rest);
  verdicts(false, from ? &old.egress : nullptr, to.egress, &p.rest);
  // What is no longer used: isolation chains, then policy chains, then sets.
  for (bool iso : {true, false})
    for (const auto& [name, rules] : old.chains)
      if (isolation(name) == iso && !to.chains.contains(name))
        p.rest += "flush chain " + t + " " + name + "\ndelete chain " + t + " " + name + "\n";
  for (const auto& [name, keys] : old.addressSets)
    if (!to.addressSets.contains(name)) p.rest += "delete set " + t + " " + name + "\n";
  for (const auto& [name, keys] : old.portSets)
    if (!to.portSets.contains(name)) p.rest += "delete set " + t + " " + name + "\n";
  if (!from) {
    // Written whole, the table is replaced in one transaction with its chains and verdict
    // maps, so a pod isolated before stays isolated throughout; until the elements follow,
    // its peers' sets are empty, so what it allows is refused for that moment rather than
    // everything let in.
    p.sets += p.rest;
    p.rest.clear();
  }
  return p;
}

Status applyPlan(nft::TableEdge& edge, const Plan& plan) {
  if (!plan.sets.empty())
    if (Status st = edge.nft(plan.sets); !st) return st;
  if (!plan.elements.empty())
    if (Status st = edge.elements(plan.elements); !st) return st;
  if (!plan.rest.empty()) return edge.nft(plan.rest);
  return okStatus();
}

std::string removalScript() {
  return "add table " + policyTableName() + "\ndelete table " + policyTableName() + "\n";
}

}  // namespace routelet::policy
