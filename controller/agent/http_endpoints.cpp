#include "controller/agent/http_endpoints.h"

#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>

#include "common/base/log.h"
#include "common/base/unique_fd.h"

namespace routelet::agent {
namespace {

using Clock = std::chrono::steady_clock;

// "127.0.0.1:9654" -> {"127.0.0.1", "9654"}; "[::1]:9654" -> {"::1", "9654"}.
std::pair<std::string, std::string> splitHostPort(const std::string& listen) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) return {listen, ""};
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  return {host, listen.substr(colon + 1)};
}

// A bound, listening TCP socket for listen (HOST:PORT); libmicrohttpd takes it over.
Result<UniqueFd> listenSocket(const std::string& listen, uint16_t* port) {
  auto [host, service] = splitHostPort(listen);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &found);
  if (rc != 0) return makeError(std::string("resolve: ") + gai_strerror(rc), EINVAL);
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> owner(found, freeaddrinfo);
  UniqueFd fd(socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return errnoError("socket");
  int on = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  // [::]:PORT serves IPv6 alone; an IPv4 listen address is its own setting.
  if (found->ai_family == AF_INET6) setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
  if (bind(fd.get(), found->ai_addr, found->ai_addrlen) != 0) return errnoError("bind");
  if (::listen(fd.get(), 64) != 0) return errnoError("listen");
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  if (getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &len) != 0)
    return errnoError("getsockname");
  *port = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  return fd;
}

// At most one log line per kind and interval, carrying how many of that kind were held back
// since its last line. A kind apiece, so libmicrohttpd's complaints about the connections
// routelet cut do not hold back the line that says why.
class ThrottledLog {
 public:
  ThrottledLog(std::string prefix, std::chrono::seconds interval)
      : prefix_(std::move(prefix)), interval_(interval) {}

  void note(const std::string& kind, const std::string& message) {
    std::string line;
    {
      std::lock_guard lock(mu_);
      auto now = Clock::now();
      Kind& k = kinds_[kind];
      if (k.logged && now - k.last < interval_) {
        ++k.held;
        return;
      }
      line = prefix_ + message;
      if (k.held > 0)
        line += " (and " + std::to_string(k.held) + " more such lines held back in the last " +
                std::to_string(interval_.count()) + " s)";
      k = Kind{true, now, 0};
    }
    log::warn(line);
  }

 private:
  struct Kind {
    bool logged = false;
    Clock::time_point last;
    uint64_t held = 0;
  };
  std::string prefix_;
  std::chrono::seconds interval_;
  std::mutex mu_;
  std::map<std::string, Kind> kinds_;
};

class MhdEndpoints : public HttpEndpoints {
 public:
  MhdEndpoints(std::string listen, EndpointHandlers handlers, EndpointLimits limits)
      : listen_(std::move(listen)), handlers_(std::move(handlers)), limits_(limits) {}
  ~MhdEndpoints() override { stop(); }

  Status open() {
    auto fd = listenSocket(listen_, &port_);
    if (!fd) return fd.error();
    // Named by the port it got, when listen asked for any (port 0).
    log_.emplace("http " + listen_.substr(0, listen_.rfind(':') + 1) + std::to_string(port_) + ": ",
                 limits_.logInterval);
    // One polling thread serves every connection. The logger goes first: libmicrohttpd
    // prints to stderr itself about any option before it.
    daemon_ = MHD_start_daemon(
        MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, nullptr, nullptr,
        &MhdEndpoints::access, this, MHD_OPTION_EXTERNAL_LOGGER, &MhdEndpoints::mhdLog, this,
        MHD_OPTION_LISTEN_SOCKET, fd->get(), MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        limits_.connectionMemory, MHD_OPTION_CONNECTION_LIMIT, limits_.maxConnections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, limits_.maxConnectionsPerIp,
        MHD_OPTION_CONNECTION_TIMEOUT, static_cast<unsigned>(limits_.idleTimeout.count()),
        MHD_OPTION_NOTIFY_CONNECTION, &MhdEndpoints::connectionEvent, this,
        MHD_OPTION_NOTIFY_COMPLETED, &MhdEndpoints::requestCompleted, this, MHD_OPTION_END);
    // The socket is libmicrohttpd's from here on: it closes it on stop, and on some of its
    // failure paths too, so it must not be closed here again.
    fd->release();
    if (!daemon_) return makeError("libmicrohttpd did not start (see its message above)");
    watchdog_ = std::thread([this] { cutSlowRequests(); });
    return okStatus();
  }

