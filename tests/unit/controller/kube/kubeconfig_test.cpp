#include "controller/kube/kubeconfig.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "tests/support/temp_dir.h"

namespace routelet::kube {
namespace {

constexpr const char* kCa = "-----BEGIN CERTIFICATE-----\nMIIBca\n-----END CERTIFICATE-----\n";
constexpr const char* kKey = "-----BEGIN PRIVATE KEY-----\nMIIkey\n-----END PRIVATE KEY-----\n";
// base64 of kCa
std::string b64(const std::string& in) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out.push_back(t[(v >> s) & 63]);
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += {t[(v >> 18) & 63], t[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += {t[(v >> 18) & 63], t[(v >> 12) & 63], t[(v >> 6) & 63], '='};
  }
  return out;
}

class KubeconfigTest : public ::testing::Test {
 protected:
  std::string write(const std::string& name, const std::string& content) {
    std::string p = dir_ + "/" + name;
    std::ofstream(p) << content;
    return p;
  }

  // A kubeconfig with one cluster/context/user; user and cluster bodies are given.
  std::string config(const std::string& clusterBody, const std::string& userBody,
                     const std::string& current = "ctx") {
    return "apiVersion: v1\nkind: Config\nclusters:\n- name: other\n  cluster:\n"
           "    server: https://10.9.9.9\n- name: c1\n  cluster:\n" +
           clusterBody +
           "contexts:\n- name: ctx\n  context:\n    cluster: c1\n    user: u1\n"
           "users:\n- name: u1\n  user:\n" +
           userBody + (current.empty() ? "" : "current-context: " + current + "\n");
  }

  routelet::testing::TempDir tmp_{"kubeconfig"};
  std::string dir_ = tmp_.path();
};

TEST_F(KubeconfigTest, TokenAndInlineCa) {
  auto a = parseKubeconfig(config("    server: https://127.0.0.1:6443/\n"
                                  "    certificate-authority-data: " +
                                      b64(kCa) + "\n",
                                  "    token: abc123\n"),
                           "/k");
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->server, "https://127.0.0.1:6443");
  EXPECT_EQ(a->caPem, kCa);
  EXPECT_EQ(a->token, "abc123");
  EXPECT_TRUE(a->tokenFile.empty());
  EXPECT_EQ(a->origin, "kubeconfig /k");
}

TEST_F(KubeconfigTest, FilesRelativeToKubeconfigDirectory) {
  write("ca.crt", kCa);
  write("client.crt", kCa);
  write("client.key", kKey);
  write("token", "tok\n");
  std::string path = write("config", config("    server: https://[fd00::1]:6443\n"
                                            "    certificate-authority: ca.crt\n",
                                            "    client-certificate: client.crt\n"
                                            "    client-key: " +
                                                dir_ +
                                                "/client.key\n"
                                                "    tokenFile: token\n"
                                                "    token: ignored\n"));
  auto a = loadKubeconfig(path);
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->server, "https://[fd00::1]:6443");
  EXPECT_EQ(a->caPem, kCa);
  EXPECT_EQ(a->clientCertPem, kCa);
  EXPECT_EQ(a->clientKeyPem, kKey);
  EXPECT_EQ(a->tokenFile, dir_ + "/token");
  EXPECT_TRUE(a->token.empty()) << "tokenFile wins over token, as in client-go";
}

TEST_F(KubeconfigTest, ClientCertificateData) {
  auto a = parseKubeconfig(
      config("    server: https://h\n    certificate-authority-data: " + b64(kCa) + "\n",
             "    client-certificate-data: " + b64(kCa) + "\n    client-key-data: " + b64(kKey) +
                 "\n"),
      "/k");
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->clientKeyPem, kKey);
  EXPECT_TRUE(a->token.empty());
}

TEST_F(KubeconfigTest, MissingFileNamesFieldValueAndReason) {
  auto a = parseKubeconfig(
      config("    server: https://h\n    certificate-authority-data: " + b64(kCa) + "\n",
             "    client-certificate: /missing.crt\n"
             "    client-key: /missing.key\n"),
      "/x");
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error().message,
            "kubeconfig /x: users[0].user.client-certificate \"/missing.crt\": No such file or "
            "directory");
}

struct BadCase {
  const char* name;
  std::string cluster;
  std::string user;
  std::string current;
  std::string expected;  // substring of the error
};

