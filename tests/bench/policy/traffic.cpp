#include "tests/bench/policy/traffic.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <optional>
#include <unordered_set>

#include "common/netlink/netns.h"
#include "tests/bench/cni/bench_cli.h"

namespace routelet::bench::policy {
namespace {

constexpr auto kConnectTimeout = std::chrono::seconds(1);

double threadCpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

double micros(Clock::duration d) {
  return std::chrono::duration<double, std::micro>(d).count();
}

// Moves the calling thread into the namespace at nsPath until `held` is reset.
Status enter(const std::string& nsPath, std::optional<netns::Enter>& held) {
  auto fd = netns::Fd::open(nsPath);
  if (!fd) return fd.error();
  auto in = netns::Enter::into(*fd);
  if (!in) return in.error().wrap("enter " + nsPath);
  held.emplace(std::move(*in));
  return okStatus();
}

Result<sockaddr_in> endpoint(const std::string& address, uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  if (::inet_pton(AF_INET, address.c_str(), &sa.sin_addr) != 1)
    return makeError("not an IPv4 address: " + address);
  return sa;
}

const sockaddr* raw(const sockaddr_in& sa) {
  return reinterpret_cast<const sockaddr*>(&sa);
}

void noDelay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// A non-blocking connect started: the socket, or -1 with errno set.
int startConnect(const sockaddr_in& to) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  noDelay(fd);
  if (::connect(fd, raw(to), sizeof to) != 0 && errno != EINPROGRESS) {
    int err = errno;
    ::close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

bool connectedOk(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  return ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
}

// Runs f on a thread of its own inside the namespace and waits for it.
template <class F>
Status onThreadIn(const std::string& nsPath, F f) {
  Status result = okStatus();
  std::thread t([&] {
    std::optional<netns::Enter> in;
    if (auto st = enter(nsPath, in); !st) {
      result = st;
      return;
    }
    result = f();
  });
  t.join();
  return result;
}

}  // namespace

// --- server

Result<std::unique_ptr<EchoServer>> EchoServer::start(const std::string& nsPath,
                                                      const std::string& address,
                                                      const std::vector<uint16_t>& ports) {
  auto server = std::unique_ptr<EchoServer>(new EchoServer());
  server->epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (server->epoll_ < 0) return errnoError("epoll_create1");
  {
    std::optional<netns::Enter> in;
    if (auto st = enter(nsPath, in); !st) return st.error();
    for (uint16_t port : ports) {
      auto at = endpoint(address, port);
      if (!at) return at.error();
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) return errnoError("socket");
      server->listeners_.push_back(fd);
      int one = 1;
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      if (::bind(fd, raw(*at), sizeof *at) != 0)
        return errnoError("bind " + address + ":" + std::to_string(port));
      if (::listen(fd, 4096) != 0) return errnoError("listen");
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.fd = fd;
      if (::epoll_ctl(server->epoll_, EPOLL_CTL_ADD, fd, &ev) != 0) return errnoError("epoll_ctl");
    }
  }
  server->thread_ = std::thread([p = server.get()] { p->loop(); });
  return server;
}

EchoServer::~EchoServer() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  for (int fd : listeners_) ::close(fd);
  if (epoll_ >= 0) ::close(epoll_);
}

double EchoServer::cpuMs() const {
  clockid_t clock;
  timespec ts{};
  if (pthread_getcpuclockid(const_cast<std::thread&>(thread_).native_handle(), &clock) != 0 ||
      clock_gettime(clock, &ts) != 0)
    return 0;
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

void EchoServer::loop() {
  std::unordered_set<int> open;
  epoll_event events[64];
  char buf[256];
  while (!stop_) {
    int n = ::epoll_wait(epoll_, events, 64, 100);
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (std::find(listeners_.begin(), listeners_.end(), fd) != listeners_.end()) {
        for (;;) {
          int conn = ::accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (conn < 0) break;
          noDelay(conn);
          epoll_event ev{};
          ev.events = EPOLLIN;
          ev.data.fd = conn;
          ::epoll_ctl(epoll_, EPOLL_CTL_ADD, conn, &ev);
          open.insert(conn);
        }
        continue;
      }
      ssize_t got = ::recv(fd, buf, sizeof buf, 0);
      if (got > 0) {
        (void)::send(fd, buf, static_cast<size_t>(got), MSG_NOSIGNAL);
      } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
        ::epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, nullptr);
        ::close(fd);
        open.erase(fd);
      }
    }
  }
  for (int fd : open) ::close(fd);
}

