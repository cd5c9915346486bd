#include "lab/token.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace fb::lab {

Result<std::string> RandomToken() {
  int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open /dev/urandom", errno);
  unsigned char buf[16];
  ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  if (n != sizeof buf) return Status::IoError("read /dev/urandom: short read");
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned char b : buf) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

}  // namespace fb::lab
