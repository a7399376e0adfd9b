// Result<T>: a value or an Error. No exception crosses a module boundary in routelet;
// functions that can fail return one of these, and library exceptions are caught at the edge.
#pragma once

#include <cerrno>
#include <string>
#include <utility>
#include <variant>

namespace routelet {

struct Error {
  // Optional errno (or other numeric code) so callers can branch on e.g. EEXIST/ENOENT
  // without parsing text.
  int code = 0;
  std::string message;

  // Prefixes context: err.wrap("create veth rl1234") -> "create veth rl1234: <message>".
  Error wrap(const std::string& context) const { return Error{code, context + ": " + message}; }
};

inline Error makeError(std::string message, int code = 0) {
  return Error{code, std::move(message)};
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT: implicit by design

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

inline Status okStatus() {
  return Status();
}

// An Error carrying errno and strerror, e.g. errnoError("open /run/x") -> "open /run/x: No such
// file".
Error errnoError(const std::string& what, int err = errno);

}  // namespace routelet
