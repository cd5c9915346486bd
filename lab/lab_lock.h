// Turn-taking between users of the one lab on a machine (a test, a run): hold
// a LabLock while using the lab, so nobody tears it down under you. Advisory
// (flock); Lab itself does not take it.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"

namespace fb::lab {

inline constexpr const char* kDefaultLockPath = "/run/faultbench-lab.lock";

class LabLock {
 public:
  // Waits at most timeout_ns for the lock.
  static Result<LabLock> Acquire(int64_t timeout_ns, const std::string& path = kDefaultLockPath);
  LabLock(LabLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  LabLock& operator=(LabLock&&) = delete;
  LabLock(const LabLock&) = delete;
  ~LabLock();

 private:
  explicit LabLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace fb::lab
