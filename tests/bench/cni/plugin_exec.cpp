#include "tests/bench/cni/plugin_exec.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>

namespace routelet::bench::cni {
namespace {

// An empty pipe takes this much without blocking (pipe(7): 16 pages by default).
constexpr size_t kPipeCapacity = 65536;

void closeFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

struct Pipe {
  int read = -1;
  int write = -1;
  ~Pipe() {
    closeFd(read);
    closeFd(write);
  }
  // O_CLOEXEC: a plugin spawned while others run must not inherit their pipes, or a
  // reader would wait for an EOF that only the last child's exit brings.
  Status open() {
    std::array<int, 2> fds{};
    if (::pipe2(fds.data(), O_CLOEXEC) != 0) return errnoError("pipe2");
    read = fds[0];
    write = fds[1];
    return okStatus();
  }
};

int reap(pid_t pid, rusage* usage = nullptr) {
  int status = 0;
  rusage ignored{};
  while (::wait4(pid, &status, 0, usage ? usage : &ignored) < 0) {
    if (errno != EINTR) return -1;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

RunningPlugin::RunningPlugin(RunningPlugin&& o) noexcept
    : pid_(o.pid_), outFd_(o.outFd_), errFd_(o.errFd_), start_(o.start_) {
  o.pid_ = -1;
  o.outFd_ = -1;
  o.errFd_ = -1;
}

RunningPlugin::~RunningPlugin() {
  closeFd(outFd_);
  closeFd(errFd_);
  if (pid_ > 0) reap(pid_);
}

Result<RunningPlugin> spawnPlugin(const PluginCall& call) {
  if (call.stdinData.size() >= kPipeCapacity) {
    return makeError("config for " + call.binary + " is " + std::to_string(call.stdinData.size()) +
                     " bytes; the driver writes it before the spawn and takes at most " +
                     std::to_string(kPipeCapacity - 1));
  }
  Pipe in, out, err;
  for (Pipe* p : {&in, &out, &err}) {
    if (auto s = p->open(); !s) return s.error();
  }
  for (size_t done = 0; done < call.stdinData.size();) {
    ssize_t n = ::write(in.write, call.stdinData.data() + done, call.stdinData.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errnoError("write config to the plugin's stdin pipe");
    done += static_cast<size_t>(n);
  }
  closeFd(in.write);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in.read, STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out.write, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err.write, STDERR_FILENO);
  std::vector<char*> argv{const_cast<char*>(call.binary.c_str())};
  for (const auto& a : call.args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  envp.reserve(call.env.size() + 1);
  for (const auto& e : call.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  RunningPlugin running;
  running.start_ = Clock::now();
  int rc = ::posix_spawn(&running.pid_, call.binary.c_str(), &actions, nullptr, argv.data(),
                         envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    running.pid_ = -1;
    return errnoError("posix_spawn " + call.binary, rc);
  }
  running.outFd_ = out.read;
  running.errFd_ = err.read;
  out.read = -1;
  err.read = -1;
  return running;
}

Result<PluginOutcome> finishPlugin(RunningPlugin& plugin) {
  PluginOutcome outcome;
  // Both pipes are drained together: a plugin that fills stderr while we wait on stdout
  // would otherwise block forever.
  std::array<pollfd, 2> fds{{{plugin.outFd_, POLLIN, 0}, {plugin.errFd_, POLLIN, 0}}};
  std::array<std::string*, 2> sinks{&outcome.out, &outcome.err};
  std::array<char, 8192> buf{};
  int open = 2;
  while (open > 0) {
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      return errnoError("poll the plugin's output");
    }
    for (size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t n = ::read(fds[i].fd, buf.data(), buf.size());
      if (n > 0) {
        sinks[i]->append(buf.data(), static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        fds[i].fd = -1;  // poll(2) skips negative descriptors
        --open;
      }
    }
  }
  closeFd(plugin.outFd_);
  closeFd(plugin.errFd_);
  rusage usage{};
  outcome.exitCode = reap(plugin.pid_, &usage);
  outcome.elapsed = Clock::now() - plugin.start_;
  outcome.cpuMs = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e3 +
                  static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e3;
  plugin.pid_ = -1;
  if (outcome.exitCode < 0) return errnoError("waitpid");
  return outcome;
}

Result<PluginOutcome> runPlugin(const PluginCall& call) {
  auto running = spawnPlugin(call);
  if (!running) return running.error();
  return finishPlugin(*running);
}

}  // namespace routelet::bench::cni