TEST_F(KubeconfigTest, ClearErrors) {
  std::string ca = "    certificate-authority-data: " + b64(kCa) + "\n";
  std::vector<BadCase> cases = {
      {"no current-context", "    server: https://h\n" + ca, "    token: t\n", "",
       "kubeconfig /x: current-context is not set"},
      {"unknown context", "    server: https://h\n" + ca, "    token: t\n", "nope",
       "current-context \"nope\": no entry of that name in contexts"},
      {"missing server", ca, "    token: t\n", "ctx", "clusters[1].cluster.server is not set"},
      {"http server", "    server: http://h:80\n" + ca, "    token: t\n", "ctx",
       "clusters[1].cluster.server \"http://h:80\": must start with https://"},
      {"bad base64", "    server: https://h\n    certificate-authority-data: ab$cd\n",
       "    token: t\n", "ctx",
       "clusters[1].cluster.certificate-authority-data: invalid base64: unexpected character at "
       "offset 2"},
      {"not pem", "    server: https://h\n    certificate-authority-data: " + b64("hello") + "\n",
       "    token: t\n", "ctx", "certificate-authority-data: not PEM"},
      {"no ca", "    server: https://h\n", "    token: t\n", "ctx",
       "neither certificate-authority nor certificate-authority-data"},
      {"insecure", "    server: https://h\n    insecure-skip-tls-verify: true\n" + ca,
       "    token: t\n", "ctx", "insecure-skip-tls-verify is true"},
      {"no credentials", "    server: https://h\n" + ca, "    username: bob\n", "ctx",
       "users[0].user: no token, tokenFile or client-certificate"},
      {"cert without key", "    server: https://h\n" + ca,
       "    client-certificate-data: " + b64(kCa) + "\n", "ctx",
       "client-certificate and client-key must be set together"},
      {"missing token file", "    server: https://h\n" + ca, "    tokenFile: /nope/token\n", "ctx",
       "users[0].user.tokenFile \"/nope/token\": No such file or directory"},
      {"server not a string", "    server: [a, b]\n" + ca, "    token: t\n", "ctx",
       "clusters[1].cluster.server: expected a string"},
  };
  for (const auto& c : cases) {
    auto a = parseKubeconfig(config(c.cluster, c.user, c.current), "/x");
    ASSERT_FALSE(a.ok()) << c.name;
    EXPECT_NE(a.error().message.find(c.expected), std::string::npos)
        << c.name << ": " << a.error().message;
    EXPECT_EQ(a.error().message.rfind("kubeconfig /x: ", 0), 0u) << c.name;
  }
}

TEST_F(KubeconfigTest, UnknownClusterAndInvalidYaml) {
  std::string text =
      "clusters: []\ncontexts:\n- name: a\n  context: {cluster: gone, user: u}\n"
      "users: []\ncurrent-context: a\n";
  auto a = parseKubeconfig(text, "/x");
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.error().message.find("contexts[0].context.cluster \"gone\": no entry of that name"),
            std::string::npos)
      << a.error().message;

  auto b = parseKubeconfig("clusters: [\n  - {", "/y");
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.error().message.find("kubeconfig /y: invalid YAML at line"), std::string::npos)
      << b.error().message;

  auto c = loadKubeconfig(dir_ + "/absent");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().message, "kubeconfig " + dir_ + "/absent: No such file or directory");
}

TEST_F(KubeconfigTest, TokenNeverInErrors) {
  auto a = parseKubeconfig(config("    server: http://h\n", "    token: s3cr3t-token\n"), "/x");
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error().message.find("s3cr3t"), std::string::npos);
}

TEST_F(KubeconfigTest, InCluster) {
  write("ca.crt", kCa);
  write("token", "sa-token");
  std::map<std::string, std::string> env = {{"KUBERNETES_SERVICE_HOST", "fd00:10:96::1"},
                                            {"KUBERNETES_SERVICE_PORT", "443"}};
  auto getenv = [&](const char* n) -> const char* {
    auto it = env.find(n);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  auto a = inClusterAccess(getenv, dir_);
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->server, "https://[fd00:10:96::1]:443");
  EXPECT_EQ(a->caPem, kCa);
  EXPECT_EQ(a->tokenFile, dir_ + "/token");

  env["KUBERNETES_SERVICE_HOST"] = "10.96.0.1";
  a = inClusterAccess(getenv, dir_);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->server, "https://10.96.0.1:443");

  env["KUBERNETES_SERVICE_PORT"] = "https";
  a = inClusterAccess(getenv, dir_);
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.error().message.find("KUBERNETES_SERVICE_PORT \"https\": not a port number"),
            std::string::npos);

  env.erase("KUBERNETES_SERVICE_HOST");
  a = inClusterAccess(getenv, dir_);
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.error().message.find("KUBERNETES_SERVICE_HOST"), std::string::npos);

  env["KUBERNETES_SERVICE_HOST"] = "10.96.0.1";
  env["KUBERNETES_SERVICE_PORT"] = "443";
  std::filesystem::remove(dir_ + "/token");
  a = inClusterAccess(getenv, dir_);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error().message,
            "in-cluster config: token " + dir_ + "/token: No such file or directory");
}

TEST(Base64, Decodes) {
  EXPECT_EQ(*decodeBase64("aGVsbG8="), "hello");
  EXPECT_EQ(*decodeBase64("aGVsbG8"), "hello");
  EXPECT_EQ(*decodeBase64("aGVs\nbG8h"), "hello!");
  EXPECT_EQ(*decodeBase64(""), "");
  EXPECT_FALSE(decodeBase64("aGVsbG8=x").ok());
  EXPECT_FALSE(decodeBase64("a").ok());
  EXPECT_FALSE(decodeBase64("a*b").ok());
}

}  // namespace
}  // namespace routelet::kube
