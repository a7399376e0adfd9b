// /healthz, /readyz and /metrics over plain HTTP (libmicrohttpd). Probes come from the
// kubelet on the node and Prometheus scrapes; nothing here is secret. Anyone who can reach
// the port is a client, so nothing a client sends can make the agent hold more than a few
// KiB per connection, or a connection for long: past a bound the connection is refused or
// cut, counted by reason, and logged at most once per interval.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/base/result.h"

namespace routelet::agent {

// A path whose handler is empty answers 404.
struct EndpointHandlers {
  std::function<std::pair<bool, std::string>()> healthz;  // ok, body
  std::function<std::pair<bool, std::string>()> readyz;
  std::function<std::string()> metrics;
  // A connection refused or cut, with its reason (kRefused*), from the server's thread.
  std::function<void(const char* reason)> refused;
};

struct EndpointLimits {
  // libmicrohttpd's memory pool of one connection: the request line and headers must fit in
  // it beside its bookkeeping and the response headers. Past it the client gets 431 (414
  // for a long request line) and the connection is closed. Probes and scrapes send ~200
  // bytes.
  size_t connectionMemory = 8 * 1024;
  // Past maxConnectionsPerIp from one address a new connection is closed at once (counted);
  // at maxConnections in all, new ones wait in the kernel's accept queue until one ends.
  unsigned maxConnections = 32;
  unsigned maxConnectionsPerIp = 16;
  // A connection that sends nothing for this long is closed (not counted: a keep-alive
  // connection between two scrapes ends so).
  std::chrono::seconds idleTimeout{5};
  // A request (line, headers and any body) not in whole this long after the connection
  // opened or the previous response went out: a client dripping a byte at a time is cut
  // (counted). Longer than idleTimeout, so only a client that kept sending reaches it.
  std::chrono::seconds requestDeadline{10};
  // At most one log line per interval for each kind of refusal and for libmicrohttpd's own
  // complaints, so a hostile client cannot flood the log; the counters see every one.
  std::chrono::seconds logInterval{60};
};

// Why a connection was refused or cut, as EndpointHandlers::refused and the metric say it.
inline constexpr const char* kRefusedTooLarge = "headers_too_large";
inline constexpr const char* kRefusedTooMany = "too_many_connections";
inline constexpr const char* kRefusedTooSlow = "request_too_slow";
inline constexpr const char* kRefusalReasons[] = {kRefusedTooLarge, kRefusedTooMany,
                                                  kRefusedTooSlow};

class HttpEndpoints {
 public:
  // listen is HOST:PORT ("127.0.0.1:9654", "[::1]:9654"); port 0 picks a free port.
  static Result<std::unique_ptr<HttpEndpoints>> start(const std::string& listen,
                                                      EndpointHandlers handlers,
                                                      EndpointLimits limits = {});
  virtual ~HttpEndpoints() = default;
  virtual void stop() = 0;
  // The port it listens on.
  virtual uint16_t port() const = 0;
};

}  // namespace routelet::agent
