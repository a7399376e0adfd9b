// The agent's /healthz, /readyz and /metrics (libmicrohttpd) against hostile clients on
// loopback: nothing a client sends may grow this process's memory or hold a connection
// for long, and a probe is answered all the while.
#include "controller/agent/http_endpoints.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/base/unique_fd.h"
#include "tests/support/eventually.h"
#include "tests/support/rss.h"

namespace routelet::agent {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using routelet::testing::eventually;
using routelet::testing::rssGrowthDuring;

// A free port on 127.0.0.1 (bound once with port 0, then let go).
uint16_t freePort() {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&a), len) != 0 ||
      getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0)
    return 0;
  return ntohs(a.sin_port);
}

// A connection to 127.0.0.1:port from source (any 127/8 address is this host's). Reads and
// writes give up after 30 s: a server that never answers fails a test, never hangs it.
UniqueFd connectFrom(uint16_t port, const char* source = "127.0.0.1") {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  timeval tv{30, 0};
  setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in src{};
  src.sin_family = AF_INET;
  inet_pton(AF_INET, source, &src.sin_addr);
  EXPECT_EQ(bind(fd.get(), reinterpret_cast<sockaddr*>(&src), sizeof src), 0) << source;
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(port);
  dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd.get(), reinterpret_cast<sockaddr*>(&dst), sizeof dst), 0)
      << "connect: " << std::strerror(errno);
  return fd;
}

bool sendAll(int fd, const std::string& data) {
  return send(fd, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
}

// Everything until the server closes (or 30 s without a byte).
std::string readAll(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

int statusOf(const std::string& response) {
  if (response.rfind("HTTP/1.1 ", 0) != 0 || response.size() < 12) return 0;
  return std::stoi(response.substr(9, 3));
}

// One GET on a connection of its own: the status code (0: no answer), and the body.
int get(uint16_t port, const std::string& path, std::string* body = nullptr,
        const char* source = "127.0.0.1") {
  auto fd = connectFrom(port, source);
  sendAll(fd.get(), "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  std::string response = readAll(fd.get());
  if (body) {
    auto end = response.find("\r\n\r\n");
    *body = end == std::string::npos ? "" : response.substr(end + 4);
  }
  return statusOf(response);
}

// True once the server has closed fd (an answer before the end is read and dropped);
// false if it is still open after timeout.
bool closedByServer(int fd, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  char buf[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(std::max<int64_t>(0, left.count()))) <= 0) return false;
    ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN)) return true;
  }
}

// Refusals as EndpointHandlers::refused reports them, by reason.
class Refusals {
 public:
  std::function<void(const char*)> callback() {
    return [this](const char* reason) {
      std::lock_guard lock(mu_);
      ++counts_[reason];
    };
  }
  int count(const std::string& reason) {
    std::lock_guard lock(mu_);
    return counts_[reason];
  }
  int total() {
    std::lock_guard lock(mu_);
    int n = 0;
    for (const auto& [reason, c] : counts_) n += c;
    return n;
  }

 private:
  std::mutex mu_;
  std::map<std::string, int> counts_;
};

EndpointHandlers handlers(Refusals* refusals = nullptr) {
  EndpointHandlers h;
  h.healthz = [] { return std::pair<bool, std::string>{true, "ok"}; };
  h.readyz = [] { return std::pair<bool, std::string>{false, "waiting for the first Node list"}; };
  h.metrics = [] { return std::string("routelet_peers 3\n"); };
  if (refusals) h.refused = refusals->callback();
  return h;
}

// Issue 23: one connection sending `X-Long: ` and then endless `a` grew the agent from 17
// to 901 MB in 11 s. Here it is cut after a few KiB, and a probe is answered meanwhile.
TEST(HttpEndpoints, AnEndlessHeaderIsCutAndMemoryStaysBounded) {
  uint16_t port = freePort();
  Refusals refusals;
  auto ep = HttpEndpoints::start("127.0.0.1:" + std::to_string(port), handlers(&refusals));
  ASSERT_TRUE(ep.ok()) << ep.error().message;
  ASSERT_EQ(get(port, "/healthz"), 200);

  constexpr size_t kFlood = 64 << 20;
  std::atomic<size_t> sent{0};
  int during = 0;
  long grew = rssGrowthDuring([&] {
    std::thread flood([&] {
      auto fd = connectFrom(port);
      sendAll(fd.get(), "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Long: ");
      std::string chunk(64 << 10, 'a');
      while (sent < kFlood) {
        ssize_t n = send(fd.get(), chunk.data(), chunk.size(), MSG_NOSIGNAL);
        if (n <= 0) break;  // the server cut the connection
        sent += static_cast<size_t>(n);
      }
    });
    during = get(port, "/healthz");
    flood.join();
  });

  EXPECT_EQ(during, 200) << "a probe during the flood";
  EXPECT_LT(sent.load(), size_t{16} << 20)
      << "the server read " << sent << " bytes of one header: the connection was never cut";
  EXPECT_LT(grew, 16 * 1024) << "RSS grew by " << grew << " KiB while a client sent " << sent
                             << " bytes of one header";
  EXPECT_EQ(get(port, "/healthz"), 200) << "a probe after the flood";
  EXPECT_TRUE(eventually([&] { return refusals.count(kRefusedTooLarge) == 1; }))
      << refusals.count(kRefusedTooLarge);
}

