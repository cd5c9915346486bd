#include "agent/run_state.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "core/jsonl_writer.h"

namespace fb {

namespace {

// rename() is durable only once the directory holding the name is synced.
Status SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open " + dir, errno);
  Status s = ::fsync(fd) == 0 ? Status::Ok() : ErrnoStatus("fsync " + dir, errno);
  ::close(fd);
  return s;
}

}  // namespace

Status SaveRunState(const std::string& run_dir, const AgentRunState& st) {
  nlohmann::json j = {{"run_id", st.run_id},
                      {"name", st.name},
                      {"workload_json", st.workload_json},
                      {"verify_run_id", st.verify_run_id},
                      {"planned_end_utc_ns", st.planned_end_utc_ns},
                      {"next_seq", st.next_seq},
                      {"segment", st.segment},
                      {"owner_pid", st.owner_pid},
                      {"status", st.status}};
  FB_RETURN_IF_ERROR(WriteFileAtomic(run_dir + "/" + kAgentStateFile, j.dump(2) + "\n"));
  return SyncDir(run_dir);
}

Result<AgentRunState> LoadRunState(const std::string& run_dir) {
  std::string path = run_dir + "/" + kAgentStateFile;
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::InvalidInput(path + ": not a JSON object");
  AgentRunState st;
  try {
    st.run_id = j.at("run_id").get<std::string>();
    st.name = j.value("name", st.run_id);
    st.workload_json = j.at("workload_json");
    st.verify_run_id = j.value("verify_run_id", uint64_t(0));
    st.planned_end_utc_ns = j.at("planned_end_utc_ns").get<int64_t>();
    st.next_seq = j.value("next_seq", uint64_t(0));
    st.segment = j.value("segment", 0);
    st.owner_pid = j.value("owner_pid", 0);
    st.status = j.at("status").get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidInput(path + ": " + e.what());
  }
  return st;
}

OwnerLock& OwnerLock::operator=(OwnerLock&& o) noexcept {
  if (this != &o) {
    Release();
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

Status OwnerLock::TryLock(const std::string& run_dir) {
  Release();
  std::string path = run_dir + "/" + kOwnerLockFile;
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus("open " + path, errno);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) return Status::Unavailable(path + " is held by another process");
    return ErrnoStatus("flock " + path, err);
  }
  fd_ = fd;
  return Status::Ok();
}

void OwnerLock::Release() {
  if (fd_ >= 0) ::close(fd_);  // closing the only descriptor drops the flock
  fd_ = -1;
}

Status TruncatePartialLine(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? Status::Ok() : ErrnoStatus("open " + path, errno);
  struct stat st {};
  Status s;
  if (::fstat(fd, &st) != 0) s = ErrnoStatus("fstat " + path, errno);
  off_t end = st.st_size;
  // Walk back to the last newline, one block at a time.
  char buf[4096];
  while (s.ok() && end > 0) {
    off_t from = end > off_t(sizeof buf) ? end - off_t(sizeof buf) : 0;
    ssize_t n = ::pread(fd, buf, size_t(end - from), from);
    if (n < 0) {
      s = ErrnoStatus("read " + path, errno);
      break;
    }
    ssize_t i = n - 1;
    while (i >= 0 && buf[i] != '\n') --i;
    if (i >= 0) {
      end = from + i + 1;
      break;
    }
    end = from;
  }
  if (s.ok() && end != st.st_size && ::ftruncate(fd, end) != 0) s = ErrnoStatus("truncate " + path, errno);
  ::close(fd);
  return s;
}

Status MergeJsonFile(const std::string& path, const nlohmann::json& patch) {
  nlohmann::json j = nlohmann::json::object();
  auto text = ReadFile(path);
  if (text.ok()) {
    j = nlohmann::json::parse(*text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) j = nlohmann::json::object();
  }
  j.merge_patch(patch);
  return WriteFileAtomic(path, j.dump(2) + "\n");
}

}  // namespace fb
