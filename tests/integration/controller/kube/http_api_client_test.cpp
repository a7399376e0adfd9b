// The real HTTPS ApiClient and NodeWatcher against the API stand-in: TLS with its CA,
// bearer tokens, the manifest's RBAC, paging, watches and faults.
#include "controller/kube/http_api_client.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "common/fs/files.h"
#include "controller/kube/kubeconfig.h"
#include "controller/kube/node_watcher.h"
#include "tests/support/eventually.h"
#include "tests/support/rss.h"
#include "tests/support/temp_dir.h"

namespace routelet::kube {
namespace {

using namespace std::chrono_literals;
using routelet::testing::eventually;
using routelet::testing::rssGrowthDuring;

const std::string kStandin = std::string(ROUTELET_SOURCE_DIR) + "/tests/apiserver/standin";

// As the kubelet rotates a projected token: write aside, rename over.
bool writeToken(const std::string& path, const std::string& token) {
  {
    std::ofstream out(path + ".new");
    out << token << "\n";
    if (!out) return false;
  }
  return std::rename((path + ".new").c_str(), path.c_str()) == 0;
}

int sh(const std::string& cmd) {
  return std::system((cmd + " >/dev/null 2>&1").c_str());
}

// One stand-in process with its own state dir, stopped and removed on destruction.
class Standin {
 public:
  explicit Standin(int nodes, const std::string& extra = "") {
    int rc = sh(kStandin + " serve --listen 127.0.0.1:0 --daemon --state-dir " + dir_ +
                " --nodes " + std::to_string(nodes) + " " + extra);
    if (rc != 0) throw std::runtime_error("stand-in did not start; see " + dir_ + "/standin.log");
  }
  ~Standin() { sh(kStandin + " ctl --state-dir " + dir_ + " stop"); }
  void ctl(const std::string& cmd) {
    ASSERT_EQ(sh(kStandin + " ctl --state-dir " + dir_ + " " + cmd), 0) << cmd;
  }
  const std::string& dir() const { return dir_; }
  std::string file(const std::string& name) const { return dir_ + "/" + name; }
  std::string token(const std::string& who) const {
    auto t = fs::readFile(file(who + ".token"));
    std::string s = t ? *t : "";
    while (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
  }

 private:
  routelet::testing::TempDir tmp_{"standin"};
  std::string dir_ = tmp_.path();
};

std::unique_ptr<ApiClient> clientFor(const std::string& kubeconfig) {
  auto access = loadKubeconfig(kubeconfig);
  EXPECT_TRUE(access.ok()) << access.error().message;
  if (!access) return nullptr;
  auto c = makeHttpApiClient(*access);
  EXPECT_TRUE(c.ok()) << c.error().message;
  return c ? std::move(*c) : nullptr;
}

TEST(HttpApiClient, ListsThousandNodesInPages) {
  Standin s(1000);
  auto api = clientFor(s.file("agent.kubeconfig"));
  ASSERT_TRUE(api);
  std::set<std::string> names;
  size_t withCidr = 0;
  std::string rv;
  ApiStatus st = api->listNodes(
      [&](model::Node&& n) {
        names.insert(n.name);
        withCidr += n.podCIDRs.size() == 1 && n.nodeIP(ip::Family::kV4) ? 1 : 0;
        EXPECT_TRUE(n.problems.empty()) << n.name << ": " << n.problems[0];
      },
      &rv, nullptr);
  ASSERT_TRUE(st.ok) << st.message;
  EXPECT_EQ(names.size(), 1000u);
  EXPECT_EQ(withCidr, 1000u);
  EXPECT_FALSE(rv.empty());
  auto counts = api->requestCounts();
  EXPECT_EQ(counts[200], 2u) << "limit=500: two pages";
}

TEST(HttpApiClient, AListPageOverTheLimitIsRefusedByName) {
  Standin s(50);  // one page of ~10 KB Nodes, far over the limit below
  auto access = loadKubeconfig(s.file("agent.kubeconfig"));
  ASSERT_TRUE(access.ok()) << access.error().message;
  HttpApiOptions options;
  options.maxPageBytes = 64 * 1024;
  auto api = makeHttpApiClient(*access, options);
  ASSERT_TRUE(api.ok()) << api.error().message;
  std::string rv;
  ApiStatus st = (*api)->listNodes([](model::Node&&) {}, &rv, nullptr);
  ASSERT_FALSE(st.ok);
  EXPECT_NE(st.message.find("/api/v1/nodes?limit=500: response body over 65536 bytes"),
            std::string::npos)
      << st.message;
  EXPECT_TRUE(rv.empty()) << "no resourceVersion from a refused page";
}

std::unique_ptr<ApiClient> clientWith(const std::string& kubeconfig, HttpApiOptions options) {
  auto access = loadKubeconfig(kubeconfig);
  EXPECT_TRUE(access.ok()) << access.error().message;
  if (!access) return nullptr;
  auto c = makeHttpApiClient(*access, std::move(options));
  EXPECT_TRUE(c.ok()) << c.error().message;
  return c ? std::move(*c) : nullptr;
}

// A LIST against a server that may never end it: cancelled after a generous deadline, so a
// client without bounds fails the test instead of hanging it.
ApiStatus listWithDeadline(ApiClient& api, size_t* delivered) {
  Cancellation cancel;
  std::atomic<bool> done{false};
  std::thread deadline([&] {
    for (int i = 0; i < 600 && !done; ++i) std::this_thread::sleep_for(100ms);
    cancel.cancel();
  });
  std::string rv;
  ApiStatus st = api.listNodes([&](model::Node&&) { ++*delivered; }, &rv, &cancel);
  done = true;
  deadline.join();
  EXPECT_FALSE(st.cancelled) << "the LIST did not end within 60 s";
  return st;
}

// The LIST of a stand-in with `nodes` Nodes (and `fault`, if any), by a client with
// `options`: it must end past the named bound, with a message naming bound and value.
ApiStatus listPastABound(int nodes, const std::string& fault, HttpApiOptions options,
                         const std::string& bound, const std::string& says,
                         size_t* delivered = nullptr, uint64_t* pages = nullptr) {
  Standin s(nodes);
  if (!fault.empty()) s.ctl("list-fault " + fault);
  auto api = clientWith(s.file("agent.kubeconfig"), std::move(options));
  if (!api) return ApiStatus::failure(0, "no client");
  size_t got = 0;
  ApiStatus st = listWithDeadline(*api, &got);
  EXPECT_FALSE(st.ok);
  EXPECT_EQ(st.bound, bound);
  EXPECT_NE(st.message.find(says), std::string::npos) << st.message;
  if (delivered) *delivered = got;
  if (pages) *pages = api->requestCounts()[200];
  return st;
}

// A server answering every page with the same continue token would keep the client
// listing forever (issue 23: ~22 LISTs/s, 672 MB). The second page gives it away.
TEST(HttpApiClient, ARepeatedContinueTokenEndsTheList) {
  uint64_t pages = 0;
  listPastABound(5, "repeat-continue", {}, "continue",
                 "/api/v1/nodes: page 2 repeats continue token \"again\"", nullptr, &pages);
  EXPECT_EQ(pages, 2u);
}

TEST(HttpApiClient, AListPastItsPageBoundEnds) {
  HttpApiOptions options;
  options.maxListPages = 20;
  uint64_t pages = 0;
  listPastABound(5, "endless-continue", options, "maxListPages",
                 "more than 20 pages (maxListPages)", nullptr, &pages);
  EXPECT_EQ(pages, 20u);
}

TEST(HttpApiClient, AListPastItsNodeBoundEnds) {
  HttpApiOptions options;
  options.maxListNodes = 700;  // the second page of 500 goes past it
  size_t delivered = 0;
  listPastABound(1200, "", options, "maxListNodes", "more than 700 Nodes (maxListNodes",
                 &delivered);
  EXPECT_EQ(delivered, 700u) << "decoding stops at the bound, mid-page";
}

TEST(HttpApiClient, AListPastItsByteBoundEnds) {
  HttpApiOptions options;  // ~11 KB a Node: pages of ~5.5 MB
  options.maxListBytes = 8 << 20;
  listPastABound(1200, "", options, "maxListBytes",
                 "more than 8388608 bytes in 2 pages (maxListBytes)");
}

TEST(HttpApiClient, WatchSeesAnAdminPatch) {
  Standin s(3);
  auto agent = clientFor(s.file("agent.kubeconfig"));
  auto admin = clientFor(s.file("admin.kubeconfig"));
  ASSERT_TRUE(agent && admin);
  std::string rv;
  ASSERT_TRUE(agent->listNodes([](model::Node&&) {}, &rv, nullptr).ok);

  std::atomic<bool> watching{false};
  model::Node seen;
  ApiStatus watchStatus;
  std::thread watcher([&] {
    watchStatus = agent->watchNodes(
        rv, 60,
        [&](WatchEvent&& ev) {
          watching = true;  // bookmarks arrive every second from the stand-in
          if (ev.type == WatchEventType::kModified &&
              ev.node.annotations.contains("routelet.io/t")) {
            seen = std::move(ev.node);
            return false;
          }
          return true;
        },
        nullptr);
  });
  ASSERT_TRUE(eventually([&] { return watching.load(); }));
  ApiStatus st = admin->patchNodeStatus("node-00002",
                                        R"({"metadata":{"annotations":{"routelet.io/t":"hello"}}})",
                                        PatchType::kMerge, nullptr);
  EXPECT_TRUE(st.ok) << st.message;
  watcher.join();
  EXPECT_TRUE(watchStatus.ok) << watchStatus.message;
  EXPECT_EQ(seen.name, "node-00002");
  EXPECT_EQ(seen.annotations["routelet.io/t"], "hello");
}

TEST(HttpApiClient, AgentPatchesItsNodeStatusWithManifestRbac) {
  Standin s(2);
  auto agent = clientFor(s.file("agent.kubeconfig"));
  ASSERT_TRUE(agent);
  ApiStatus st = agent->patchNodeStatus(
      "node-00001",
      R"({"metadata":{"annotations":{"routelet.io/state":"ready"}},)"
      R"("status":{"conditions":[{"type":"NetworkUnavailable","status":"False",)"
      R"("reason":"RouteletReady","message":"routes programmed"}]}})",
      PatchType::kStrategicMerge, nullptr);
  ASSERT_TRUE(st.ok) << st.message;
  model::Node n;
  st = agent->getNode("node-00001", &n, nullptr);
  ASSERT_TRUE(st.ok) << st.message;
  EXPECT_EQ(n.annotations["routelet.io/state"], "ready");
  EXPECT_EQ(n.networkUnavailable, "False");

  st = agent->getNode("nope", &n, nullptr);
  EXPECT_FALSE(st.ok);
  EXPECT_EQ(st.httpStatus, 404);
  EXPECT_NE(st.message.find("HTTP 404"), std::string::npos) << st.message;
}

TEST(HttpApiClient, RetryAfterIsReported) {
  Standin s(1);
  auto agent = clientFor(s.file("agent.kubeconfig"));
  ASSERT_TRUE(agent);
  s.ctl("fail 1 --code 429 --retry-after 7");
  model::Node n;
  ApiStatus st = agent->getNode("node-00001", &n, nullptr);
  EXPECT_FALSE(st.ok);
  EXPECT_EQ(st.httpStatus, 429);
  ASSERT_TRUE(st.retryAfter.has_value());
  EXPECT_EQ(*st.retryAfter, 7s);
  EXPECT_TRUE(agent->getNode("node-00001", &n, nullptr).ok);
  EXPECT_EQ(agent->requestCounts()[429], 1u);
}

TEST(HttpApiClient, UntrustedServerCertificateIsRefused) {
  Standin s(1);
  // A CA that did not sign the stand-in's certificate.
  std::string ca = s.file("other-ca.crt");
  ASSERT_EQ(sh("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=other-ca -keyout " +
               s.file("other-ca.key") + " -out " + ca),
            0);
  auto access = loadKubeconfig(s.file("agent.kubeconfig"));
  ASSERT_TRUE(access.ok());
  access->caPem = *fs::readFile(ca);
  auto api = makeHttpApiClient(*access);
  ASSERT_TRUE(api.ok()) << api.error().message;
  std::string rv;
  ApiStatus st = (*api)->listNodes([](model::Node&&) {}, &rv, nullptr);
  ASSERT_FALSE(st.ok);
  EXPECT_EQ(st.httpStatus, 0);
  EXPECT_NE(st.message.find("TLS certificate verification failed: unable to get local issuer "
                            "certificate"),
            std::string::npos)
      << st.message;
}

TEST(HttpApiClient, CertificateMustNameTheIpConnectedTo) {
  Standin s(1);
  auto access = loadKubeconfig(s.file("agent.kubeconfig"));
  ASSERT_TRUE(access.ok());
  // Same server, reached through "localhost": the certificate carries IP SAN 127.0.0.1.
  std::string port = access->server.substr(access->server.rfind(':'));
  access->server = "https://localhost" + port;
  auto api = makeHttpApiClient(*access);
  ASSERT_TRUE(api.ok());
  model::Node n;
  ApiStatus st = (*api)->getNode("node-00001", &n, nullptr);
  if (st.ok) GTEST_FAIL() << "the stand-in's certificate also names localhost; cannot test";
  EXPECT_NE(st.message.find("hostname mismatch"), std::string::npos) << st.message;
}

TEST(HttpApiClient, WrongTokenThenRotatedTokenFile) {
  Standin s(1);
  auto access = loadKubeconfig(s.file("agent.kubeconfig"));
  ASSERT_TRUE(access.ok());
  std::string tokenFile = s.file("rotating.token");
  ASSERT_TRUE(writeToken(tokenFile, "wrong-token"));
  access->token.clear();
  access->tokenFile = tokenFile;
  auto api = makeHttpApiClient(*access);
  ASSERT_TRUE(api.ok());
  model::Node n;
  ApiStatus st = (*api)->getNode("node-00001", &n, nullptr);
  EXPECT_FALSE(st.ok);
  EXPECT_EQ(st.httpStatus, 401);
  EXPECT_EQ((*api)->requestCounts()[401], 2u) << "one retry after re-reading the file";
  EXPECT_EQ(st.message.find("wrong-token"), std::string::npos);

  // The kubelet rotates the projected token: the next 401 re-reads it.
  ASSERT_TRUE(writeToken(tokenFile, s.token("agent")));
  st = (*api)->getNode("node-00001", &n, nullptr);
  ASSERT_TRUE(st.ok) << st.message;
  EXPECT_EQ(n.name, "node-00001");
  EXPECT_EQ((*api)->requestCounts()[401], 3u);
}

// openssl s_server on 127.0.0.1 with a self-signed certificate for one IP SAN: the
// in-cluster server is an IP literal (KUBERNETES_SERVICE_HOST) and must match an IP SAN.
// The stand-in always names its own address, hence s_server for the mismatch. With a
// program, that program serves instead (given CERT KEY last, it prints s_server's
// "ACCEPT host:port" line).
class TlsServer {
 public:
  explicit TlsServer(const std::string& san, const std::string& program = "") {
    if (sh("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=test -addext "
           "subjectAltName=IP:" +
           san + " -keyout " + dir_ + "/k.pem -out " + dir_ + "/c.pem") != 0)
      throw std::runtime_error("openssl req failed");
    std::string serve = program.empty() ? "openssl s_server -accept 127.0.0.1:0 -www -cert " +
                                              dir_ + "/c.pem -key " + dir_ + "/k.pem"
                                        : program + " " + dir_ + "/c.pem " + dir_ + "/k.pem";
    pipe_ = popen(("sh -c '" + serve + " & echo PID $!; wait' 2>&1").c_str(), "r");
    char line[512];
    while (pipe_ && fgets(line, sizeof line, pipe_)) {
      std::string l = line;
      if (l.rfind("PID ", 0) == 0) pid_ = std::stoi(l.substr(4));
      if (l.rfind("ACCEPT ", 0) == 0) {
        port_ = l.substr(l.rfind(':') + 1);
        while (!port_.empty() && (port_.back() == '\n' || port_.back() == '\r')) port_.pop_back();
        break;
      }
    }
  }
  ~TlsServer() {
    if (pid_ > 0) kill(pid_, SIGTERM);
    if (pipe_) pclose(pipe_);
  }
  ClusterAccess access() const {
    ClusterAccess a;
    a.server = "https://127.0.0.1:" + port_;
    a.caPem = *fs::readFile(dir_ + "/c.pem");
    a.token = "t";
    a.origin = "test";
    return a;
  }
  bool ready() const { return pid_ > 0 && !port_.empty(); }