// --- one at a time

Result<Sequential> sequential(const std::string& nsPath, const std::string& address, uint16_t port,
                              int count, int warmup) {
  auto to = endpoint(address, port);
  if (!to) return to.error();
  Sequential out;
  out.us.reserve(static_cast<size_t>(count));
  Status st = onThreadIn(nsPath, [&]() -> Status {
    char byte = 'x';
    double cpu = 0;
    for (int i = 0; i < warmup + count; ++i) {
      if (i == warmup) cpu = threadCpuMs();
      if (cni::interrupted()) return makeError("interrupted");
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0) return errnoError("socket");
      timeval tv{1, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      noDelay(fd);
      auto t0 = Clock::now();
      bool ok = ::connect(fd, raw(*to), sizeof *to) == 0 &&
                ::send(fd, &byte, 1, MSG_NOSIGNAL) == 1 && ::recv(fd, &byte, 1, 0) == 1;
      int err = errno;
      ::close(fd);
      auto t1 = Clock::now();
      if (!ok)
        return errnoError(
            "connection " + std::to_string(i) + " to " + address + ":" + std::to_string(port), err);
      if (i >= warmup) out.us.push_back(micros(t1 - t0));
    }
    out.cpuMs = threadCpuMs() - cpu;
    return okStatus();
  });
  if (!st) return st.error();
  return out;
}

// --- many at a time

Result<Burst> burst(const std::string& nsPath, const std::string& address, uint16_t port,
                    int inFlight, double seconds) {
  auto to = endpoint(address, port);
  if (!to) return to.error();
  Burst out;
  Status st = onThreadIn(nsPath, [&]() -> Status {
    int ep = ::epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) return errnoError("epoll_create1");
    struct Conn {
      int fd = -1;
      Clock::time_point start;
      bool sent = false;
    };
    std::vector<Conn> slots(static_cast<size_t>(inFlight));
    double cpu = threadCpuMs();
    auto first = Clock::now();
    auto end =
        first + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    auto last = first;
    auto open = [&](uint32_t i) {
      Conn& c = slots[i];
      c = Conn{};
      auto now = Clock::now();
      if (now >= end) return;
      c.start = now;
      c.fd = startConnect(*to);
      if (c.fd < 0) {
        ++out.failed;  // e.g. no local port left: counted, tried again next time round
        return;
      }
      epoll_event ev{};
      ev.events = EPOLLOUT;
      ev.data.u32 = i;
      ::epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
    };
    auto finish = [&](uint32_t i, bool ok) {
      Conn& c = slots[i];
      ::close(c.fd);  // also leaves the epoll set
      auto now = Clock::now();
      last = now;
      if (ok) {
        ++out.done;
        out.us.push_back(micros(now - c.start));
      } else {
        ++out.failed;
      }
      open(i);
    };
    for (uint32_t i = 0; i < slots.size(); ++i) open(i);
    std::vector<epoll_event> events(slots.size());
    char byte = 'x';
    for (;;) {
      if (cni::interrupted()) break;
      auto now = Clock::now();
      bool any = false;
      for (uint32_t i = 0; i < slots.size(); ++i) {
        if (slots[i].fd < 0) {
          if (now < end) open(i);  // a slot whose connect() failed at once
          continue;
        }
        any = true;
        if (now - slots[i].start > kConnectTimeout) finish(i, false);
      }
      if (!any && now >= end) break;
      int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 10);
      for (int k = 0; k < n; ++k) {
        uint32_t i = events[k].data.u32;
        Conn& c = slots[i];
        if (c.fd < 0) continue;
        if (!c.sent) {
          if ((events[k].events & (EPOLLERR | EPOLLHUP)) || !connectedOk(c.fd) ||
              ::send(c.fd, &byte, 1, MSG_NOSIGNAL) != 1) {
            finish(i, false);
            continue;
          }
          c.sent = true;
          epoll_event ev{};
          ev.events = EPOLLIN;
          ev.data.u32 = i;
          ::epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
          continue;
        }
        char got = 0;
        ssize_t r = ::recv(c.fd, &got, 1, 0);
        if (r < 0 && errno == EAGAIN) continue;
        finish(i, r == 1);
      }
    }
    for (auto& c : slots)
      if (c.fd >= 0) ::close(c.fd);
    ::close(ep);
    out.seconds = std::chrono::duration<double>(last - first).count();
    out.cpuMs = threadCpuMs() - cpu;
    if (cni::interrupted()) return makeError("interrupted");
    return okStatus();
  });
  if (!st) return st.error();
  return out;
}

