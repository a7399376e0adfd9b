#include "controller/node/plugin_probe.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "common/base/unique_fd.h"

namespace routelet::node {
namespace {

constexpr size_t kMaxAnswer = 64 * 1024;

struct Pipe {
  UniqueFd read, write;
};

Result<Pipe> makePipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return errnoError("pipe");
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

}  // namespace

Result<std::vector<std::string>> parseVersionAnswer(std::string_view stdoutText) {
  auto doc = nlohmann::json::parse(stdoutText, nullptr, false);
  if (!doc.is_object()) return makeError("VERSION answer is not a JSON object");
  const nlohmann::json listed = doc.value("supportedVersions", nlohmann::json());
  if (!listed.is_array()) return makeError("VERSION answer has no supportedVersions array");
  std::vector<std::string> out;
  for (const auto& v : listed) {
    if (!v.is_string()) return makeError("VERSION answer's supportedVersions holds a non-string");
    out.push_back(v.get<std::string>());
  }
  return out;
}

Result<std::vector<std::string>> probePluginVersions(const std::string& path,
                                                     std::chrono::milliseconds timeout) {
  auto in = makePipe();
  if (!in) return in.error();
  auto out = makePipe();
  if (!out) return out.error();
  // stdin is written whole before the plugin starts (the pipe holds it): a plugin that
  // exits without reading can then never make this write raise SIGPIPE in the agent.
  static constexpr std::string_view kStdin = R"({"cniVersion":"1.0.0"})";
  if (::write(in->write.get(), kStdin.data(), kStdin.size()) != static_cast<ssize_t>(kStdin.size()))
    return errnoError("write to pipe");
  in->write.reset();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in->read.get(), STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out->write.get(), STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  // The agent's threads block the signals its signal thread waits for; the plugin must not
  // inherit that mask.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  // The plugin gets only what VERSION needs: no token, no agent setting leaks into it.
  std::string vars[] = {"CNI_COMMAND=VERSION", "CNI_CONTAINERID=dummy",
                        "CNI_NETNS=dummy",     "CNI_IFNAME=dummy",
                        "CNI_PATH=dummy",      "PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
  std::vector<char*> env;
  for (auto& v : vars) env.push_back(v.data());
  env.push_back(nullptr);
  std::string arg0 = path;
  char* argv[] = {arg0.data(), nullptr};
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, path.c_str(), &actions, &attr, argv, env.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return makeError("run " + path + ": " + std::strerror(rc), rc);
  in->read.reset();
  out->write.reset();

  std::string answer;
  std::string problem;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      problem = "no answer within " + std::to_string(timeout.count()) + " ms";
      break;
    }
    pollfd p{out->read.get(), POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;
    char buf[4096];
    ssize_t got = ::read(out->read.get(), buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    answer.append(buf, static_cast<size_t>(got));
    if (answer.size() > kMaxAnswer) {
      problem = "answer over " + std::to_string(kMaxAnswer) + " bytes";
      break;
    }
  }
  if (!problem.empty()) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!problem.empty()) return makeError(path + " VERSION: " + problem);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return makeError(path + " VERSION failed (exit status " + std::to_string(status) + ")");
  auto versions = parseVersionAnswer(answer);
  if (!versions) return versions.error().wrap(path);
  return versions;
}

}  // namespace routelet::node
