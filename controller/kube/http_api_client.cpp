#include "controller/kube/http_api_client.h"

#include <arpa/inet.h>
#include <cpprest/http_client.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pplx/threadpool.h>

#include <algorithm>
#include <cerrno>
#include <functional>
#include <istream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <streambuf>
#include <vector>

#include "common/base/log.h"
#include "common/base/text.h"
#include "controller/kube/line_splitter.h"
#include "controller/kube/object_decode.h"
#include "controller/kube/token_source.h"

namespace routelet::kube {
namespace {

namespace http = web::http;
namespace client = web::http::client;

// ---- TLS --------------------------------------------------------------------------

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using X509Ptr = std::unique_ptr<X509, X509Deleter>;

std::unique_ptr<BIO, BioDeleter> memBio(const std::string& pem) {
  return std::unique_ptr<BIO, BioDeleter>(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

std::vector<X509Ptr> parseCerts(const std::string& pem) {
  std::vector<X509Ptr> out;
  auto bio = memBio(pem);
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) out.emplace_back(x);
  ERR_clear_error();  // the loop ends on a "no start line" error
  return out;
}

// A response body as a std::streambuf, read in 64 KiB blocks as cpprest receives it. Past
// maxBytes, counting what cpprest holds ahead, it ends early and says so (tooLarge), so a
// parser sees a truncated document and the caller reports the size.
class BodyBuf : public std::streambuf {
 public:
  BodyBuf(Concurrency::streams::streambuf<uint8_t> source, size_t maxBytes)
      : source_(std::move(source)), maxBytes_(maxBytes), block_(64 * 1024) {}
  bool tooLarge() const { return tooLarge_; }
  size_t received() const { return received_; }

 protected:
  int_type underflow() override {
    if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
    if (tooLarge_) return traits_type::eof();
    size_t n = source_.getn(reinterpret_cast<uint8_t*>(block_.data()), block_.size()).get();
    if (n == 0) return traits_type::eof();
    received_ += n;
    if (received_ + source_.in_avail() > maxBytes_) {
      tooLarge_ = true;
      return traits_type::eof();
    }
    setg(block_.data(), block_.data(), block_.data() + n);
    return traits_type::to_int_type(*gptr());
  }

 private:
  Concurrency::streams::streambuf<uint8_t> source_;
  size_t maxBytes_;
  size_t received_ = 0;
  bool tooLarge_ = false;
  std::vector<char> block_;
};

// What verification needs, shared with OpenSSL callbacks on cpprest's threads. Owned by a
// shared_ptr that the ssl_context_callback captures, so it outlives every connection.
struct TlsState {
  std::string caPem;
  std::string certPem;
  std::string keyPem;
  std::string host;  // without IPv6 brackets
  bool hostIsIp = false;

  std::mutex mu;
  std::string lastVerifyError;

  void recordError(std::string e) {
    std::lock_guard lock(mu);
    lastVerifyError = std::move(e);
  }
  std::string takeError() {
    std::lock_guard lock(mu);
    return std::exchange(lastVerifyError, std::string());
  }
};

// Runs OpenSSL's own chain verification and remembers why it failed, so the error that
// reaches the log says "IP address mismatch" or "unable to get local issuer certificate"
// instead of cpprest's bare "handshake failed".
int verifyChain(X509_STORE_CTX* ctx, void* arg) {
  int ok = X509_verify_cert(ctx);
  if (ok <= 0) {
    auto* tls = static_cast<TlsState*>(arg);
    int err = X509_STORE_CTX_get_error(ctx);
    std::string subject;
    if (X509* cert = X509_STORE_CTX_get_current_cert(ctx)) {
      char buf[256];
      X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof buf);
      subject = buf;
    }
    tls->recordError(std::string(X509_verify_cert_error_string(err)) +
                     (subject.empty() ? "" : " (certificate " + subject + ")"));
  }
  return ok;
}

// Trust exactly the configured CA: cpprest loads the system default verify paths into
// every context, so the store is replaced, not added to. The expected host or IP goes into
// the verify parameters, so OpenSSL checks the SAN itself (X509_check_host/_ip semantics);
// in-cluster the host is an IP and must match an IP SAN.
void configureContext(boost::asio::ssl::context& sslctx, TlsState* tls) {
  SSL_CTX* ctx = sslctx.native_handle();
  X509_STORE* store = X509_STORE_new();
  for (auto& cert : parseCerts(tls->caPem)) X509_STORE_add_cert(store, cert.get());
  SSL_CTX_set_cert_store(ctx, store);  // takes ownership, frees the default store
  X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ctx);
  if (tls->hostIsIp) {
    X509_VERIFY_PARAM_set1_ip_asc(param, tls->host.c_str());
  } else {
    X509_VERIFY_PARAM_set1_host(param, tls->host.c_str(), tls->host.size());
  }
  SSL_CTX_set_cert_verify_callback(ctx, verifyChain, tls);
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (!tls->certPem.empty()) {
    sslctx.use_certificate_chain(boost::asio::buffer(tls->certPem));
    sslctx.use_private_key(boost::asio::buffer(tls->keyPem), boost::asio::ssl::context::pem);
  }
}

Status checkTlsMaterial(const ClusterAccess& a) {
  if (parseCerts(a.caPem).empty())
    return makeError(a.origin + ": the CA is not a parseable PEM certificate", EINVAL);
  if (a.clientCertPem.empty()) return okStatus();
  auto certs = parseCerts(a.clientCertPem);
  if (certs.empty())
    return makeError(a.origin + ": the client certificate is not a parseable PEM certificate",
                     EINVAL);
  auto bio = memBio(a.clientKeyPem);
  std::unique_ptr<EVP_PKEY, PkeyDeleter> key(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (!key) return makeError(a.origin + ": the client key is not a parseable PEM key", EINVAL);
  if (X509_check_private_key(certs[0].get(), key.get()) != 1) {
    ERR_clear_error();
    return makeError(a.origin + ": the client key does not match the client certificate", EINVAL);
  }
  return okStatus();
}

// "https://[fd00::1]:443/x" -> "fd00::1"
std::string hostOf(const std::string& server) {
  std::string rest = server.substr(server.find("://") + 3);
  rest = rest.substr(0, rest.find('/'));
  if (!rest.empty() && rest[0] == '[') return rest.substr(1, rest.find(']') - 1);
  return rest.substr(0, rest.find(':'));
}

bool isIpLiteral(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// ---- cancellation -----------------------------------------------------------------

// Links our Cancellation to a cpprest cancellation token for the duration of one API call:
// cancelling closes the connection, which also ends a body read in progress.
class CancelLink {
 public:
  explicit CancelLink(Cancellation* cancel) : cancel_(cancel) {
    if (cancel_) {
      auto cts = cts_;
      id_ = cancel_->subscribe([cts]() mutable { cts.cancel(); });
    }
  }
  ~CancelLink() {
    if (cancel_) cancel_->unsubscribe(id_);
  }
  CancelLink(const CancelLink&) = delete;
  CancelLink& operator=(const CancelLink&) = delete;
  pplx::cancellation_token token() const { return cts_.get_token(); }
  // Ends the call's connection early (a watch the caller stopped reading).
  void abort() { cts_.cancel(); }
  bool cancelled() const { return cancel_ && cancel_->cancelled(); }

 private:
  Cancellation* cancel_;
  pplx::cancellation_token_source cts_;
  uint64_t id_ = 0;
};

// ---- the client -------------------------------------------------------------------

std::optional<std::chrono::seconds> retryAfterOf(const http::http_response& resp) {
  auto h = resp.headers().find("Retry-After");
  if (h == resp.headers().end()) return std::nullopt;
  try {
    long s = std::stol(h->second);
    if (s >= 0) return std::chrono::seconds(s);
  } catch (const std::exception&) {
    // An HTTP date or garbage: ignore, the backoff still applies.
  }
  return std::nullopt;
}

class HttpApiClient : public ApiClient {
 public:
  HttpApiClient(const ClusterAccess& access, HttpApiOptions options)
      : server_(access.server),
        origin_(access.origin),
        options_(std::move(options)),
        tls_(std::make_shared<TlsState>()),
        tokens_(access.token, access.tokenFile, options_.tokenMaxAge) {
    tls_->caPem = access.caPem;
    tls_->certPem = access.clientCertPem;
    tls_->keyPem = access.clientKeyPem;
    tls_->host = hostOf(server_);
    tls_->hostIsIp = isIpLiteral(tls_->host);
    client_ = std::make_unique<client::http_client>(server_, config(options_.requestTimeout));
  }

  ApiStatus listNodes(const NodeCallback& onNode, std::string* resourceVersion,
                      Cancellation* cancel) override {
    return listPages(
        "/api/v1/nodes", "Nodes", options_.maxListNodes, options_.maxListBytes,
        [&](std::istream& in, size_t left, size_t* items) {
          DecodeLimits limits = options_.decode;
          limits.maxItems = left;
          return decodeNodeList(
              in,
              [&](model::Node&& n) {
                ++*items;
                onNode(std::move(n));
              },
              limits);
        },
        resourceVersion, cancel);
  }

  ApiStatus listObjects(const ObjectQuery& query, const ObjectCallback& onObject,
                        std::string* resourceVersion, Cancellation* cancel) override {
    return listPages(
        query.path, query.kind, query.maxItems, query.maxItems * kMaxAverageObjectBytes,
        [&](std::istream& in, size_t left, size_t* items) {
          return decodeObjectList(
              in, query.keep,
              [&](nlohmann::json&& object) {
                ++*items;
                onObject(std::move(object));
              },
              left, options_.decode.maxValueBytes);
        },
        resourceVersion, cancel);
  }

  ApiStatus watchObjects(const ObjectQuery& query, const std::string& resourceVersion,
                         int timeoutSeconds, const ObjectEventCallback& onEvent,
                         Cancellation* cancel) override {
    return watch(
        query.path, resourceVersion, timeoutSeconds,
        [&](std::string_view line, bool* more) -> Status {
          auto ev = decodeObjectEvent(line, query.keep);
          if (!ev) return ev.error();
          *more = onEvent(ev->type, std::move(ev->object), ev->errorCode, ev->errorMessage);
          return okStatus();
        },
        cancel);
  }

  ApiStatus watchNodes(const std::string& resourceVersion, int timeoutSeconds,
                       const WatchCallback& onEvent, Cancellation* cancel) override {
    return watch(
        "/api/v1/nodes", resourceVersion, timeoutSeconds,
        [&](std::string_view line, bool* more) -> Status {
          auto ev = decodeWatchEvent(line, options_.decode);
          if (!ev) return ev.error();
          *more = onEvent(std::move(*ev));
          return okStatus();
        },
        cancel);
  }

  ApiStatus getNode(const std::string& name, model::Node* out, Cancellation* cancel) override {
    CancelLink link(cancel);
    std::string path = "/api/v1/nodes/" + web::uri::encode_data_string(name);
    std::string body;
    ApiStatus st = fetch(http::methods::GET, path, nullptr, "", link, &body);
    if (!st.ok) return st;
    auto node = decodeNode(body, options_.decode);
    if (!node)
      return ApiStatus::failure(st.httpStatus,
                                "GET " + server_ + path + ": " + node.error().message);
    *out = std::move(*node);
    return st;
  }

  ApiStatus patchNodeStatus(const std::string& name, const std::string& patchJson, PatchType type,
                            Cancellation* cancel) override {
    CancelLink link(cancel);
    std::string path = "/api/v1/nodes/" + web::uri::encode_data_string(name) + "/status";
    const char* contentType = type == PatchType::kMerge ? "application/merge-patch+json"
                                                        : "application/strategic-merge-patch+json";
    std::string body;  // read so the connection can be reused
    return fetch(http::methods::PATCH, path, &patchJson, contentType, link, &body);
  }

  std::map<int, uint64_t> requestCounts() const override { return counters_.snapshot(); }

 private:
  client::http_client_config config(std::chrono::seconds timeout) {
    client::http_client_config c;
    c.set_timeout(timeout);
    c.set_validate_certificates(true);
    // SNI carries a DNS name (RFC 6066 section 3); an IP literal there is not allowed.
    c.set_tlsext_sni_enabled(!tls_->hostIsIp);
    std::shared_ptr<TlsState> tls = tls_;
    c.set_ssl_context_callback(
        [tls](boost::asio::ssl::context& ctx) { configureContext(ctx, tls.get()); });
    return c;
  }

  // Decodes one page from the stream: at most `left` items, counted into *items.
  using PageDecoder = std::function<Result<ListMeta>(std::istream& in, size_t left, size_t* items)>;

  // LIST of a collection page by page (limit=listLimit, following metadata.continue), each
  // page decoded as it arrives: a 500-Node page (~5 MB) is never held whole. Bounded in
  // pages, items (maxItems), bytes (maxBytes, and maxPageBytes per page) and by a
  // continue token that comes twice.
  ApiStatus listPages(const std::string& base, const std::string& kind, size_t maxItems,
                      uint64_t maxBytes, const PageDecoder& decode, std::string* resourceVersion,
                      Cancellation* cancel) {
    CancelLink link(cancel);
    std::string what = "LIST " + server_ + base;
    std::string cont;
    // Hashes of the continue tokens seen: each page's token names the key after it, so
    // one coming twice means the server sends the same pages again, forever.
    std::set<size_t> tokens;
    int pages = 0;
    size_t items = 0;
    uint64_t bytes = 0;
    bool nodes = kind == "Nodes";
    do {
      if (pages == options_.maxListPages)
        return ApiStatus::overBound(
            "maxListPages", what + ": more than " + std::to_string(options_.maxListPages) +
                                " pages (maxListPages) and the server still sends a continue "
                                "token; giving up on this list");
      std::string path = base + "?limit=" + std::to_string(options_.listLimit);
      if (!cont.empty()) path += "&continue=" + web::uri::encode_data_string(cont);
      http::http_response resp;
      ApiStatus st = send(*client_, http::methods::GET, path, nullptr, "", link, &resp);
      if (!st.ok) return st;
      // What the earlier pages used of the list's budgets is not there for this one.
      uint64_t listLeft = maxBytes - bytes;
      bool pageBound = options_.maxPageBytes <= listLeft;
      size_t received = 0;
      Result<ListMeta> meta = makeError("no body");
      st = consumeBody(
          resp, "GET " + server_ + path, link,
          pageBound ? options_.maxPageBytes : static_cast<size_t>(listLeft),
          [&](std::streambuf& body) {
            std::istream in(&body);
            meta = decode(in, maxItems - items, &items);
          },
          &received);
      bytes += received;
      if (!st.ok && !st.bound.empty() && !pageBound)
        return ApiStatus::overBound(
            "maxListBytes", what + ": more than " + std::to_string(maxBytes) + " bytes in " +
                                std::to_string(pages + 1) +
                                " pages (maxListBytes); giving up on this list");
      if (!st.ok) return st;
      if (!meta) link.abort();  // the rest of the page is not wanted
      if (!meta && meta.error().code == E2BIG && items == maxItems)
        return ApiStatus::overBound(
            nodes ? "maxListNodes" : "maxListItems",
            what + ": more than " + std::to_string(maxItems) + " " + kind + " (" +
                (nodes ? "maxListNodes" : "maxListItems") +
                ", what the agent can hold in its memory limit); giving up on this list");
      if (!meta) {
        ApiStatus failed = ApiStatus::failure(
            st.httpStatus, "GET " + server_ + path + ": " + meta.error().message);
        if (meta.error().code == E2BIG) failed.bound = "maxValueBytes";
        return failed;
      }
      *resourceVersion = meta->resourceVersion;
      cont = meta->continueToken;
      ++pages;
      if (!cont.empty() && !tokens.insert(std::hash<std::string>()(cont)).second)
        return ApiStatus::overBound("continue", what + ": page " + std::to_string(pages) +
                                                    " repeats continue token " + quote(cont) +
                                                    " of an earlier page; giving up on this list");
    } while (!cont.empty());
    log::debug("LIST " + base + ": " + std::to_string(pages) + " pages, " + std::to_string(bytes) +
               " bytes");
    return ApiStatus::success(200);
  }

  // Decodes one watch line and hands it on; *more = false ends the watch.
  using LineHandler = std::function<Status(std::string_view line, bool* more)>;

  // WATCH of a collection from resourceVersion, with bookmarks, for at most timeoutSeconds.
  ApiStatus watch(const std::string& base, const std::string& resourceVersion, int timeoutSeconds,
                  const LineHandler& onLine, Cancellation* cancel) {
    CancelLink link(cancel);
    std::string path = base + "?watch=1&allowWatchBookmarks=true&timeoutSeconds=" +
                       std::to_string(timeoutSeconds) +
                       "&resourceVersion=" + web::uri::encode_data_string(resourceVersion);
    // A client per watch: its idle timeout must exceed this watch's timeoutSeconds.
    client::http_client watchClient(
        server_, config(std::chrono::seconds(timeoutSeconds) + options_.watchIdleSlack));
    http::http_response resp;
    ApiStatus st = send(watchClient, http::methods::GET, path, nullptr, "", link, &resp);
    if (!st.ok) return st;
    return readWatch(resp, path, onLine, link);
  }

  // A whole request: send, then read the (bounded) body into *out.
  ApiStatus fetch(const http::method& method, const std::string& path, const std::string* body,
                  const char* contentType, CancelLink& link, std::string* out) {
    http::http_response resp;
    ApiStatus st = send(*client_, method, path, body, contentType, link, &resp);
    if (!st.ok) return st;
    return readBody(resp, method + " " + server_ + path, out, link);
  }

  // Sends one request; *out gets the response once its headers arrived with a 2xx status.
  // A 401 re-reads the token file and retries once: the token may just have rotated.
  ApiStatus send(client::http_client& c, const http::method& method, const std::string& path,
                 const std::string* body, const char* contentType, CancelLink& link,
                 http::http_response* out) {
    std::string what = method + " " + server_ + path;
    for (int attempt = 0;; ++attempt) {
      http::http_request req(method);
      req.set_request_uri(path);
      req.headers().add("Accept", "application/json");
      req.headers().add("User-Agent", options_.userAgent);
      std::string token = tokens_.current();
      if (!token.empty()) req.headers().add("Authorization", "Bearer " + token);
      if (body) req.set_body(*body, contentType);
      try {
        *out = c.request(req, link.token()).get();
      } catch (const pplx::task_canceled&) {
        counters_.count(0);
        return ApiStatus::wasCancelled();
      } catch (const std::exception& e) {
        counters_.count(0);
        if (link.cancelled()) return ApiStatus::wasCancelled();
        return ApiStatus::failure(0, what + ": " + transportError(e));
      }
      int code = out->status_code();
      counters_.count(code);
      if (code >= 200 && code < 300) return ApiStatus::success(code);
      if (code == 401 && attempt == 0) {
        bool changed = tokens_.refresh();
        log::info(what + ": 401 Unauthorized; re-read the token" +
                  (changed ? " (it changed)" : " (unchanged)") + ", retrying once");
        continue;
      }
      return ApiStatus::failure(code, what + ": " + errorText(*out, link), retryAfterOf(*out));
    }
  }

  std::string transportError(const std::exception& e) {
    std::string verify = tls_->takeError();
    if (!verify.empty())
      return "TLS certificate verification failed: " + verify + "; the client trusts only the " +
             "CA from " + origin_ + " and expects the certificate to name " + tls_->host;
    return e.what();
  }

  // "HTTP 403 Forbidden: <Status.message>" from an error response.
  std::string errorText(http::http_response& resp, CancelLink& link) {
    std::string text = "HTTP " + std::to_string(resp.status_code()) + " " + resp.reason_phrase();
    std::string body;
    ApiStatus st = readBody(resp, "", &body, link, 64 * 1024);
    if (!st.ok || body.empty()) return text;
    try {
      auto j = nlohmann::json::parse(body);  // a small Status object, never a Node list
      if (j.is_object() && j.contains("message") && j["message"].is_string())
        return text + ": " + j["message"].get<std::string>();
    } catch (const nlohmann::json::exception&) {
    }
    return text + ": " + body.substr(0, 200);
  }

  ApiStatus readBody(http::http_response& resp, const std::string& what, std::string* out,
                     CancelLink& link, size_t maxBytes = 0) {
    return consumeBody(resp, what, link, maxBytes ? maxBytes : options_.maxPageBytes,
                       [&](std::streambuf& body) {
                         char block[16 * 1024];
                         std::streamsize n;
                         while ((n = body.sgetn(block, sizeof block)) > 0)
                           out->append(block, static_cast<size_t>(n));
                       });
  }

  // Hands the body to use() as a std::streambuf read as it arrives, at most maxBytes
  // (more aborts the request and fails with bound "maxPageBytes"). *received: the bytes read.
  ApiStatus consumeBody(http::http_response& resp, const std::string& what, CancelLink& link,
                        size_t maxBytes, const std::function<void(std::streambuf&)>& use,
                        size_t* received = nullptr) {
    try {
      BodyBuf body(resp.body().streambuf(), maxBytes);
      use(body);
      if (received) *received = body.received();
      if (body.tooLarge()) {
        link.abort();
        return ApiStatus::overBound(
            "maxPageBytes",
            what + ": response body over " + std::to_string(maxBytes) + " bytes (maxPageBytes)");
      }
    } catch (const pplx::task_canceled&) {
      return ApiStatus::wasCancelled();
    } catch (const std::exception& e) {
      if (link.cancelled()) return ApiStatus::wasCancelled();
      return ApiStatus::failure(0, what + ": reading the response: " + e.what());
    }
    return ApiStatus::success(resp.status_code());
  }

  // Delivers each event as soon as its line is complete. read(buf, 4096) would wait for
  // 4096 bytes (cpprest 2.10.18), holding events back on a quiet cluster; instead wait for
  // one byte, then take what has already arrived.
  ApiStatus readWatch(http::http_response& resp, const std::string& path, const LineHandler& handle,
                      CancelLink& link) {
    std::string what = "watch " + server_ + path;
    LineSplitter splitter(options_.maxLineBytes);
    bool stopped = false;
    auto onLine = [&](std::string_view line) -> Status {
      bool more = true;
      Status st = handle(line, &more);
      if (!st) return st;
      if (!more) {
        stopped = true;
        return makeError("stopped");
      }
      return okStatus();
    };
    try {
      auto buf = resp.body().streambuf();
      using Traits = decltype(buf)::traits;
      std::vector<uint8_t> chunk(64 * 1024);
      for (;;) {
        auto first = buf.bumpc().get();
        if (first == Traits::eof()) break;
        chunk[0] = static_cast<uint8_t>(first);
        size_t n = 1;
        size_t avail = std::min<size_t>(buf.in_avail(), chunk.size() - 1);
        if (avail > 0) n += buf.getn(chunk.data() + 1, avail).get();
        Status st =
            splitter.feed(std::string_view(reinterpret_cast<const char*>(chunk.data()), n), onLine);
        if (stopped) {
          link.abort();  // nothing more is read; close instead of draining
          return ApiStatus::success(resp.status_code());
        }
        if (!st) {
          link.abort();
          return ApiStatus::failure(0, what + ": " + st.error().message);
        }
        if (buf.in_avail() > options_.maxWatchBacklog) {
          link.abort();
          return ApiStatus::overBound(
              "maxWatchBacklog", what + ": more than " + std::to_string(options_.maxWatchBacklog) +
                                     " bytes arrived ahead of the events read (maxWatchBacklog); "
                                     "the server sends faster than the agent takes them");
        }
      }
    } catch (const pplx::task_canceled&) {
      return ApiStatus::wasCancelled();
    } catch (const std::exception& e) {
      if (link.cancelled()) return ApiStatus::wasCancelled();
      return ApiStatus::failure(0, what + ": stream broke: " + transportError(e));
    }
    if (splitter.pending() > 0)
      return ApiStatus::failure(0, what + ": stream ended inside an event line");
    return ApiStatus::success(resp.status_code());
  }

  std::string server_;
  std::string origin_;
  HttpApiOptions options_;
  std::shared_ptr<TlsState> tls_;
  TokenSource tokens_;
  RequestCounters counters_;
  std::unique_ptr<client::http_client> client_;
};

}  // namespace

void configureHttpThreads(size_t threads) {
  // OpenSSL's own exit handler would run before the pool's threads are joined and drop the
  // per-thread state of every worker that did TLS. Without it, each worker frees its state
  // as it ends, and leak checkers see a clean exit.
  OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, nullptr);
  try {
    crossplat::threadpool::initialize_with_threads(threads);
  } catch (const std::exception& e) {
    // Already initialised (a client existed before): keep its pool.
    log::debug(std::string("cpprestsdk thread pool already set up: ") + e.what());
  }
}

Result<std::unique_ptr<ApiClient>> makeHttpApiClient(const ClusterAccess& access,
                                                     HttpApiOptions options) {
  if (access.server.rfind("https://", 0) != 0)
    return makeError(access.origin + ": server \"" + access.server + "\" is not https://", EINVAL);
  if (hostOf(access.server).find(':') != std::string::npos)
    return makeError(access.origin + ": server \"" + access.server +
                         "\": an IPv6 literal; cpprestsdk 2.10 cannot resolve it "
                         "(microsoft/cpprestsdk#1705). Use a DNS name that resolves to it",
                     EINVAL);
  Status st = checkTlsMaterial(access);
  if (!st) return st.error();
  try {
    return std::unique_ptr<ApiClient>(std::make_unique<HttpApiClient>(access, std::move(options)));
  } catch (const std::exception& e) {
    // cpprest rejects a malformed base URI by throwing.
    return makeError(access.origin + ": server \"" + access.server + "\": " + e.what(), EINVAL);
  }
}

}  // namespace routelet::kube