// --- prober

Result<std::unique_ptr<Prober>> Prober::start(const std::string& nsPath, const std::string& address,
                                              uint16_t port, std::chrono::microseconds interval,
                                              std::chrono::milliseconds timeout) {
  auto p = std::unique_ptr<Prober>(new Prober());
  p->address_ = address;
  p->port_ = port;
  p->interval_ = interval;
  p->timeout_ = timeout;
  p->thread_ = std::thread([self = p.get(), nsPath] { self->loop(nsPath); });
  while (!p->ready_ && p->error().empty())
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (auto e = p->error(); !e.empty()) return makeError("prober: " + e);
  return p;
}

Prober::~Prober() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

std::vector<Prober::Attempt> Prober::resolved() const {
  std::lock_guard<std::mutex> lock(mu_);
  return resolved_;
}

size_t Prober::resolvedCount() const {
  std::lock_guard<std::mutex> lock(mu_);
  return resolved_.size();
}

std::string Prober::error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return error_;
}

void Prober::loop(const std::string& nsPath) {
  auto fail = [&](const std::string& e) {
    std::lock_guard<std::mutex> lock(mu_);
    error_ = e;
  };
  std::optional<netns::Enter> in;
  if (auto st = enter(nsPath, in); !st) return fail(st.error().message);
  auto to = endpoint(address_, port_);
  if (!to) return fail(to.error().message);
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) return fail("epoll_create1 failed");
  ready_ = true;
  std::map<int, Clock::time_point> pending;  // fd → start
  auto resolve = [&](int fd, bool ok, Clock::time_point end) {
    Clock::time_point start = pending[fd];
    pending.erase(fd);
    ::close(fd);
    std::lock_guard<std::mutex> lock(mu_);
    resolved_.push_back({start, end, ok});
  };
  auto next = Clock::now();
  epoll_event events[64];
  while (!stop_ && !cni::interrupted()) {
    auto now = Clock::now();
    if (now >= next) {
      auto start = Clock::now();
      int fd = startConnect(*to);
      if (fd < 0) {
        fail("connect: " + errnoError("").message);
        break;
      }
      pending[fd] = start;
      epoll_event ev{};
      ev.events = EPOLLOUT;
      ev.data.fd = fd;
      ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
      next += interval_;
      if (next < now) next = now + interval_;
    }
    now = Clock::now();
    for (auto it = pending.begin(); it != pending.end();) {
      int fd = it->first;
      ++it;
      if (now - pending[fd] >= timeout_) resolve(fd, false, now);
    }
    auto until = next;
    for (const auto& [fd, start] : pending) until = std::min(until, start + timeout_);
    auto wait = std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::max(until - Clock::now(), Clock::duration::zero()));
    timespec ts{static_cast<time_t>(wait.count() / 1000000000),
                static_cast<long>(wait.count() % 1000000000)};
    int n = ::epoll_pwait2(ep, events, 64, &ts, nullptr);
    auto seen = Clock::now();
    for (int k = 0; k < n; ++k) {
      int fd = events[k].data.fd;
      if (!pending.contains(fd)) continue;
      bool ok = !(events[k].events & (EPOLLERR | EPOLLHUP)) && connectedOk(fd);
      resolve(fd, ok, seen);
    }
  }
  for (auto& [fd, start] : pending) ::close(fd);
  ::close(ep);
}

}  // namespace routelet::bench::policy