TEST(HttpEndpoints, RefusalsAreLoggedAtMostOncePerInterval) {
  Refusals refusals;
  auto ep = HttpEndpoints::start("127.0.0.1:0", handlers(&refusals));
  ASSERT_TRUE(ep.ok()) << ep.error().message;
  uint16_t port = (*ep)->port();
  ::testing::internal::CaptureStderr();
  for (int i = 0; i < 20; ++i) {
    auto fd = connectFrom(port);
    sendAll(fd.get(), "GET /healthz HTTP/1.1\r\nX-Long: " + std::string(16 << 10, 'a'));
    EXPECT_TRUE(closedByServer(fd.get(), 30s)) << "connection " << i;
  }
  bool counted = eventually([&] { return refusals.count(kRefusedTooLarge) == 20; });
  std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_TRUE(counted) << refusals.count(kRefusedTooLarge) << " of 20 counted";
  size_t lines = std::count(log.begin(), log.end(), '\n');
  EXPECT_EQ(lines, 1u) << log;
  EXPECT_NE(log.find("http 127.0.0.1:" + std::to_string(port) +
                     ": closed a connection whose request line and headers do not fit in "
                     "connectionMemory (8192 bytes)"),
            std::string::npos)
      << log;
}

TEST(HttpEndpoints, ConnectionsPastThePerAddressBoundAreRefused) {
  Refusals refusals;
  EndpointLimits limits;
  limits.maxConnectionsPerIp = 4;
  limits.idleTimeout = 60s;  // the held connections must outlive the test
  limits.requestDeadline = 120s;
  auto ep = HttpEndpoints::start("127.0.0.1:0", handlers(&refusals), limits);
  ASSERT_TRUE(ep.ok()) << ep.error().message;
  uint16_t port = (*ep)->port();
  std::vector<UniqueFd> held;
  for (int i = 0; i < 6; ++i) held.push_back(connectFrom(port));
  // Accepted in order: the fifth and sixth find four open already.
  EXPECT_TRUE(closedByServer(held[4].get(), 30s));
  EXPECT_TRUE(closedByServer(held[5].get(), 30s));
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(closedByServer(held[i].get(), 0ms)) << i;
  EXPECT_TRUE(eventually([&] { return refusals.count(kRefusedTooMany) == 2; }))
      << refusals.count(kRefusedTooMany);
  EXPECT_EQ(get(port, "/healthz", nullptr, "127.0.0.2"), 200) << "another address is served";
}

TEST(HttpEndpoints, AtTheTotalBoundANewConnectionWaitsForAFreeSlot) {
  EndpointLimits limits;
  limits.maxConnections = 4;
  limits.maxConnectionsPerIp = 2;
  limits.idleTimeout = 60s;
  limits.requestDeadline = 120s;
  auto ep = HttpEndpoints::start("127.0.0.1:0", handlers(), limits);
  ASSERT_TRUE(ep.ok()) << ep.error().message;
  uint16_t port = (*ep)->port();
  std::vector<UniqueFd> held;
  for (const char* source : {"127.0.0.2", "127.0.0.2", "127.0.0.3", "127.0.0.3"})
    held.push_back(connectFrom(port, source));
  std::atomic<int> answer{-1};
  std::thread probe([&] { answer = get(port, "/healthz", nullptr, "127.0.0.4"); });
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(answer.load(), -1) << "answered with all 4 connections taken";
  held[0] = UniqueFd();
  probe.join();
  EXPECT_EQ(answer.load(), 200) << "answered once a connection closed";
}

