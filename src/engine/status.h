// Status and StatusOr: error returns across module boundaries.
//
// The engine is built with -fno-exceptions for wasm32, so failures travel as values. This is a
// deliberately small subset of absl::Status / absl::StatusOr: abseil is large to build for wasm32
// and the engine only needs "ok, or an error code with a message".
#ifndef LEAKSCOPE_ENGINE_STATUS_H_
#define LEAKSCOPE_ENGINE_STATUS_H_

#include <cassert>
#include <optional>
#include <string>
#include <utility>

namespace leakscope {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,   // malformed input (policy, configuration, options)
  kUnimplemented,     // a valid but unsupported feature ("not supported yet: FIELD")
  kNotFound,
  kResourceExhausted, // a limit was hit
  kInternal,
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgumentError(std::string message) {
  return Status(StatusCode::kInvalidArgument, std::move(message));
}
inline Status UnimplementedError(std::string message) {
  return Status(StatusCode::kUnimplemented, std::move(message));
}
inline Status NotFoundError(std::string message) {
  return Status(StatusCode::kNotFound, std::move(message));
}
inline Status ResourceExhaustedError(std::string message) {
  return Status(StatusCode::kResourceExhausted, std::move(message));
}
inline Status InternalError(std::string message) {
  return Status(StatusCode::kInternal, std::move(message));
}

// Either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(Status status) : status_(std::move(status)) { assert(!status_.ok()); }  // NOLINT
  StatusOr(T value) : value_(std::move(value)) {}                                 // NOLINT

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { assert(ok()); return *value_; }
  const T& value() const& { assert(ok()); return *value_; }
  T&& value() && { assert(ok()); return std::move(*value_); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace leakscope

#define LEAKSCOPE_RETURN_IF_ERROR(expr)          \
  do {                                           \
    ::leakscope::Status _ls_status = (expr);     \
    if (!_ls_status.ok()) return _ls_status;     \
  } while (0)

#endif  // LEAKSCOPE_ENGINE_STATUS_H_
