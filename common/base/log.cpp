#include "common/base/log.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

#include "common/base/text.h"

namespace routelet::log {
namespace {
std::atomic<Level> gLevel{Level::kInfo};
std::string gComponent = "routelet";

const char* levelName(Level l) {
  switch (l) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "?";
}
}  // namespace

void setLevel(Level level) {
  gLevel = level;
}
Level level() {
  return gLevel;
}
void setComponent(std::string_view name) {
  gComponent = name;
}

bool parseLevel(std::string_view text, Level* out) {
  for (Level l : {Level::kDebug, Level::kInfo, Level::kWarn, Level::kError}) {
    if (text == levelName(l)) {
      *out = l;
      return true;
    }
  }
  return false;
}

void write(Level lvl, std::string_view message) {
  if (lvl < gLevel.load()) return;
  using namespace std::chrono;
  auto now = system_clock::now();
  // Civil time by calendar arithmetic: gmtime_r() and strftime() load the time zone
  // (/etc/localtime) even for UTC, one more file read in every plugin exec.
  auto day = floor<days>(now);
  year_month_day date{day};
  hh_mm_ss<milliseconds> time{floor<milliseconds>(now - day)};
  char stamp[96];  // room for any int the format could print
  std::snprintf(stamp, sizeof stamp, "%04d-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ ",
                static_cast<int>(date.year()), static_cast<unsigned>(date.month()),
                static_cast<unsigned>(date.day()), static_cast<long long>(time.hours().count()),
                static_cast<long long>(time.minutes().count()),
                static_cast<long long>(time.seconds().count()),
                static_cast<long long>(time.subseconds().count()));
  std::string line;
  line.reserve(message.size() + 64);
  line.append(stamp).append(levelName(lvl)).append(" ").append(gComponent);
  line.append(": ");
  // Keep one event on one line even if a message carries a newline from outside input,
  // and keep whatever else a message quotes from outside from reaching the reader's
  // terminal as control characters (ANSI escapes) or invalid UTF-8.
  std::string text(message);
  std::replace(text.begin(), text.end(), '\n', ' ');
  std::replace(text.begin(), text.end(), '\r', ' ');
  line.append(safeText(text));
  line.push_back('\n');
  // A single write(2) keeps lines from concurrent threads and processes whole.
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace routelet::log
