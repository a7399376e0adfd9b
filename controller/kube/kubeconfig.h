// How to reach the Kubernetes API: from a kubeconfig file or from the in-cluster service
// account. Pure parsing with file reads only; nothing here talks to the network.
#pragma once

#include <functional>
#include <string>

#include "common/base/result.h"

namespace routelet::kube {

struct ClusterAccess {
  std::string server;  // "https://host:port", no trailing slash
  std::string caPem;   // the only CA the client trusts (TLS verification is always on)

  // Authentication: at most one of token / tokenFile, plus an optional client certificate.
  // Never log token.
  std::string token;
  std::string tokenFile;  // re-read periodically: projected tokens rotate (about hourly)
  std::string clientCertPem;
  std::string clientKeyPem;

  // Where this came from, for messages ("kubeconfig /etc/x", "in-cluster service account").
  std::string origin;
};

// Parses kubeconfig text. `path` names the file in messages and relative file references
// are resolved against its directory, as kubectl does.
Result<ClusterAccess> parseKubeconfig(const std::string& text, const std::string& path);
// Reads and parses the kubeconfig file at path.
Result<ClusterAccess> loadKubeconfig(const std::string& path);

// The standard service-account mount; overridable for tests.
inline constexpr const char* kServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";

// In-cluster access: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT with
// saDir/ca.crt and saDir/token. getenv is injectable for tests.
Result<ClusterAccess> inClusterAccess(
    const std::function<const char*(const char*)>& getenv = nullptr,
    const std::string& saDir = kServiceAccountDir);

// Standard base64 (RFC 4648, padding optional, whitespace ignored), as Kubernetes
// writes *-data fields.
Result<std::string> decodeBase64(std::string_view text);

}  // namespace routelet::kube
