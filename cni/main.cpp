// routelet-cni: reads the CNI environment and the config on stdin, runs the verb, prints
// the one JSON document the runtime expects on stdout. Logs go to stderr or logFile.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "cni/config/codes.h"
#include "cni/config/version.h"
#include "cni/plugin/commands.h"
#include "cni/plugin/netlink_dataplane.h"
#include "common/base/log.h"

namespace {
using namespace routelet;

// Bounded, so a runaway writer cannot exhaust memory; real configs are a few hundred bytes.
constexpr size_t kMaxStdin = 1 << 20;

bool readStdin(std::string* out) {
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n == 0) return true;
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    out->append(buf, static_cast<size_t>(n));
    if (out->size() > kMaxStdin) return false;
  }
}

// Sends stderr (where log lines go) to the configured file, appending.
void useLogFile(const cni::config::NetConf& conf) {
  if (!conf.logLevel.empty()) {
    log::Level level;
    if (log::parseLevel(conf.logLevel, &level)) log::setLevel(level);
  }
  if (conf.logFile.empty()) return;
  int fd = ::open(conf.logFile.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return;  // keep logging to stderr rather than fail the verb over a log file
  ::dup2(fd, STDERR_FILENO);
  ::close(fd);
}

int print(const cni::plugin::Outcome& o) {
  if (!o.stdoutText.empty()) {
    std::fwrite(o.stdoutText.data(), 1, o.stdoutText.size(), stdout);
    std::fputc('\n', stdout);
  }
  std::fflush(stdout);
  return o.exitCode;
}

}  // namespace

int main() {
  log::setComponent("routelet-cni");
  auto env = cni::config::parseEnv([](const char* name) -> std::optional<std::string> {
    const char* v = std::getenv(name);
    if (!v) return std::nullopt;
    return std::string(v);
  });
  std::string input;
  const bool readOk = readStdin(&input);
  if (!env) {
    // Report in the config's version when stdin names one.
    auto doc = cni::config::parseDocument(input);
    std::string version(cni::config::kLatestVersion);
    if (doc && doc->contains("cniVersion") && (*doc)["cniVersion"].is_string())
      version = (*doc)["cniVersion"].get<std::string>();
    log::error(env.error().message);
    return print({1, cni::plugin::errorJson(version, env.error().code, env.error().message)});
  }
  if (!readOk) {
    std::string msg = "cannot read the config from stdin (I/O error or over " +
                      std::to_string(kMaxStdin) + " bytes)";
    log::error(msg);
    return print({1, cni::plugin::errorJson(cni::config::kLatestVersion, cni::kCodeIo, msg)});
  }
  cni::plugin::NetlinkDataplane dataplane;
  return print(cni::plugin::run(*env, input, dataplane, useLogFile));
}
