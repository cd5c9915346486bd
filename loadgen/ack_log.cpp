#include "loadgen/ack_log.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>

namespace fb {

namespace {
Status WriteAll(int fd, const void* data, size_t len, const std::string& dest) {
  const char* p = static_cast<const char*>(data);
  while (len) {
    ssize_t n = ::write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("write ack log " + dest, errno);
    }
    p += n;
    len -= size_t(n);
  }
  return Status::Ok();
}
}  // namespace

AckLogWriter::~AckLogWriter() { (void)Close(); }

Status AckLogWriter::Open(const std::string& dest, const nlohmann::json& header) {
  dest_ = dest;
  if (dest.rfind("ssh://", 0) == 0) {
    std::string rest = dest.substr(6);
    size_t slash = rest.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 >= rest.size()) {
      return Status::InvalidInput("--ack-log " + dest + ": expected ssh://[user@]host/path");
    }
    std::string host = rest.substr(0, slash), path = rest.substr(slash);
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0) return ErrnoStatus("pipe", errno);
    ssh_pid_ = fork();
    if (ssh_pid_ < 0) return ErrnoStatus("fork ssh", errno);
    if (ssh_pid_ == 0) {
      dup2(pipefd[0], 0);
      std::string cmd = "cat > '" + path + "'";
      execlp("ssh", "ssh", "-o", "BatchMode=yes", host.c_str(), cmd.c_str(), (char*)nullptr);
      _exit(127);
    }
    close(pipefd[0]);
    fd_ = pipefd[1];
  } else {
    fd_ = ::open(dest.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) return ErrnoStatus("open ack log " + dest, errno);
  }
  std::string line = header.dump() + "\n";
  FB_RETURN_IF_ERROR(WriteAll(fd_, line.data(), line.size(), dest_));
  return Flush(true);
}

Status AckLogWriter::Flush(bool sync) {
  if (fd_ < 0) return Status::Ok();
  if (!pending_.empty()) {
    FB_RETURN_IF_ERROR(WriteAll(fd_, pending_.data(), pending_.size() * sizeof(AckRecord), dest_));
    pending_.clear();
  }
  if (sync && ssh_pid_ < 0 && ::fdatasync(fd_) != 0) return ErrnoStatus("fdatasync ack log " + dest_, errno);
  return Status::Ok();
}

Status AckLogWriter::Close() {
  if (fd_ < 0) return Status::Ok();
  Status s = Flush(true);
  ::close(fd_);
  fd_ = -1;
  if (ssh_pid_ > 0) {
    int st = 0;
    waitpid(ssh_pid_, &st, 0);
    ssh_pid_ = -1;
    if (s.ok() && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) s = Status::IoError("ack log over ssh to " + dest_ + " failed");
  }
  return s;
}

Result<AckLog> ReadAckLog(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ErrnoStatus("open ack log " + path, errno ? errno : ENOENT);
  AckLog log;
  std::string line;
  if (!std::getline(in, line)) return Status::InvalidInput(path + ": empty, not an ack log");
  try {
    log.header = nlohmann::json::parse(line);
  } catch (const std::exception& e) {
    return Status::InvalidInput(path + ":1: not an ack log header: " + e.what());
  }
  if (log.header.value("format", "") != "faultbench-acklog") return Status::InvalidInput(path + ":1: not a faultbench ack log");
  AckRecord r;
  while (in.read(reinterpret_cast<char*>(&r), sizeof r)) {
    ++log.records;
    log.last[r.offset] = {r.generation, r.ack_ms};
  }
  log.truncated = in.gcount() != 0;
  return log;
}

}  // namespace fb
