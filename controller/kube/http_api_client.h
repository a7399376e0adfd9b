// The real ApiClient: HTTPS to the API server with cpprestsdk. cpprest stays inside
// http_api_client.cpp (its headers are slow to compile and leak boost into includers).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "common/base/result.h"
#include "controller/kube/api_client.h"
#include "controller/kube/kubeconfig.h"
#include "controller/kube/node_decode.h"

namespace routelet::kube {

struct HttpApiOptions {
  // Idle timeout of LIST/GET/PATCH (cpprest's timeout applies per read, not per request).
  std::chrono::seconds requestTimeout{30};
  // A watch's idle timeout is its timeoutSeconds plus this, so the server, not the
  // client, ends a healthy quiet watch.
  std::chrono::seconds watchIdleSlack{30};
  int listLimit = 500;
  // A watch line holds one Node; etcd caps an object at 1.5 MiB.
  size_t maxLineBytes = 4 << 20;
  // One LIST page (500 Nodes with image lists is 5-7 MB).
  size_t maxPageBytes = 128 << 20;
  std::chrono::seconds tokenMaxAge{60};
  std::string userAgent = "routelet";
  DecodeLimits decode;
};

// Checks the CA, client certificate and key up front, so a bad file fails at startup with
// a message naming it rather than at the first TLS handshake.
// Sizes cpprestsdk's shared thread pool. Call once, before the first client: its default
// of 40 threads (each with its own malloc arena) is most of an idle agent's memory, and
// the agent keeps one watch and an occasional patch in flight.
void configureHttpThreads(size_t threads);

Result<std::unique_ptr<ApiClient>> makeHttpApiClient(const ClusterAccess& access,
                                                     HttpApiOptions options = {});

}  // namespace routelet::kube
