#include "controller/agent/http_endpoints.h"

#include <cpprest/http_listener.h>

namespace routelet::agent {
namespace {

namespace http = web::http;

class ListenerEndpoints : public HttpEndpoints {
 public:
  ListenerEndpoints(const std::string& uri, EndpointHandlers handlers)
      : listener_(web::uri(uri)), handlers_(std::move(handlers)) {
    listener_.support(http::methods::GET,
                      [this](http::http_request req) { handle(std::move(req)); });
  }
  Status open() {
    try {
      listener_.open().wait();
    } catch (const std::exception& e) {
      return makeError(e.what());
    }
    return okStatus();
  }
  void stop() override {
    try {
      listener_.close().wait();
    } catch (const std::exception&) {
      // Closing during shutdown: nothing left to serve.
    }
  }
  ~ListenerEndpoints() override { stop(); }

 private:
  void handle(http::http_request req) {
    std::string path = req.relative_uri().path();
    http::http_response resp;
    std::string body;
    http::status_code code = http::status_codes::OK;
    std::string type = "text/plain; charset=utf-8";
    const auto& probe = path == "/healthz" ? handlers_.healthz : handlers_.readyz;
    if ((path == "/healthz" || path == "/readyz") && probe) {
      auto [ok, text] = probe();
      code = ok ? http::status_codes::OK : http::status_codes::ServiceUnavailable;
      body = text + "\n";
    } else if (path == "/metrics" && handlers_.metrics) {
      type = "text/plain; version=0.0.4; charset=utf-8";
      body = handlers_.metrics();
    } else {
      code = http::status_codes::NotFound;
      body = "not found\n";
    }
    resp.set_status_code(code);
    resp.set_body(body, type);
    req.reply(resp).then([](pplx::task<void> t) {
      try {
        t.get();
      } catch (const std::exception&) {
        // The prober went away before the answer: nothing to do.
      }
    });
  }

  http::experimental::listener::http_listener listener_;
  EndpointHandlers handlers_;
};

}  // namespace

Result<std::unique_ptr<HttpEndpoints>> HttpEndpoints::start(const std::string& listen,
                                                            EndpointHandlers handlers) {
  auto ep = std::make_unique<ListenerEndpoints>("http://" + listen, std::move(handlers));
  if (auto st = ep->open(); !st) return st.error().wrap("listen on " + listen);
  return std::unique_ptr<HttpEndpoints>(std::move(ep));
}

}  // namespace routelet::agent
