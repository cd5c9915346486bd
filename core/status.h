// Errors as values at module edges: Status (ok or a message) and Result<T>
// (a value or a Status). Messages name the file, host or device involved.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace fb {

// Exit codes shared by every command.
enum ExitCode : int {
  kExitOk = 0,
  kExitExpectationFailed = 1,
  kExitUsage = 2,  // bad input: flags, plan, target; nothing was touched
  kExitRunFailed = 3,
};

class Status {
 public:
  enum class Code { kOk, kInvalidInput, kIoError, kUnavailable, kInternal };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status InvalidInput(std::string msg) { return Status(Code::kInvalidInput, std::move(msg)); }
  static Status IoError(std::string msg) { return Status(Code::kIoError, std::move(msg)); }
  static Status Unavailable(std::string msg) { return Status(Code::kUnavailable, std::move(msg)); }
  static Status Internal(std::string msg) { return Status(Code::kInternal, std::move(msg)); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // The exit code a command should end with for this error.
  int exit_code() const { return ok() ? kExitOk : code_ == Code::kInvalidInput ? kExitUsage : kExitRunFailed; }

  // Prefixes context, e.g. Status::IoError("EIO").With("/dev/sdb").
  Status With(const std::string& context) const {
    if (ok()) return *this;
    return Status(code_, context + ": " + message_);
  }

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

// Status from errno, naming what failed: "open /dev/sdb: Permission denied".
Status ErrnoStatus(const std::string& what, int err);

template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) { assert(!std::get<Status>(v_).ok()); }  // NOLINT

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace fb

#define FB_RETURN_IF_ERROR(expr)        \
  do {                                  \
    ::fb::Status fb_status_ = (expr);   \
    if (!fb_status_.ok()) return fb_status_; \
  } while (0)