  void stop() override {
    if (daemon_) {
      MHD_stop_daemon(daemon_);
      daemon_ = nullptr;
    }
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (watchdog_.joinable()) watchdog_.join();
  }

  uint16_t port() const override { return port_; }

 private:
  // A connection still owing an answer (its first, or the next on a kept-alive connection):
  // since when, and whether the watchdog cut it.
  struct Pending {
    int fd;
    Clock::time_point since;
    bool waiting = true;
    bool cut = false;
  };

  void refused(const char* reason, const std::string& message) {
    if (handlers_.refused) handlers_.refused(reason);
    log_->note(reason, message + "; every refusal counts in routelet_http_refused_total{reason=\"" +
                           reason + "\"}");
  }

  // The callbacks below run on libmicrohttpd's one polling thread (cutSlowRequests on the
  // watchdog's own).
  //
  // libmicrohttpd calls this when the headers are in, then once per piece of body, then
  // once more at the end. A response queued on the first call closes the connection after
  // it (0.9.75), so a GET is answered on the last call and the connection stays open for
  // the next scrape. A body (no endpoint takes one) is dropped as it arrives; until the
  // answer, the request deadline runs.
  static MHD_Result access(void* cls, MHD_Connection* connection, const char* url,
                           const char* method, const char*, const char*, size_t* uploadSize,
                           void** requestState) {
    auto* self = static_cast<MhdEndpoints*>(cls);
    std::string_view m = method;
    if (!*requestState && m == MHD_HTTP_METHOD_GET) {
      *requestState = self;
      return MHD_YES;
    }
    if (*uploadSize != 0) {
      *uploadSize = 0;
      return MHD_YES;
    }
    self->answered(connection);
    return self->answer(connection, url, m);
  }

