#include "cni/config/names.h"

#include "common/base/text.h"

namespace routelet::cni::config {
namespace {
bool isAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
}  // namespace

bool isValidIdentifier(std::string_view s) {
  if (s.empty() || !isAlnum(s[0])) return false;
  for (char c : s)
    if (!isAlnum(c) && c != '_' && c != '.' && c != '-') return false;
  return true;
}

std::optional<std::string> ifnameProblem(std::string_view s) {
  if (s.empty()) return "is empty";
  if (s.size() > 15) return "is longer than 15 bytes";
  if (s.front() == '.') return "may not start with '.'";
  for (char c : s) {
    if (c == '/' || c == ':') return "may not contain '/' or ':'";
    if (isSpace(c)) return "may not contain whitespace";
  }
  return std::nullopt;
}

std::string quoteValue(std::string_view value) {
  return quote(value, 80);
}

uint64_t stableHash(std::string_view data) {
  uint64_t h = 14695981039346656037ull;
  for (char c : data) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

std::array<uint8_t, 6> derivedMac(std::string_view seed) {
  uint64_t h = stableHash(seed);
  std::array<uint8_t, 6> mac{};
  for (int i = 0; i < 6; ++i) mac[i] = static_cast<uint8_t>(h >> (8 * (7 - i)));
  mac[0] = static_cast<uint8_t>((mac[0] & 0xfc) | 0x02);
  return mac;
}

std::string shownJson(const nlohmann::json& value) {
  if (value.is_string()) return quoteValue(value.get_ref<const std::string&>());
  if (value.is_array()) return "an array of " + std::to_string(value.size()) + " items";
  if (value.is_object()) return "an object with " + std::to_string(value.size()) + " keys";
  return value.dump();  // a number, bool or null: short, and not a string, so unquoted
}

}  // namespace routelet::cni::config
