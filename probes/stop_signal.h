// A probe's stop request: an eventfd that Stop() writes and the probe's thread
// polls beside its own sources (a file, a command's pipe, sockets), so Stop()
// returns promptly whatever the thread waits on. Owned by the probe; not copyable.
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>

#include "core/status.h"

namespace fb {

class StopSignal {
 public:
  StopSignal() = default;
  StopSignal(const StopSignal&) = delete;
  StopSignal& operator=(const StopSignal&) = delete;
  ~StopSignal() { Close(); }

  // `owner` names the probe in the error ("probe NAME").
  Status Open(const std::string& owner) {
    fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd_ < 0) return ErrnoStatus(owner + ": eventfd", errno);
    return Status::Ok();
  }
  bool open() const { return fd_ >= 0; }
  // Readable once Notify() was called; -1 before Open().
  int fd() const { return fd_; }
  void Notify() const {
    uint64_t one = 1;
    (void)!write(fd_, &one, sizeof one);
  }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

}  // namespace fb
