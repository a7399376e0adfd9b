#include "cni/config/names.h"

#include "common/base/text.h"

namespace routelet::cni::config {
namespace {
bool isAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
// The kernel's isspace() (lib/ctype.c), which dev_valid_name applies byte by byte: ASCII
// whitespace and 0xa0, Latin-1's no-break space, so a UTF-8 character holding that byte is
// refused by RTM_NEWLINK too.
bool isKernelSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' ||
         static_cast<unsigned char>(c) == 0xa0;
}
// C0 and DEL; C1 (U+0080..U+009F) is UTF-8 0xc2 0x80..0x9f, checked with the byte before.
bool isControl(unsigned char c) {
  return c < 0x20 || c == 0x7f;
}
bool isC1(unsigned char lead, unsigned char c) {
  return lead == 0xc2 && c >= 0x80 && c <= 0x9f;
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
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '\0') return "may not contain a NUL byte";
    if (c == '/' || c == ':') return "may not contain '/' or ':'";
    if (isKernelSpace(c)) return "may not contain whitespace";
    const auto u = static_cast<unsigned char>(c);
    if (isControl(u) || (i > 0 && isC1(static_cast<unsigned char>(s[i - 1]), u)))
      return "may not contain control characters";
  }
  return std::nullopt;
}

std::string quoteValue(std::string_view value) {
  return quote(value, 80);
}

std::optional<int64_t> integerIn(const nlohmann::json& value, int64_t min, int64_t max) {
  int64_t v = 0;
  if (value.is_number_unsigned()) {
    const auto u = value.get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
    v = static_cast<int64_t>(u);
  } else if (value.is_number_integer()) {
    v = value.get<int64_t>();
  } else {
    return std::nullopt;
  }
  if (v < min || v > max) return std::nullopt;
  return v;
}

std::string shownJson(const nlohmann::json& value) {
  if (value.is_string()) return quoteValue(value.get_ref<const std::string&>());
  if (value.is_array()) return "an array of " + std::to_string(value.size()) + " items";
  if (value.is_object()) return "an object with " + std::to_string(value.size()) + " keys";
  return value.dump();  // a number, bool or null: short, and not a string, so unquoted
}

}  // namespace routelet::cni::config
