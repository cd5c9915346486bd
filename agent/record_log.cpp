#include "agent/record_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace fb {

FileTail::~FileTail() {
  if (fd_ >= 0) ::close(fd_);
}

Status FileTail::ReadLines(std::vector<std::string>* lines) {
  if (fd_ < 0) {
    fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) return errno == ENOENT ? Status::Ok() : ErrnoStatus("open " + path_, errno);
  }
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("read " + path_, errno);
    if (n == 0) break;
    partial_.append(buf, size_t(n));
  }
  size_t b = 0;
  for (size_t e; (e = partial_.find('\n', b)) != std::string::npos; b = e + 1) {
    if (e > b) lines->push_back(partial_.substr(b, e - b));
  }
  partial_.erase(0, b);
  return Status::Ok();
}

Status RecordLogWriter::Open(const std::string& run_dir) {
  std::string path = run_dir + "/" + kRecordLogFile;
  FileTail existing(path);
  std::vector<std::string> lines;
  FB_RETURN_IF_ERROR(existing.ReadLines(&lines));
  next_seq_ = lines.size();
  return out_.Open(path);
}

Result<uint64_t> RecordLogWriter::Append(const std::string& stream, nlohmann::json body) {
  uint64_t seq = next_seq_;
  FB_RETURN_IF_ERROR(out_.Append({{"seq", seq}, {"stream", stream}, {"body", std::move(body)}}));
  ++next_seq_;
  return seq;
}

}  // namespace fb
