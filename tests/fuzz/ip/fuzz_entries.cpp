#include "tests/fuzz/ip/fuzz_entries.h"

#include <arpa/inet.h>

#include "common/ip/address.h"
#include "tests/fuzz/support/fuzz_check.h"

namespace routelet::ip::fuzz {
namespace {
using routelet::fuzz::accepted;
using routelet::fuzz::asText;
using routelet::fuzz::check;

void checkAddress(std::string_view text, const Address& a) {
  // An address is text without NUL; a parser stopping at one would accept trailing junk.
  check(text.find('\0') == std::string_view::npos);
  std::string printed = a.str();
  check(!printed.empty() && printed.size() < INET6_ADDRSTRLEN);
  auto again = Address::parse(printed);
  check(again.ok() && *again == a && again->str() == printed);
}

void checkPrefix(std::string_view text, const Prefix& p) {
  check(text.find('\0') == std::string_view::npos);
  check(p.length() >= 0 && p.length() <= p.address().byteLength() * 8);
  auto again = Prefix::parseInterface(p.str());
  check(again.ok() && *again == p && again->str() == p.str());
  check(p.network().contains(p.address()) && p.network() == p.network().network());
}

}  // namespace

bool address(const uint8_t* data, size_t size) {
  std::string_view text = asText(data, size);
  auto a = Address::parse(text);
  if (a) checkAddress(text, *a);
  return accepted(a);
}

bool prefix(const uint8_t* data, size_t size) {
  std::string_view text = asText(data, size);
  auto iface = Prefix::parseInterface(text);
  auto loose = Prefix::parse(text, false);
  auto strict = Prefix::parse(text, true);
  // The three differ only in what they do with host bits.
  check(iface.ok() == loose.ok());
  if (loose) {
    check(*loose == *iface);
    checkPrefix(text, *loose);
    check(strict.ok() == (loose->network() == *loose));
  }
  if (strict) check(*strict == strict->network());
  (void)accepted(iface);
  (void)accepted(loose);
  return accepted(strict);
}

}  // namespace routelet::ip::fuzz
