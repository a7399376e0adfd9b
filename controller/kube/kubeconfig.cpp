#include "controller/kube/kubeconfig.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "common/fs/files.h"

namespace routelet::kube {
namespace {

// Certificates and keys are a few KiB; a bound keeps a wrong path (a log, a device)
// from being slurped.
constexpr size_t kMaxPemFile = 256 * 1024;
constexpr size_t kMaxTokenFile = 64 * 1024;

// A value quoted in a message, shortened so a pasted blob does not flood the log.
std::string quote(const std::string& v) {
  if (v.size() <= 120) return "\"" + v + "\"";
  return "\"" + v.substr(0, 120) + "...\"";
}

// Why a referenced file could not be read, in the words of strerror where there is one.
std::string readFailure(const Error& e) {
  if (e.code == EFBIG) return "file is too large";
  if (e.code != 0) return std::strerror(e.code);
  return e.message;
}

std::string dirOf(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

bool looksLikePem(const std::string& s, const char* what) {
  return s.find(std::string("-----BEGIN ") + what) != std::string::npos;
}

// One kubeconfig being parsed: knows its path for messages and relative references.
class Parser {
 public:
  explicit Parser(std::string path) : path_(std::move(path)) {}

  Error fail(const std::string& what) const {
    return makeError("kubeconfig " + path_ + ": " + what, EINVAL);
  }

  // A string field; "" when absent. Any non-scalar is an error naming the field.
  Result<std::string> scalar(const YAML::Node& parent, const char* key,
                             const std::string& field) const {
    YAML::Node n = parent[key];
    if (!n || n.IsNull()) return std::string();
    if (!n.IsScalar()) return fail(field + ": expected a string");
    return n.Scalar();
  }

  // Finds `name` in a list of {name, <kind>: {...}} entries; returns its index.
  Result<size_t> findNamed(const YAML::Node& list, const char* listName, const std::string& name,
                           const std::string& referrer) const {
    if (list && !list.IsSequence()) return fail(std::string(listName) + ": expected a list");
    for (size_t i = 0; list && i < list.size(); ++i) {
      YAML::Node n = list[i]["name"];
      if (n && n.IsScalar() && n.Scalar() == name) return i;
    }
    return fail(referrer + " " + quote(name) + ": no entry of that name in " + listName);
  }

  // PEM from "<key>" (a file) or "<key>-data" (base64 inline); "" when neither is set.
  Result<std::string> pemField(const YAML::Node& parent, const std::string& base,
                               const std::string& key, const char* pemKind) const {
    auto data = scalar(parent, (key + "-data").c_str(), base + "." + key + "-data");
    if (!data) return data.error();
    auto file = scalar(parent, key.c_str(), base + "." + key);
    if (!file) return file.error();
    std::string pem;
    std::string field;
    if (!data->empty()) {
      field = base + "." + key + "-data";
      auto decoded = decodeBase64(*data);
      if (!decoded) return fail(field + ": " + decoded.error().message);
      pem = std::move(*decoded);
    } else if (!file->empty()) {
      field = base + "." + key + " " + quote(*file);
      std::string p = (*file)[0] == '/' ? *file : dirOf(path_) + "/" + *file;
      auto content = fs::readFile(p, kMaxPemFile);
      if (!content) return fail(field + ": " + readFailure(content.error()));
      pem = std::move(*content);
    } else {
      return std::string();
    }
    if (!looksLikePem(pem, pemKind))
      return fail(field + ": not PEM (no \"-----BEGIN " + pemKind + "\" line)");
    return pem;
  }

  std::string resolve(const std::string& p) const {
    return p.empty() || p[0] == '/' ? p : dirOf(path_) + "/" + p;
  }

  Result<ClusterAccess> parse(const std::string& text) const {
    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
      return fail("invalid YAML at line " + std::to_string(e.mark.line + 1) + " column " +
                  std::to_string(e.mark.column + 1) + ": " + e.msg);
    }
    if (!root.IsMap()) return fail("expected a YAML mapping with clusters, contexts and users");

    auto current = scalar(root, "current-context", "current-context");
    if (!current) return current.error();
    if (current->empty())
      return fail("current-context is not set; set it (kubectl config use-context NAME)");
    YAML::Node contexts = root["contexts"];
    auto ci = findNamed(contexts, "contexts", *current, "current-context");
    if (!ci) return ci.error();
    std::string cbase = "contexts[" + std::to_string(*ci) + "].context";
    YAML::Node context = contexts[*ci]["context"];
    if (!context || !context.IsMap()) return fail(cbase + ": missing or not a mapping");
    auto clusterName = scalar(context, "cluster", cbase + ".cluster");
    if (!clusterName) return clusterName.error();
    auto userName = scalar(context, "user", cbase + ".user");
    if (!userName) return userName.error();
    if (clusterName->empty()) return fail(cbase + ".cluster is not set");
    if (userName->empty())
      return fail(cbase + ".user is not set; routelet needs credentials (token or certificate)");

    ClusterAccess out;
    out.origin = "kubeconfig " + path_;
    YAML::Node clusters = root["clusters"];
    auto ki = findNamed(clusters, "clusters", *clusterName, cbase + ".cluster");
    if (!ki) return ki.error();
    Status st = parseCluster(clusters[*ki]["cluster"],
                             "clusters[" + std::to_string(*ki) + "].cluster", &out);
    if (!st) return st.error();

    YAML::Node users = root["users"];
    auto ui = findNamed(users, "users", *userName, cbase + ".user");
    if (!ui) return ui.error();
    st = parseUser(users[*ui]["user"], "users[" + std::to_string(*ui) + "].user", &out);
    if (!st) return st.error();
    return out;
  }

 private:
  Status parseCluster(const YAML::Node& cluster, const std::string& base,
                      ClusterAccess* out) const {
    if (!cluster || !cluster.IsMap()) return fail(base + ": missing or not a mapping");
    auto server = scalar(cluster, "server", base + ".server");
    if (!server) return server.error();
    if (server->empty()) return fail(base + ".server is not set");
    if (server->rfind("https://", 0) != 0)
      return fail(base + ".server " + quote(*server) +
                  ": must start with https:// (routelet always verifies TLS)");
    if (server->size() <= 8 || (*server)[8] == '/' || (*server)[8] == ':')
      return fail(base + ".server " + quote(*server) + ": no host");
    out->server = *server;
    while (out->server.back() == '/') out->server.pop_back();

    auto insecure = scalar(cluster, "insecure-skip-tls-verify", base + ".insecure-skip-tls-verify");
    if (!insecure) return insecure.error();
    if (*insecure == "true")
      return fail(base + ".insecure-skip-tls-verify is true: routelet always verifies TLS; " +
                  "set certificate-authority(-data) instead");

    auto ca = pemField(cluster, base, "certificate-authority", "CERTIFICATE");
    if (!ca) return ca.error();
    if (ca->empty())
      return fail(base + ": neither certificate-authority nor certificate-authority-data is set; " +
                  "routelet trusts only the configured CA");
    out->caPem = std::move(*ca);
    return okStatus();
  }

  Status parseUser(const YAML::Node& user, const std::string& base, ClusterAccess* out) const {
    if (!user || !user.IsMap()) return fail(base + ": missing or not a mapping");
    auto token = scalar(user, "token", base + ".token");
    if (!token) return token.error();
    auto tokenFile = scalar(user, "tokenFile", base + ".tokenFile");
    if (!tokenFile) return tokenFile.error();
    // As client-go: a tokenFile, when set, wins over an inline token.
    if (!tokenFile->empty()) {
      out->tokenFile = resolve(*tokenFile);
      auto content = fs::readFile(out->tokenFile, kMaxTokenFile);
      if (!content)
        return fail(base + ".tokenFile " + quote(*tokenFile) + ": " + readFailure(content.error()));
    } else {
      out->token = *token;
    }
    auto cert = pemField(user, base, "client-certificate", "CERTIFICATE");
    if (!cert) return cert.error();
    auto key = pemField(user, base, "client-key", "");
    if (!key) return key.error();
    if (cert->empty() != key->empty())
      return fail(base + ": client-certificate and client-key must be set together");
    if (!key->empty() && key->find("PRIVATE KEY-----") == std::string::npos)
      return fail(base + ".client-key: not a PEM private key");
    out->clientCertPem = std::move(*cert);
    out->clientKeyPem = std::move(*key);
    if (out->token.empty() && out->tokenFile.empty() && out->clientCertPem.empty())
      return fail(base + ": no token, tokenFile or client-certificate; routelet supports only " +
                  "these (no exec or auth-provider plugins)");
    return okStatus();
  }

  std::string path_;
};

}  // namespace

Result<std::string> decodeBase64(std::string_view text) {
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  size_t padding = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '+')
      v = 62;
    else if (c == '/')
      v = 63;
    else if (c == '=') {
      ++padding;
      continue;
    } else if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
      continue;
    } else {
      return makeError("invalid base64: unexpected character at offset " + std::to_string(i),
                       EINVAL);
    }
    if (padding > 0)
      return makeError("invalid base64: data after '=' padding at offset " + std::to_string(i),
                       EINVAL);
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  // 6 leftover bits cannot come from whole bytes: the input was cut.
  if (bits >= 6 || padding > 2) return makeError("invalid base64: truncated input", EINVAL);
  return out;
}