TEST(HttpEndpoints, ASlowRequestIsCutAtItsDeadline) {
  Refusals refusals;
  EndpointLimits limits;
  limits.idleTimeout = 2s;
  limits.requestDeadline = 3s;
  auto ep = HttpEndpoints::start("127.0.0.1:0", handlers(&refusals), limits);
  ASSERT_TRUE(ep.ok()) << ep.error().message;
  uint16_t port = (*ep)->port();
  auto fd = connectFrom(port);
  sendAll(fd.get(), "GET /healthz HTTP/1.1\r\nX-Slow: ");
  // A byte every 300 ms: never idle, never done. Given up on after a minute.
  bool cut = false;
  for (int i = 0; i < 200 && !cut; ++i) {
    if (!sendAll(fd.get(), "a")) {
      cut = true;
      break;
    }
    cut = closedByServer(fd.get(), 300ms);
    if (i == 3) {
      EXPECT_EQ(get(port, "/healthz"), 200) << "a probe while the slow one drips";
    }
  }
  EXPECT_TRUE(cut) << "a client sending a byte every 300 ms held its connection for a minute";
  EXPECT_TRUE(eventually([&] { return refusals.count(kRefusedTooSlow) == 1; }))
      << refusals.count(kRefusedTooSlow);
}

TEST(HttpEndpoints, AnIdleConnectionIsClosedWithoutCountingARefusal) {
  Refusals refusals;
  EndpointLimits limits;
  limits.idleTimeout = 1s;
  auto ep = HttpEndpoints::start("127.0.0.1:0", handlers(&refusals), limits);
  ASSERT_TRUE(ep.ok()) << ep.error().message;
  auto fd = connectFrom((*ep)->port());
  EXPECT_TRUE(closedByServer(fd.get(), 30s));
  EXPECT_EQ(refusals.total(), 0);
}

TEST(HttpEndpoints, AnswersProbesAndMetrics) {
  auto ep = HttpEndpoints::start("127.0.0.1:0", handlers());
  ASSERT_TRUE(ep.ok()) << ep.error().message;
  uint16_t port = (*ep)->port();
  std::string body;
  EXPECT_EQ(get(port, "/healthz", &body), 200);
  EXPECT_EQ(body, "ok\n");
  EXPECT_EQ(get(port, "/readyz", &body), 503);
  EXPECT_EQ(body, "waiting for the first Node list\n");
  EXPECT_EQ(get(port, "/metrics", &body), 200);
  EXPECT_EQ(body, "routelet_peers 3\n");
  EXPECT_EQ(get(port, "/nope"), 404);

  auto fd = connectFrom(port);
  sendAll(fd.get(), "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
  char buf[512];
  ssize_t n = recv(fd.get(), buf, sizeof buf, 0);
  EXPECT_EQ(statusOf(std::string(buf, static_cast<size_t>(std::max<ssize_t>(0, n)))), 405);

  // Two requests on one kept-alive connection, as Prometheus scrapes.
  auto kept = connectFrom(port);
  sendAll(kept.get(), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string first;
  while (first.find("routelet_peers 3\n") == std::string::npos) {
    ssize_t got = recv(kept.get(), buf, sizeof buf, 0);
    if (got <= 0) break;
    first.append(buf, static_cast<size_t>(got));
  }
  EXPECT_EQ(statusOf(first), 200) << first;
  EXPECT_EQ(first.find("Connection: close"), std::string::npos) << first;
  sendAll(kept.get(), "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  std::string second = readAll(kept.get());
  EXPECT_EQ(statusOf(second), 200) << second;
  EXPECT_NE(second.find("\r\n\r\nok\n"), std::string::npos) << second;
}

TEST(HttpEndpoints, ListensOnIpv6Loopback) {
  auto ep = HttpEndpoints::start("[::1]:0", handlers());
  ASSERT_TRUE(ep.ok()) << ep.error().message;
  UniqueFd fd(socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in6 dst{};
  dst.sin6_family = AF_INET6;
  dst.sin6_port = htons((*ep)->port());
  dst.sin6_addr = in6addr_loopback;
  ASSERT_EQ(connect(fd.get(), reinterpret_cast<sockaddr*>(&dst), sizeof dst), 0)
      << std::strerror(errno);
  sendAll(fd.get(), "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(statusOf(readAll(fd.get())), 200);
}

TEST(HttpEndpoints, APortInUseIsAnErrorNamingTheAddress) {
  auto first = HttpEndpoints::start("127.0.0.1:0", handlers());
  ASSERT_TRUE(first.ok()) << first.error().message;
  std::string listen = "127.0.0.1:" + std::to_string((*first)->port());
  auto second = HttpEndpoints::start(listen, handlers());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().message, "listen on " + listen + ": bind: Address already in use");
}

}  // namespace
}  // namespace routelet::agent
