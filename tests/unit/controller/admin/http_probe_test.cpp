#include "controller/admin/http_probe.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

namespace routelet::admin {
namespace {

TEST(HttpProbeTest, WildcardListenAddressesAreReachedOnLoopback) {
  struct Case {
    const char* listen;
    const char* host;
    uint16_t port;
  };
  for (const auto& c : std::vector<Case>{{"0.0.0.0:9654", "127.0.0.1", 9654},
                                         {"127.0.0.5:80", "127.0.0.5", 80},
                                         {"[::]:9654", "::1", 9654},
                                         {"[::1]:19654", "::1", 19654},
                                         {":9654", "127.0.0.1", 9654},
                                         {"192.168.1.11:9654", "192.168.1.11", 9654}}) {
    auto t = probeTarget(c.listen);
    ASSERT_TRUE(t) << c.listen << ": " << t.error().message;
    EXPECT_EQ(t->host, c.host) << c.listen;
    EXPECT_EQ(t->port, c.port) << c.listen;
  }
  for (const char* bad : {"9654", "host.example:9654", "0.0.0.0:0", "0.0.0.0:70000", "0.0.0.0:x"}) {
    auto t = probeTarget(bad);
    ASSERT_FALSE(t) << bad;
    EXPECT_NE(t.error().message.find(bad), std::string::npos) << t.error().message;
  }
}

TEST(HttpProbeTest, ParsesStatusAndFirstBodyLine) {
  auto a = parseHttpAnswer(
      "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 21\r\n\r\n"
      "no podCIDR on Node a\nmore");
  EXPECT_EQ(a.status, 503);
  EXPECT_EQ(a.body, "no podCIDR on Node a");
  EXPECT_EQ(parseHttpAnswer("HTTP/1.0 200 OK\r\n\r\nok").status, 200);
  EXPECT_EQ(parseHttpAnswer("SSH-2.0-OpenSSH\r\n").status, 0);
  EXPECT_EQ(parseHttpAnswer("HTTP/1.1 abc\r\n\r\n").status, 0);
  EXPECT_EQ(parseHttpAnswer("").status, 0);
}

TEST(HttpProbeTest, RefusedConnectionIsNoAnswerWithTheReason) {
  // Port 1 on loopback: nothing listens there in a test environment (tcpmux is long dead).
  auto a = httpGet("127.0.0.1:1", "/healthz");
  EXPECT_EQ(a.status, 0);
  EXPECT_NE(a.body.find("127.0.0.1:1"), std::string::npos) << a.body;
}

// The agent's server may keep the connection open after answering: the probe stops at
// Content-Length instead of waiting for the close (it would time out and say "no answer").
TEST(HttpProbeTest, ReadsAnAnswerFromAServerThatKeepsTheConnectionOpen) {
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  std::string request;
  std::thread server([&] {
    int c = ::accept(listener, nullptr, nullptr);
    if (c < 0) return;
    char buf[1024];
    while (request.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = ::read(c, buf, sizeof buf);
      if (n <= 0) break;
      request.append(buf, static_cast<size_t>(n));
    }
    std::string answer = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 10\r\n\r\nnot synced";
    (void)!::write(c, answer.data(), answer.size());
    // Hold the connection until the client has gone.
    while (::read(c, buf, sizeof buf) > 0) {
    }
    ::close(c);
  });
  auto a = httpGet("0.0.0.0:" + std::to_string(ntohs(addr.sin_port)), "/readyz");
  server.join();
  ::close(listener);
  EXPECT_EQ(a.status, 503) << a.body;
  EXPECT_EQ(a.body, "not synced");
  EXPECT_EQ(request.rfind("GET /readyz HTTP/1.0\r\n", 0), 0u) << request;
}

}  // namespace
}  // namespace routelet::admin
