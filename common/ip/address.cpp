#include "common/ip/address.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <charconv>
#include <cstring>

#include "common/base/text.h"

namespace routelet::ip {

const char* familyName(Family f) {
  return f == Family::kV4 ? "4" : "6";
}
int familyAf(Family f) {
  return f == Family::kV4 ? AF_INET : AF_INET6;
}

Address Address::v4(uint32_t hostOrder) {
  Address a;
  a.family_ = Family::kV4;
  a.bytes_[0] = static_cast<uint8_t>(hostOrder >> 24);
  a.bytes_[1] = static_cast<uint8_t>(hostOrder >> 16);
  a.bytes_[2] = static_cast<uint8_t>(hostOrder >> 8);
  a.bytes_[3] = static_cast<uint8_t>(hostOrder);
  return a;
}

Address Address::fromBytes(Family family, const uint8_t* bytes) {
  Address a;
  a.family_ = family;
  std::memcpy(a.bytes_.data(), bytes, family == Family::kV4 ? 4 : 16);
  return a;
}

Result<Address> Address::parse(std::string_view text) {
  // inet_pton needs a NUL-terminated string; bound the copy so hostile input stays cheap.
  // A NUL would end the C string inet_pton sees and let "10.0.0.1\0junk" through.
  if (text.empty() || text.size() > INET6_ADDRSTRLEN || text.find('\0') != std::string_view::npos) {
    return makeError("invalid IP address " + quote(text));
  }
  std::string s(text);
  Address a;
  if (s.find(':') == std::string::npos) {
    a.family_ = Family::kV4;
    if (inet_pton(AF_INET, s.c_str(), a.bytes_.data()) == 1) return a;
  } else {
    a.family_ = Family::kV6;
    if (inet_pton(AF_INET6, s.c_str(), a.bytes_.data()) == 1) return a;
  }
  return makeError("invalid IP address " + quote(s));
}

std::string Address::str() const {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(familyAf(family_), bytes_.data(), buf, sizeof buf);
  return buf;
}

bool Address::isUnspecified() const {
  for (int i = 0; i < byteLength(); ++i)
    if (bytes_[i] != 0) return false;
  return true;
}

bool Address::isLoopback() const {
  if (isV4()) return bytes_[0] == 127;
  for (int i = 0; i < 15; ++i)
    if (bytes_[i] != 0) return false;
  return bytes_[15] == 1;
}

bool Address::isMulticast() const {
  return isV4() ? (bytes_[0] & 0xf0) == 0xe0 : bytes_[0] == 0xff;
}

Address Address::offset(int64_t n) const {
  Address r = *this;
  // Big-endian add of a signed 64-bit value across the address bytes.
  uint64_t mag = n < 0 ? static_cast<uint64_t>(-(n + 1)) + 1 : static_cast<uint64_t>(n);
  int carry = 0;
  for (int i = byteLength() - 1; i >= 0; --i) {
    int digit = static_cast<int>(mag & 0xff);
    mag >>= 8;
    int v = n < 0 ? r.bytes_[i] - digit - carry : r.bytes_[i] + digit + carry;
    carry = n < 0 ? (v < 0) : (v > 0xff);
    r.bytes_[i] = static_cast<uint8_t>(v & 0xff);
  }
  return r;
}

Result<Prefix> Prefix::parseInterface(std::string_view text) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos) {
    return makeError("invalid CIDR " + quote(text) + ": missing /length");
  }
  auto addr = Address::parse(text.substr(0, slash));
  if (!addr) return makeError("invalid CIDR " + quote(text) + ": bad address");
  auto lenText = text.substr(slash + 1);
  int len = -1;
  auto [end, ec] = std::from_chars(lenText.data(), lenText.data() + lenText.size(), len);
  int max = addr->isV4() ? 32 : 128;
  if (lenText.empty() || ec != std::errc() || end != lenText.data() + lenText.size() || len < 0 ||
      len > max) {
    return makeError("invalid CIDR " + quote(text) + ": prefix length must be 0-" +
                     std::to_string(max));
  }
  return Prefix::make(*addr, len);
}

Result<Prefix> Prefix::parse(std::string_view text, bool strict) {
  auto p = parseInterface(text);
  if (!p) return p;
  if (strict && p->network() != *p) {
    return makeError("invalid CIDR " + quote(text) + ": host bits set (network is " +
                     p->network().str() + ")");
  }
  return p;
}

namespace {

// Whether the first `bits` bits of two addresses agree, compared in place.
bool sameLeadingBits(const uint8_t* a, const uint8_t* b, int bits) {
  int whole = bits / 8;
  for (int i = 0; i < whole; ++i)
    if (a[i] != b[i]) return false;
  int rest = bits % 8;
  if (rest == 0) return true;
  auto mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

}  // namespace

Prefix Prefix::make(const Address& address, int length) {
  Prefix p;
  p.address_ = address;
  p.length_ = length;
  return p;
}

std::string Prefix::str() const {
  return address_.str() + "/" + std::to_string(length_);
}

Prefix Prefix::network() const {
  uint8_t b[16];
  std::memcpy(b, address_.bytes(), address_.byteLength());
  for (int i = 0; i < address_.byteLength(); ++i) {
    int bitsHere = length_ - i * 8;
    if (bitsHere >= 8) continue;
    b[i] = bitsHere <= 0 ? 0 : static_cast<uint8_t>(b[i] & (0xff << (8 - bitsHere)));
  }
  return make(Address::fromBytes(address_.family(), b), length_);
}

bool Prefix::contains(const Address& a) const {
  if (a.family() != family()) return false;
  return sameLeadingBits(address_.bytes(), a.bytes(), length_);
}

bool Prefix::overlaps(const Prefix& other) const {
  if (other.family() != family()) return false;
  return sameLeadingBits(address_.bytes(), other.address_.bytes(),
                         std::min(length_, other.length_));
}

uint64_t Prefix::size() const {
  int hostBits = address_.byteLength() * 8 - length_;
  if (hostBits >= 63) return uint64_t{1} << 63;
  return uint64_t{1} << hostBits;
}

Address Prefix::nth(uint64_t n) const {
  return network().address().offset(static_cast<int64_t>(n));
}

uint64_t Prefix::indexOf(const Address& a) const {
  // Low 64 bits of (a - network): enough for any range routelet allocates from.
  const uint8_t* x = a.bytes();
  const Prefix net = network();
  const uint8_t* base = net.address().bytes();
  int n = a.byteLength();
  uint64_t r = 0;
  int borrow = 0;
  uint64_t mult = 1;
  for (int i = n - 1; i >= 0 && i >= n - 8; --i) {
    int v = x[i] - base[i] - borrow;
    borrow = v < 0;
    r += static_cast<uint64_t>(v & 0xff) * mult;
    mult <<= 8;
  }
  return r;
}

}  // namespace routelet::ip
