#include "lab/lab_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>

#include "core/clock.h"
#include "core/units.h"

namespace fb::lab {

Result<LabLock> LabLock::Acquire(int64_t timeout_ns, const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus("open " + path, errno);
  int64_t deadline = MonoNs() + timeout_ns;
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) {
      int err = errno;
      ::close(fd);
      return ErrnoStatus("flock " + path, err);
    }
    if (MonoNs() >= deadline) {
      ::close(fd);
      return Status::Unavailable("the lab is in use by another process (lock " + path + " held for " +
                                 FormatDuration(timeout_ns) + ")");
    }
    usleep(50'000);
  }
  return LabLock(fd);
}

LabLock::~LabLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

}  // namespace fb::lab
