#include "tests/kernel/cni/plugin_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <utility>
#include <vector>

namespace routelet::testing {

PluginProcess::PluginProcess(const std::string& nodeNetnsPath,
                             const std::map<std::string, std::string>& env,
                             const std::string& input) {
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0)
    return;
  // Everything the child needs is prepared before fork: after fork only async-signal-safe
  // calls are allowed.
  std::vector<std::string> envStrings;
  for (const auto& [k, v] : env) envStrings.push_back(k + "=" + v);
  envStrings.push_back("PATH=/usr/sbin:/usr/bin:/sbin:/bin");
  std::vector<char*> envp;
  for (auto& s : envStrings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string bin = ROUTELET_CNI_BIN;
  char* argv[] = {bin.data(), nullptr};
  int nsFd = ::open(nodeNetnsPath.c_str(), O_RDONLY | O_CLOEXEC);

  pid_ = ::fork();
  if (pid_ == 0) {
    if (nsFd < 0 || ::setns(nsFd, CLONE_NEWNET) != 0) ::_exit(126);
    ::dup2(in[0], STDIN_FILENO);
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(err[1], STDERR_FILENO);
    ::execve(argv[0], argv, envp.data());
    ::_exit(127);
  }
  if (nsFd >= 0) ::close(nsFd);
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  out_ = out[0];
  err_ = err[0];
  // The config is far below the pipe buffer, so this never blocks on the child.
  size_t off = 0;
  while (off < input.size()) {
    ssize_t n = ::write(in[1], input.data() + off, input.size() - off);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  ::close(in[1]);
}

PluginProcess::PluginProcess(PluginProcess&& o) noexcept
    : pid_(std::exchange(o.pid_, -1)),
      out_(std::exchange(o.out_, -1)),
      err_(std::exchange(o.err_, -1)) {}

PluginProcess::~PluginProcess() {
  if (pid_ > 0) finish();
}

PluginRun PluginProcess::finish(std::chrono::milliseconds limit) {
  using Clock = std::chrono::steady_clock;
  PluginRun r;
  if (pid_ <= 0) return r;
  const bool bounded = limit != std::chrono::milliseconds::max();
  const Clock::time_point deadline = bounded ? Clock::now() + limit : Clock::time_point::max();
  // Read both pipes until both close, so neither fills up and blocks the child.
  pollfd fds[2] = {{out_, POLLIN, 0}, {err_, POLLIN, 0}};
  std::string* sinks[2] = {&r.out, &r.err};
  int open = 2;
  while (open > 0) {
    int wait = -1;
    if (bounded && !r.killed) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
      wait = static_cast<int>(std::max<int64_t>(0, left.count()));
    }
    int ready = ::poll(fds, 2, wait);
    if (ready < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (ready == 0) {  // the limit passed: its pipes close when it dies
      ::kill(pid_, SIGKILL);
      r.killed = true;
      continue;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buf[4096];
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
      } else {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open;
      }
    }
  }
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  pid_ = -1;
  out_ = err_ = -1;
  return r;
}

PluginRun runPlugin(const std::string& nodeNetnsPath, const std::map<std::string, std::string>& env,
                    const std::string& input) {
  return PluginProcess(nodeNetnsPath, env, input).finish();
}

}  // namespace routelet::testing
