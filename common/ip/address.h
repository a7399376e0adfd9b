// IP addresses and prefixes as value types with parse/format round trips.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/base/result.h"

namespace routelet::ip {

enum class Family : uint8_t { kV4 = 4, kV6 = 6 };

// "4" or "6", as CNI results and logs spell it.
const char* familyName(Family f);
// AF_INET / AF_INET6.
int familyAf(Family f);

class Address {
 public:
  Address() = default;
  static Address v4(uint32_t hostOrder);
  static Address fromBytes(Family family, const uint8_t* bytes);
  static Result<Address> parse(std::string_view text);

  Family family() const { return family_; }
  bool isV4() const { return family_ == Family::kV4; }
  int byteLength() const { return isV4() ? 4 : 16; }
  const uint8_t* bytes() const { return bytes_.data(); }
  std::string str() const;

  bool isUnspecified() const;
  bool isLoopback() const;
  bool isMulticast() const;

  // Address + n (n may be negative), wrapping inside the family's space.
  Address offset(int64_t n) const;

  auto operator<=>(const Address&) const = default;

 private:
  Family family_ = Family::kV4;
  std::array<uint8_t, 16> bytes_{};
};

class Prefix {
 public:
  Prefix() = default;
  // Parses "a.b.c.d/n" or "x::/n". With strict, host bits must be zero (a podCIDR must
  // name a network, not a host inside it).
  static Result<Prefix> parse(std::string_view text, bool strict = true);
  // Address with prefix length, host bits kept ("10.0.0.5/24" for an interface address).
  static Result<Prefix> parseInterface(std::string_view text);
  static Prefix make(const Address& address, int length);  // length must be valid

  const Address& address() const { return address_; }
  int length() const { return length_; }
  Family family() const { return address_.family(); }
  std::string str() const;

  Prefix network() const;  // host bits cleared
  bool contains(const Address& a) const;
  bool overlaps(const Prefix& other) const;
  // Number of addresses, saturated at 2^63.
  uint64_t size() const;
  // The n-th address of the network (0 = network address).
  Address nth(uint64_t n) const;
  // Index of a in this network (a must be contained).
  uint64_t indexOf(const Address& a) const;

  auto operator<=>(const Prefix&) const = default;

 private:
  Address address_;
  int length_ = 0;
};

}  // namespace routelet::ip
