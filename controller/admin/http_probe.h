// A minimal HTTP/1.0 GET for the agent's own endpoints on this node. The answers are a
// status line and one short line of text, so a socket and a few lines beat pulling
// cpprestsdk's thread pool into a command that runs for a few milliseconds.
#pragma once

#include <chrono>
#include <string>

#include "common/base/result.h"
#include "controller/admin/system.h"

namespace routelet::admin {

struct ProbeTarget {
  std::string host;  // numeric address to connect to
  uint16_t port = 0;
};

// Pure. "0.0.0.0:9654" -> 127.0.0.1:9654, "[::]:9654" -> ::1, "[::1]:9654" -> ::1: the
// agent listening on every address is reached on loopback.
Result<ProbeTarget> probeTarget(const std::string& listen);

// Pure. Status code and the first line of the body of a whole HTTP response.
HttpAnswer parseHttpAnswer(const std::string& response);

HttpAnswer httpGet(const std::string& listen, const std::string& path,
                   std::chrono::milliseconds timeout = std::chrono::milliseconds(2000));

}  // namespace routelet::admin
