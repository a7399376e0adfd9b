#include "controller/admin/http_probe.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <charconv>
#include <cstring>

#include "common/ip/address.h"

namespace routelet::admin {
namespace {

constexpr size_t kMaxResponse = 64 * 1024;

class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Waits for events on fd until the deadline; false on timeout or error.
bool waitFor(int fd, short events, std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return false;
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, static_cast<int>(left.count())) == 1;
}

HttpAnswer noAnswer(const std::string& why) {
  return HttpAnswer{0, why};
}

// True once the headers and Content-Length bytes of body are in: a server may keep the
// connection open even when asked to close it.
bool complete(const std::string& response) {
  auto head = response.find("\r\n\r\n");
  if (head == std::string::npos) return false;
  std::string headers = response.substr(0, head);
  for (auto& c : headers) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto at = headers.find("\r\ncontent-length:");
  if (at == std::string::npos) return false;
  size_t pos = at + 17;
  while (pos < headers.size() && headers[pos] == ' ') ++pos;
  size_t length = 0;
  std::from_chars(headers.data() + pos, headers.data() + headers.size(), length);
  return response.size() >= head + 4 + length;
}

}  // namespace

Result<ProbeTarget> probeTarget(const std::string& listen) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) return makeError("listen \"" + listen + "\": want HOST:PORT");
  std::string host = listen.substr(0, colon);
  std::string portText = listen.substr(colon + 1);
  unsigned port = 0;
  auto [end, ec] = std::from_chars(portText.data(), portText.data() + portText.size(), port);
  if (ec != std::errc() || end != portText.data() + portText.size() || port == 0 || port > 65535) {
    return makeError("listen \"" + listen + "\": want a port from 1 to 65535");
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  if (host == "localhost") host = "127.0.0.1";
  if (!ip::Address::parse(host)) {
    return makeError("listen \"" + listen + "\": want a numeric address (or 0.0.0.0, [::])");
  }
  return ProbeTarget{host, static_cast<uint16_t>(port)};
}

HttpAnswer parseHttpAnswer(const std::string& response) {
  // "HTTP/1.1 200 OK\r\n...headers...\r\n\r\nbody"
  if (response.rfind("HTTP/", 0) != 0) return noAnswer("not an HTTP response");
  auto sp = response.find(' ');
  int status = 0;
  if (sp == std::string::npos ||
      std::from_chars(response.data() + sp + 1, response.data() + response.size(), status).ec !=
          std::errc() ||
      status < 100 || status > 599) {
    return noAnswer("malformed HTTP status line");
  }
  std::string body;
  if (auto head = response.find("\r\n\r\n"); head != std::string::npos) {
    body = response.substr(head + 4);
    body = body.substr(0, body.find_first_of("\r\n"));
  }
  return HttpAnswer{status, body};
}

HttpAnswer httpGet(const std::string& listen, const std::string& path,
                   std::chrono::milliseconds timeout) {
  auto target = probeTarget(listen);
  if (!target) return noAnswer(target.error().message);
  auto addr = ip::Address::parse(target->host);
  if (!addr) return noAnswer(addr.error().message);
  const auto deadline = std::chrono::steady_clock::now() + timeout;

  sockaddr_storage ss{};
  socklen_t len = 0;
  if (addr->isV4()) {
    auto* in = reinterpret_cast<sockaddr_in*>(&ss);
    in->sin_family = AF_INET;
    in->sin_port = htons(target->port);
    ::inet_pton(AF_INET, target->host.c_str(), &in->sin_addr);
    len = sizeof(sockaddr_in);
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(target->port);
    ::inet_pton(AF_INET6, target->host.c_str(), &in6->sin6_addr);
    len = sizeof(sockaddr_in6);
  }
  Socket sock(::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (sock.get() < 0) return noAnswer(std::string("socket: ") + std::strerror(errno));
  std::string where = target->host + ":" + std::to_string(target->port);
  if (::connect(sock.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    if (errno != EINPROGRESS) return noAnswer("connect " + where + ": " + std::strerror(errno));
    if (!waitFor(sock.get(), POLLOUT, deadline))
      return noAnswer("connect " + where + ": timed out");
    int err = 0;
    socklen_t errLen = sizeof err;
    ::getsockopt(sock.get(), SOL_SOCKET, SO_ERROR, &err, &errLen);
    if (err != 0) return noAnswer("connect " + where + ": " + std::strerror(err));
  }
  std::string request =
      "GET " + path + " HTTP/1.0\r\nHost: " + where + "\r\nConnection: close\r\n\r\n";
  size_t sent = 0;
  while (sent < request.size()) {
    if (!waitFor(sock.get(), POLLOUT, deadline))
      return noAnswer("send to " + where + ": timed out");
    ssize_t n = ::send(sock.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN) return noAnswer("send to " + where + ": " + std::strerror(errno));
    if (n > 0) sent += static_cast<size_t>(n);
  }
  std::string response;
  char buf[4096];
  while (response.size() < kMaxResponse) {
    if (!waitFor(sock.get(), POLLIN, deadline))
      return noAnswer("read from " + where + ": timed out");
    ssize_t n = ::recv(sock.get(), buf, sizeof buf, 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return noAnswer("read from " + where + ": " + std::strerror(errno));
    }
    response.append(buf, static_cast<size_t>(n));
    if (complete(response)) break;
  }
  return parseHttpAnswer(response);
}

}  // namespace routelet::admin
