// The reflector (reflector.h) over a collection besides Nodes: LIST and WATCH through the
// API client's object calls, each object decoded into T by `decode` (policy_decode.h).
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "controller/kube/api_client.h"
#include "controller/kube/reflector.h"

namespace routelet::kube {

template <class T>
class ObjectWatcher : public Reflector<T> {
 public:
  using Decode = std::function<T(const nlohmann::json&)>;

  ObjectWatcher(ApiClient& api, ObjectQuery query, Decode decode,
                typename Reflector<T>::Callbacks callbacks, WatcherOptions options = {})
      : Reflector<T>(source(api, std::move(query), std::move(decode)), std::move(callbacks),
                     std::move(options)) {}

 private:
  static typename Reflector<T>::Source source(ApiClient& api, ObjectQuery query, Decode decode) {
    std::string kind = query.kind;
    return {kind,
            [&api, query, decode](const std::function<void(T &&)>& onItem, std::string* rv,
                                  Cancellation* cancel) {
              return api.listObjects(
                  query, [&](nlohmann::json&& object) { onItem(decode(object)); }, rv, cancel);
            },
            [&api, query, decode](const std::string& rv, int timeout,
                                  const std::function<bool(TypedEvent<T> &&)>& onEvent,
                                  Cancellation* cancel) {
              return api.watchObjects(
                  query, rv, timeout,
                  [&](WatchEventType type, nlohmann::json&& object, int code,
                      const std::string& message) {
                    return onEvent(TypedEvent<T>{type, decode(object), code, message});
                  },
                  cancel);
            }};
  }
};

}  // namespace routelet::kube
