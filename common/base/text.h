// Text that came from outside (API objects, config files, a peer's reply) made safe to
// log, to print on a terminal and to write into JSON. nlohmann's dump() throws on invalid
// UTF-8, and a raw ESC in a log line is an ANSI escape sequence on the reader's terminal.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace routelet {

// Valid UTF-8 stays as it is, except control characters (C0, DEL and C1, which includes
// the CSI that starts ANSI sequences without ESC); those and every byte that is not part
// of a valid sequence become "\xNN". When the result would exceed `max` bytes it is cut
// between two characters, never inside one, and "..." is appended.
std::string safeText(std::string_view in, std::size_t max = std::string_view::npos);

// safeText(in, max) in double quotes, with '"' and '\' escaped: how an error message
// names a value it was given.
std::string quote(std::string_view in, std::size_t max = 64);

}  // namespace routelet