  MHD_Result answer(MHD_Connection* connection, std::string_view path, std::string_view method) {
    unsigned code = MHD_HTTP_OK;
    std::string body;
    std::string type = "text/plain; charset=utf-8";
    const auto& probe = path == "/healthz" ? handlers_.healthz : handlers_.readyz;
    if (method != MHD_HTTP_METHOD_GET) {
      code = MHD_HTTP_METHOD_NOT_ALLOWED;
      body = "only GET\n";
    } else if ((path == "/healthz" || path == "/readyz") && probe) {
      auto [ok, text] = probe();
      code = ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE;
      body = text + "\n";
    } else if (path == "/metrics" && handlers_.metrics) {
      type = "text/plain; version=0.0.4; charset=utf-8";
      body = handlers_.metrics();
    } else {
      code = MHD_HTTP_NOT_FOUND;
      body = "not found\n";
    }
    MHD_Response* resp =
        MHD_create_response_from_buffer(body.size(), body.data(), MHD_RESPMEM_MUST_COPY);
    if (!resp) return MHD_NO;  // out of memory: libmicrohttpd closes the connection
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type.c_str());
    MHD_Result queued = MHD_queue_response(connection, code, resp);
    MHD_destroy_response(resp);
    return queued;
  }

  static void connectionEvent(void* cls, MHD_Connection* connection, void**,
                              MHD_ConnectionNotificationCode event) {
    auto* self = static_cast<MhdEndpoints*>(cls);
    std::lock_guard lock(self->mu_);
    if (event == MHD_CONNECTION_NOTIFY_STARTED) {
      const MHD_ConnectionInfo* info =
          MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
      self->pending_[connection] = Pending{info ? info->connect_fd : -1, Clock::now()};
      self->cv_.notify_all();
    } else {
      // Before libmicrohttpd closes the socket: the watchdog never touches a reused fd.
      self->pending_.erase(connection);
    }
  }

  void answered(MHD_Connection* connection) {
    std::lock_guard lock(mu_);
    auto it = pending_.find(connection);
    if (it != pending_.end()) it->second.waiting = false;
  }

  // The response went out: a keep-alive connection owes the next request from now on.
  static void requestCompleted(void* cls, MHD_Connection* connection, void**,
                               MHD_RequestTerminationCode) {
    auto* self = static_cast<MhdEndpoints*>(cls);
    std::lock_guard lock(self->mu_);
    auto it = self->pending_.find(connection);
    if (it == self->pending_.end()) return;
    it->second.waiting = true;
    it->second.since = Clock::now();
    self->cv_.notify_all();
  }

  // libmicrohttpd's own messages. It says why it closed a connection only here: a request
  // over the memory pool is answered 431 or 414, and an address at the per-IP limit is
  // "connection limit" (at the total limit it stops accepting instead, and says nothing).
  static void mhdLog(void* cls, const char* format, va_list args) {
    auto* self = static_cast<MhdEndpoints*>(cls);
    char buf[512];
    std::vsnprintf(buf, sizeof buf, format, args);
    std::string message(buf);
    while (!message.empty() && message.back() == '\n') message.pop_back();
    if (message.find("response code is 431") != std::string::npos ||
        message.find("response code is 414") != std::string::npos) {
      self->refused(kRefusedTooLarge,
                    "closed a connection whose request line and headers do not "
                    "fit in connectionMemory (" +
                        std::to_string(self->limits_.connectionMemory) + " bytes)");
    } else if (message.find("reached connection limit") != std::string::npos) {
      self->refused(kRefusedTooMany,
                    "refused a connection: " + std::to_string(self->limits_.maxConnectionsPerIp) +
                        " already open from its address (maxConnectionsPerIp)");
    } else {
      self->log_->note("libmicrohttpd", "libmicrohttpd: " + message);
    }
  }

  // Cuts connections whose answer is overdue. libmicrohttpd's own timeout is an idle
  // timeout, which a byte every few seconds resets; this one is not. shutdown() makes
  // libmicrohttpd see the end of the stream and close the connection itself.
  void cutSlowRequests() {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      auto now = Clock::now();
      auto next = Clock::time_point::max();
      int cut = 0;
      for (auto& [connection, p] : pending_) {
        if (!p.waiting || p.cut || p.fd < 0) continue;
        auto due = p.since + limits_.requestDeadline;
        if (due <= now) {
          ::shutdown(p.fd, SHUT_RDWR);
          p.cut = true;
          ++cut;
        } else {
          next = std::min(next, due);
        }
      }
      if (cut > 0) {
        lock.unlock();
        for (int i = 0; i < cut; ++i)
          refused(kRefusedTooSlow, "cut a connection whose request was not in whole " +
                                       std::to_string(limits_.requestDeadline.count()) +
                                       " s after it began (requestDeadline)");
        lock.lock();
        continue;
      }
      if (next == Clock::time_point::max())
        cv_.wait(lock);
      else
        cv_.wait_until(lock, next);
    }
  }

  std::string listen_;
  EndpointHandlers handlers_;
  EndpointLimits limits_;
  std::optional<ThrottledLog> log_;  // from open() on, when the port is known
  uint16_t port_ = 0;
  MHD_Daemon* daemon_ = nullptr;
  std::thread watchdog_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::map<MHD_Connection*, Pending> pending_;
};

}  // namespace

Result<std::unique_ptr<HttpEndpoints>> HttpEndpoints::start(const std::string& listen,
                                                            EndpointHandlers handlers,
                                                            EndpointLimits limits) {
  auto ep = std::make_unique<MhdEndpoints>(listen, std::move(handlers), limits);
  if (auto st = ep->open(); !st) return st.error().wrap("listen on " + listen);
  return std::unique_ptr<HttpEndpoints>(std::move(ep));
}

}  // namespace routelet::agent
