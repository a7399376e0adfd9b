// /healthz, /readyz and /metrics over plain HTTP (cpprestsdk's listener). Probes come
// from the kubelet on the node and Prometheus scrapes; nothing here is secret.
#pragma once

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
};

class HttpEndpoints {
 public:
  // listen is HOST:PORT ("127.0.0.1:9654", "[::1]:9654").
  static Result<std::unique_ptr<HttpEndpoints>> start(const std::string& listen,
                                                      EndpointHandlers handlers);
  virtual ~HttpEndpoints() = default;
  virtual void stop() = 0;
};

}  // namespace routelet::agent