Result<ClusterAccess> parseKubeconfig(const std::string& text, const std::string& path) {
  try {
    return Parser(path).parse(text);
  } catch (const YAML::Exception& e) {
    // yaml-cpp throws on conversions deep inside; name the file at least.
    return makeError("kubeconfig " + path + ": " + e.what(), EINVAL);
  }
}

Result<ClusterAccess> loadKubeconfig(const std::string& path) {
  auto text = fs::readFile(path);
  if (!text)
    return makeError("kubeconfig " + path + ": " + readFailure(text.error()), text.error().code);
  return parseKubeconfig(*text, path);
}

Result<ClusterAccess> inClusterAccess(const std::function<const char*(const char*)>& getenv,
                                      const std::string& saDir) {
  auto env = [&](const char* name) -> std::string {
    const char* v = getenv ? getenv(name) : std::getenv(name);
    return v ? v : "";
  };
  std::string host = env("KUBERNETES_SERVICE_HOST");
  std::string port = env("KUBERNETES_SERVICE_PORT");
  if (host.empty() || port.empty())
    return makeError(
        "in-cluster config: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set "
        "(they are in a pod); outside a cluster pass --kubeconfig",
        EINVAL);
  char* end = nullptr;
  long p = std::strtol(port.c_str(), &end, 10);
  if (*end != '\0' || p < 1 || p > 65535)
    return makeError(
        "in-cluster config: KUBERNETES_SERVICE_PORT " + quote(port) + ": not a port number",
        EINVAL);
  ClusterAccess out;
  out.origin = "in-cluster service account " + saDir;
  // An IPv6 literal must be bracketed in a URL (RFC 3986 section 3.2.2).
  bool v6 = host.find(':') != std::string::npos && host.front() != '[';
  out.server = "https://" + (v6 ? "[" + host + "]" : host) + ":" + port;
  auto ca = fs::readFile(saDir + "/ca.crt", kMaxPemFile);
  if (!ca)
    return makeError("in-cluster config: CA " + saDir + "/ca.crt: " + readFailure(ca.error()),
                     EINVAL);
  if (!looksLikePem(*ca, "CERTIFICATE"))
    return makeError("in-cluster config: CA " + saDir + "/ca.crt: not a PEM certificate", EINVAL);
  out.caPem = std::move(*ca);
  out.tokenFile = saDir + "/token";
  auto token = fs::readFile(out.tokenFile, kMaxTokenFile);
  if (!token)
    return makeError(
        "in-cluster config: token " + out.tokenFile + ": " + readFailure(token.error()), EINVAL);
  return out;
}

}  // namespace routelet::kube