 private:
  routelet::testing::TempDir tmp_{"tls"};
  std::string dir_ = tmp_.path();
  FILE* pipe_ = nullptr;
  int pid_ = 0;
  std::string port_;
};

TEST(HttpApiClient, IpLiteralMatchesIpSan) {
  TlsServer server("127.0.0.1");
  ASSERT_TRUE(server.ready());
  auto api = makeHttpApiClient(server.access());
  ASSERT_TRUE(api.ok()) << api.error().message;
  model::Node n;
  ApiStatus st = (*api)->getNode("x", &n, nullptr);
  // s_server -www answers any GET with an HTML status page: TLS worked, decoding did not.
  EXPECT_EQ(st.httpStatus, 200) << st.message;
  EXPECT_EQ(st.message.find("TLS"), std::string::npos) << st.message;
}

TEST(HttpApiClient, IpLiteralNotInSanIsRefused) {
  TlsServer server("127.0.0.2");
  ASSERT_TRUE(server.ready());
  auto api = makeHttpApiClient(server.access());
  ASSERT_TRUE(api.ok()) << api.error().message;
  model::Node n;
  ApiStatus st = (*api)->getNode("x", &n, nullptr);
  EXPECT_FALSE(st.ok);
  EXPECT_EQ(st.httpStatus, 0);
  EXPECT_NE(st.message.find("TLS certificate verification failed: IP address mismatch"),
            std::string::npos)
      << st.message;
}

const std::string kFloodServer =
    std::string(ROUTELET_SOURCE_DIR) + "/tests/integration/controller/kube/flood_server.py";

// cpprestsdk reads a body from the network as fast as it comes and buffers it ahead of
// the decoder, without bound: a 512 MiB page sent fast grew the client by 510 MiB though
// it gave up at maxPageBytes. What it holds ahead counts against the page's bound.
TEST(HttpApiClient, APageSentFasterThanItIsDecodedIsNotBufferedPastItsBound) {
  TlsServer server("127.0.0.1", "python3 " + kFloodServer + " list " + std::to_string(512 << 20));
  ASSERT_TRUE(server.ready());
  auto api = makeHttpApiClient(server.access());
  ASSERT_TRUE(api.ok()) << api.error().message;
  ApiStatus st;
  long grew = rssGrowthDuring([&] {
    std::string rv;
    st = (*api)->listNodes([](model::Node&&) {}, &rv, nullptr);
  });
  EXPECT_FALSE(st.ok);
  EXPECT_EQ(st.bound, "maxPageBytes") << st.message;
  EXPECT_LT(grew, 48 * 1024 * testing::kRssFactor)
      << "RSS grew by " << grew << " KiB for a page bound of "
      << (HttpApiOptions().maxPageBytes >> 10) << " KiB";
}

TEST(HttpApiClient, AWatchStreamFasterThanItIsReadIsCut) {
  TlsServer server("127.0.0.1", "python3 " + kFloodServer + " watch");
  ASSERT_TRUE(server.ready());
  auto api = makeHttpApiClient(server.access());
  ASSERT_TRUE(api.ok()) << api.error().message;
  ApiStatus st;
  size_t events = 0;
  Cancellation runaway;
  long grew = rssGrowthDuring(
      [&] {
        st = (*api)->watchNodes(
            "1", 60,
            [&](WatchEvent&&) {
              // As slow as an agent busy with a whole pass: the stream races ahead.
              if (++events % 1000 == 0) std::this_thread::sleep_for(10ms);
              return true;
            },
            &runaway);
      },
      [&] { runaway.cancel(); });
  EXPECT_FALSE(st.ok);
  EXPECT_EQ(st.bound, "maxWatchBacklog") << st.message;
  EXPECT_LT(grew, 48 * 1024 * testing::kRssFactor) << "RSS grew by " << grew << " KiB";
}

// cpprestsdk 2.10.18 hands "[fd00::1]" with its brackets to the resolver, which fails
// ("Error resolving address", microsoft/cpprestsdk#1705): refuse at startup, clearly.
TEST(HttpApiClient, Ipv6LiteralServerIsRefusedUpFront) {
  ClusterAccess a;
  a.server = "https://[::1]:6443";
  a.token = "t";
  a.origin = "test";
  auto api = makeHttpApiClient(a);
  ASSERT_FALSE(api.ok());
  EXPECT_NE(api.error().message.find("IPv6 literal"), std::string::npos) << api.error().message;
}

TEST(NodeWatcherOverHttp, RelistsAfter410AndStopsPromptly) {
  // No bookmarks: one sent between expire-history and close-watches would carry the new
  // resourceVersion, and the watch would then resume without a 410 (as against a real
  // server), so the relist this test is about would not happen.
  Standin s(5, "--bookmark-interval 3600");
  auto api = clientFor(s.file("agent.kubeconfig"));
  ASSERT_TRUE(api);
  std::atomic<int> syncs{0};
  std::atomic<size_t> lastSize{0};
  NodeWatcherCallbacks cb;
  cb.onSynced = [&](std::vector<model::Node>&& nodes) {
    lastSize = nodes.size();
    ++syncs;
  };
  NodeWatcher w(*api, cb, {});
  w.start();
  ASSERT_TRUE(eventually([&] { return w.synced() && w.stats().watches >= 1; }));
  EXPECT_EQ(lastSize.load(), 5u);
  // Compaction, then the open watch breaks: the resumed watch gets 410 and must relist.
  s.ctl("expire-history");
  s.ctl("close-watches");
  ASSERT_TRUE(eventually([&] { return syncs.load() >= 2; })) << w.stats().expired;
  EXPECT_GE(w.stats().expired, 1u);
  EXPECT_EQ(lastSize.load(), 5u);
  ASSERT_TRUE(eventually([&] { return w.stats().watches >= 2; }));
  // A watch is now open (timeoutSeconds >= 300): stop() must cancel it, not wait.
  w.stop();
}

// A relist that goes past a bound must leave the cache as the last complete LIST left it,
// and be retried after backoff, not at once.
TEST(NodeWatcherOverHttp, AListPastABoundKeepsTheLastCompleteList) {
  Standin s(5, "--bookmark-interval 3600");
  auto api = clientFor(s.file("agent.kubeconfig"));
  ASSERT_TRUE(api);
  std::atomic<int> syncs{0};
  NodeWatcherCallbacks cb;
  cb.onSynced = [&](std::vector<model::Node>&&) { ++syncs; };
  NodeWatcher w(*api, cb, {});
  w.start();
  ASSERT_TRUE(eventually([&] { return w.synced() && w.stats().watches >= 1; }));
  s.ctl("list-fault repeat-continue");
  s.ctl("expire-history");
  s.ctl("close-watches");  // the next watch gets 410: relist, into the fault
  ASSERT_TRUE(eventually([&] { return w.stats().listFailures >= 2; }))
      << w.stats().listFailures << " failed LISTs";
  auto failed = w.stats().listFailures;
  std::this_thread::sleep_for(10s);
  auto more = w.stats().listFailures - failed;
  EXPECT_LT(more, 10u) << more << " LISTs in 10 s: the backoff must pace them";
  EXPECT_EQ(syncs.load(), 1) << "a partial list never replaces the cache";
  EXPECT_GE(w.stats().listsOverBound["continue"], 2u);
  w.stop();
}

// Counts the watch requests over 10 s when every watch ends the same hostile way (issue 23:
// an ERROR event then the end got 37 watches in 10 s, one BOOKMARK then the end 129).
void expectWatchesPaced(const std::string& fault) {
  Standin s(3);
  auto api = clientFor(s.file("agent.kubeconfig"));
  ASSERT_TRUE(api);
  s.ctl("watch-fault " + fault);
  NodeWatcher w(*api, {}, {});
  w.start();
  ASSERT_TRUE(eventually([&] { return w.synced(); }));
  auto before = w.stats().watches;
  std::this_thread::sleep_for(10s);
  auto made = w.stats().watches - before;
  EXPECT_LT(made, 10u) << fault << ": " << made << " watch requests in 10 s";
  EXPECT_GE(made, 2u) << fault << ": it must keep trying";
  w.stop();
}

TEST(NodeWatcherOverHttp, WatchesEndingInAnErrorEventArePaced) {
  expectWatchesPaced("error-event");
}

TEST(NodeWatcherOverHttp, WatchesEndingAfterOneBookmarkArePaced) {
  expectWatchesPaced("bookmark-close");
}

// Every watch answered with HTTP 500: without a relist the cache would stay frozen for as
// long as that lasts (issue 23: 1 LIST in 43 s).
TEST(NodeWatcherOverHttp, RelistsWhenEveryWatchFails) {
  Standin s(3);
  auto api = clientFor(s.file("agent.kubeconfig"));
  ASSERT_TRUE(api);
  s.ctl("watch-fault http-500");
  std::atomic<int> syncs{0};
  NodeWatcherCallbacks cb;
  cb.onSynced = [&](std::vector<model::Node>&& nodes) {
    EXPECT_EQ(nodes.size(), 3u);
    ++syncs;
  };
  NodeWatcher w(*api, cb, {});
  w.start();
  ASSERT_TRUE(eventually([&] { return syncs.load() >= 2; }))
      << w.stats().watches << " watches, " << w.stats().lists << " LISTs";
  EXPECT_GE(w.stats().watchFailures, 4u);
  EXPECT_GE(w.stats().failureRelists, 1u);
  w.stop();
}

}  // namespace
}  // namespace routelet::kube
