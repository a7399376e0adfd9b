// Small constructors for reconcile tests and benchmarks. Header-only: the benchmark in
// tests/bench/reconcile includes it too, so both build the same clusters.
#pragma once

#include <cctype>
#include <cstdint>
#include <string>
#include <vector>

#include "common/ip/address.h"
#include "common/netlink/netlink.h"
#include "controller/model/node.h"
#include "controller/model/node_cache.h"
#include "controller/routes/desired.h"

namespace routelet::routes::testing {

// Parses or aborts the test: inputs here are literals written by the test author.
inline ip::Prefix prefix(const std::string& text) {
  return ip::Prefix::parse(text).value();
}
inline ip::Address addr(const std::string& text) {
  return ip::Address::parse(text).value();
}

inline model::Node makeNode(const std::string& name, const std::vector<std::string>& podCIDRs,
                            const std::vector<std::string>& internalIPs,
                            const std::vector<std::string>& externalIPs = {}) {
  model::Node n;
  n.name = name;
  for (const auto& c : podCIDRs) n.podCIDRs.push_back(prefix(c));
  for (const auto& a : internalIPs) n.internalIPs.push_back(addr(a));
  for (const auto& a : externalIPs) n.externalIPs.push_back(addr(a));
  return n;
}

inline netlink::Route makeRoute(const std::string& dst, const std::string& gateway,
                                uint8_t protocol = 201, uint32_t priority = 0,
                                uint32_t table = 254) {
  netlink::Route r;
  r.dst = prefix(dst);
  if (!gateway.empty()) r.gateway = addr(gateway);
  r.protocol = protocol;
  r.priority = priority;
  r.table = table;
  return r;
}

// A gtest parameter name from a case description: letters and digits, '_' elsewhere.
inline std::string testName(const std::string& description) {
  std::string n;
  for (char ch : description) n += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
  return n;
}

// node-1 of the seed scenario, dual-stack.
inline SelfInfo seedSelf() {
  SelfInfo s;
  s.name = "node-1";
  s.podCIDRs = {prefix("10.244.1.0/24"), prefix("fd00:10:244:1::/64")};
  s.nodeIPs = {addr("192.168.1.11"), addr("fd00:1::11")};
  s.onLink = {prefix("192.168.1.0/24"), prefix("fd00:1::/64")};
  return s;
}

// A large single-stack cluster: node i (1-based, i=1 is self) has IP 10.0.x.y inside the
// on-link 10.0.0.0/16 and podCIDR the i-th /24 of 100.64.0.0/10.
inline std::string largeNodeName(int i) {
  std::string digits = std::to_string(i);
  return "node-" + std::string(digits.size() < 5 ? 5 - digits.size() : 0, '0') + digits;
}
inline model::Node largeNode(int i) {
  model::Node n;
  n.name = largeNodeName(i);
  n.podCIDRs.push_back(
      ip::Prefix::make(ip::Address::v4(0x64400000u + (static_cast<uint32_t>(i) << 8)), 24));
  n.internalIPs.push_back(ip::Address::v4(0x0a000000u + static_cast<uint32_t>(i)));
  return n;
}
inline SelfInfo largeSelf() {
  SelfInfo s;
  s.name = largeNodeName(1);
  s.podCIDRs = {largeNode(1).podCIDRs[0]};
  s.nodeIPs = {largeNode(1).internalIPs[0]};
  s.onLink = {prefix("10.0.0.0/16")};
  return s;
}
inline model::NodeCache largeCluster(int nodes) {
  std::vector<model::Node> all;
  for (int i = 1; i <= nodes; ++i) all.push_back(largeNode(i));
  model::NodeCache cache;
  (void)cache.replaceAll(std::move(all));
  return cache;
}

}  // namespace routelet::routes::testing
