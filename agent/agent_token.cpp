#include "agent/agent_token.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace fb {

Result<std::string> ReadAgentToken(const std::string& path) {
  if (path.empty()) return Status::InvalidInput("token file: no path given");
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("token file " + path, errno);
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    return ErrnoStatus("token file " + path, e);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::InvalidInput("token file " + path + ": not a regular file");
  }
  if (st.st_mode & S_IROTH) {
    ::close(fd);
    return Status::InvalidInput("token file " + path +
                                ": readable by everyone (mode o+r); chmod o-r it, the token is a secret");
  }
  std::string text;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      ::close(fd);
      return ErrnoStatus("token file " + path, e);
    }
    if (n == 0) break;
    text.append(buf, size_t(n));
    if (text.size() > 65536) {
      ::close(fd);
      return Status::InvalidInput("token file " + path + ": larger than 64 KiB");
    }
  }
  ::close(fd);
  while (!text.empty() &&
         (text.back() == '\n' || text.back() == '\r' || text.back() == ' ' || text.back() == '\t'))
    text.pop_back();
  if (text.empty()) return Status::InvalidInput("token file " + path + ": empty");
  return text;
}

bool AgentTokensEqual(const std::string& a, const std::string& b) {
  volatile unsigned char diff = a.size() == b.size() ? 0 : 1;
  size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff = diff | (x ^ y);
  }
  return diff == 0;
}

}  // namespace fb
