#include "common/base/text.h"

#include <cstdint>
#include <cstdio>

namespace routelet {
namespace {

// The length of the well-formed UTF-8 sequence at the start of s (RFC 3629 section 4:
// no overlong forms, no surrogates, nothing above U+10FFFF), or 0 if there is none.
std::size_t sequenceLength(std::string_view s) {
  auto byte = [&](std::size_t i) { return static_cast<uint8_t>(s[i]); };
  uint8_t b = byte(0);
  if (b < 0x80) return 1;
  std::size_t n = b >= 0xc2 && b <= 0xdf   ? 2
                  : b >= 0xe0 && b <= 0xef ? 3
                  : b >= 0xf0 && b <= 0xf4 ? 4
                                           : 0;
  if (n == 0 || s.size() < n) return 0;
  // The second byte's range depends on the first; the others are plain continuations.
  uint8_t lo = b == 0xe0 ? 0xa0 : b == 0xf0 ? 0x90 : 0x80;
  uint8_t hi = b == 0xed ? 0x9f : b == 0xf4 ? 0x8f : 0xbf;
  if (byte(1) < lo || byte(1) > hi) return 0;
  for (std::size_t i = 2; i < n; ++i)
    if (byte(i) < 0x80 || byte(i) > 0xbf) return 0;
  return n;
}

bool isControl(std::string_view c) {
  auto b = static_cast<uint8_t>(c[0]);
  if (c.size() == 1) return b < 0x20 || b == 0x7f;
  return b == 0xc2 && static_cast<uint8_t>(c[1]) < 0xa0;  // U+0080..U+009F
}

// safeText's work, appended to out; with quotes set, '"' and '\' are escaped too, so a
// quoted value ends where its closing quote is.
void appendSafe(std::string_view in, std::size_t max, bool quotes, std::string& out) {
  std::size_t limit = max == std::string_view::npos ? max : out.size() + max;
  while (!in.empty()) {
    std::size_t n = sequenceLength(in);
    std::string_view c = in.substr(0, n ? n : 1);
    // An invalid byte is escaped alone; a control character by its code point (for C1,
    // U+0080..U+009F, that is its last byte).
    char escaped[8];
    std::string_view piece = c;
    if (n == 0 || isControl(c)) {
      int len = std::snprintf(escaped, sizeof escaped, "\\x%02x", static_cast<uint8_t>(c.back()));
      piece = std::string_view(escaped, static_cast<std::size_t>(len));
    } else if (quotes && (c[0] == '"' || c[0] == '\\')) {
      escaped[0] = '\\';
      escaped[1] = c[0];
      piece = std::string_view(escaped, 2);
    }
    if (out.size() + piece.size() > limit) {
      out += "...";
      return;
    }
    out += piece;
    in.remove_prefix(c.size());
  }
}

}  // namespace

std::string safeText(std::string_view in, std::size_t max) {
  std::string out;
  appendSafe(in, max, false, out);
  return out;
}

std::string quote(std::string_view in, std::size_t max) {
  std::string out = "\"";
  appendSafe(in, max, true, out);
  return out + "\"";
}

}  // namespace routelet
