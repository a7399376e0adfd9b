// Addresses and ranges from text, for the IPAM tests.
#pragma once

#include <initializer_list>
#include <vector>

#include "cni/ipam/allocator.h"

namespace routelet::cni::ipam::testing {

inline ip::Address addr(const char* text) {
  return *ip::Address::parse(text);
}

inline Range range(const char* subnet, const char* gateway) {
  return Range{*ip::Prefix::parse(subnet), addr(gateway), std::nullopt, std::nullopt};
}

inline std::vector<ip::Address> addrs(std::initializer_list<const char*> texts) {
  std::vector<ip::Address> out;
  for (const char* t : texts) out.push_back(addr(t));
  return out;
}

}  // namespace routelet::cni::ipam::testing
