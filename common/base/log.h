// One line per event, to stderr, with a level. Never pass a token or key to these.
#pragma once

#include <string_view>

namespace routelet::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

void setLevel(Level level);
Level level();
// Parses "debug", "info", "warn", "error"; returns false for anything else.
bool parseLevel(std::string_view text, Level* out);
void setComponent(std::string_view name);  // e.g. "routelet" or "routelet-cni"

void write(Level level, std::string_view message);
inline void debug(std::string_view m) {
  write(Level::kDebug, m);
}
inline void info(std::string_view m) {
  write(Level::kInfo, m);
}
inline void warn(std::string_view m) {
  write(Level::kWarn, m);
}
inline void error(std::string_view m) {
  write(Level::kError, m);
}

}  // namespace routelet::log
