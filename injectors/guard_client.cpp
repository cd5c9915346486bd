// The runner's side of the guard: the journal records it writes and the
// socket whose EOF tells the guard that the runner is gone.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include "core/clock.h"
#include "injectors/guard.h"
#include "injectors/guard_internal.h"

namespace fb {

namespace {

constexpr int64_t kAckTimeoutNs = 5 * kNsPerSec;

bool LooksSecret(const std::string& key) {
  std::string k;
  for (char c : key) k += char(tolower(static_cast<unsigned char>(c)));
  auto ends = [&](const char* s) { return k.size() > strlen(s) && k.compare(k.size() - strlen(s), strlen(s), s) == 0; };
  if (ends("_env") || ends("_file")) return false;
  for (const char* w : {"password", "passwd", "secret", "token", "api_key", "apikey", "private_key", "credential"}) {
    if (k.find(w) != std::string::npos) return true;
  }
  return false;
}

// The journal never holds a secret: literal ones (refused by the plan loader
// anyway) are replaced.
nlohmann::json Redacted(const nlohmann::json& v) {
  if (!v.is_object()) return v;
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [k, x] : v.items()) out[k] = LooksSecret(k) ? nlohmann::json("<redacted>") : Redacted(x);
  return out;
}

}  // namespace

GuardClient::~GuardClient() {
  if (sock_ >= 0) (void)Stop();
  Close();
}

void GuardClient::Close() {
  if (sock_ >= 0) close(sock_);
  sock_ = -1;
  if (lock_fd_ >= 0) close(lock_fd_);
  lock_fd_ = -1;
}

Status GuardClient::Append(const nlohmann::json& record) {
  Status st = AppendGuardRecord(run_, record);
  return st.With("guard journal of run " + run_);
}

Status GuardClient::Ask(const std::string& line, const std::string& answer, int64_t timeout_ns) {
  if (sock_ < 0) return Status::Internal("guard of run " + run_ + " is not started");
  std::string msg = line + "\n";
  if (send(sock_, msg.data(), msg.size(), MSG_NOSIGNAL) != ssize_t(msg.size())) {
    return ErrnoStatus("guard of run " + run_ + " (pid " + std::to_string(guard_pid_) + "): send \"" + line + "\"",
                       errno);
  }
  std::string got;
  int64_t deadline = MonoNs() + timeout_ns;
  while (got.find('\n') == std::string::npos) {
    int64_t left_ms = (deadline - MonoNs()) / kNsPerMs;
    pollfd p{sock_, POLLIN, 0};
    if (left_ms <= 0 || poll(&p, 1, int(left_ms)) == 0) {
      return Status::Unavailable("guard of run " + run_ + " (pid " + std::to_string(guard_pid_) + ") did not answer \"" +
                                 line + "\" within " + std::to_string(timeout_ns / kNsPerMs) + "ms; see " +
                                 GuardPath(run_, ".guard.log"));
    }
    char buf[256];
    ssize_t n = recv(sock_, buf, sizeof buf, 0);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      return Status::Unavailable("guard of run " + run_ + " (pid " + std::to_string(guard_pid_) +
                                 ") went away; see " + GuardPath(run_, ".guard.log"));
    }
    got.append(buf, size_t(n));
  }
  got.resize(got.find('\n'));
  if (got != answer) return Status::Internal("guard of run " + run_ + " answered \"" + got + "\" to \"" + line + "\"");
  return Status::Ok();
}

Status GuardClient::Start(const std::string& run_id, const std::string& exe_in) {
  if (sock_ >= 0) return Status::Internal("guard already started for run " + run_);
  run_ = GuardRunId(run_id);
  std::string dir = GuardStateDir();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IoError("cannot create guard state directory " + dir + ": " + ec.message());
  lock_fd_ = OpenRunLock(run_);
  if (lock_fd_ < 0) return ErrnoStatus("open " + GuardPath(run_, ".lock"), errno);
  if (flock(lock_fd_, LOCK_SH) != 0) return ErrnoStatus("flock " + GuardPath(run_, ".lock"), errno);
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  FB_RETURN_IF_ERROR(Append({{"type", "start"}, {"run", run_}, {"runner_pid", getpid()}, {"host", host},
                             {"utc_ns", UtcNs()}, {"mono_ns", MonoNs()}}));
  int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);  // the new journal's directory entry
    close(dfd);
  }

  std::string exe = exe_in;
  if (exe.empty()) {
    exe = std::filesystem::read_symlink("/proc/self/exe", ec).string();
    if (ec) return Status::Internal("cannot find this program (/proc/self/exe): " + ec.message());
  }
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return ErrnoStatus("socketpair", errno);
  std::string log = GuardPath(run_, ".guard.log");
  const char* argv[] = {exe.c_str(), "guard", "--run", run_.c_str(), nullptr};
  pid_t pid = fork();
  if (pid < 0) {
    close(sv[0]);
    close(sv[1]);
    return ErrnoStatus("fork for the guard", errno);
  }
  if (pid == 0) {
    // Own session: no terminal signal reaches it, and it outlives the runner.
    setsid();
    dup2(sv[1], 0);
    dup2(sv[1], 1);
    int lfd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (lfd >= 0) dup2(lfd, 2);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execv(argv[0], const_cast<char**>(argv));
    _exit(127);
  }
  close(sv[1]);
  sock_ = sv[0];
  guard_pid_ = pid;
  Status st = Ask("hello", "ready", kAckTimeoutNs);
  if (!st.ok()) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    Close();
    return st.With("starting `" + exe + " guard --run " + run_ + "`");
  }
  return Status::Ok();
}

Result<std::string> GuardClient::Arm(const FaultSpec& spec) {
  if (spec.lease_ns <= 0) return Status::InvalidInput("fault " + spec.injector + " has no lease (max_duration)");
  int64_t utc = UtcNs(), mono = MonoNs();
  std::string id = spec.injector + "." + std::to_string(utc);
  FB_RETURN_IF_ERROR(Append({{"type", "arm"}, {"fault", id}, {"injector", spec.injector}, {"kind", spec.kind},
                             {"where", spec.where}, {"settings", Redacted(spec.settings)}, {"lease_ns", spec.lease_ns},
                             {"since_utc_ns", utc}, {"since_mono_ns", mono}}));
  FB_RETURN_IF_ERROR(Ask("sync", "ok", kAckTimeoutNs));
  return id;
}

Status GuardClient::Disarm(const std::string& fault_id, const std::string& outcome) {
  FB_RETURN_IF_ERROR(Append({{"type", "disarm"}, {"fault", fault_id}, {"outcome", outcome}, {"by", "runner"},
                             {"utc_ns", UtcNs()}, {"mono_ns", MonoNs()}}));
  return Ask("sync", "ok", kAckTimeoutNs);
}

Status GuardClient::Detach() {
  Status st = Ask("detach", "ok", kAckTimeoutNs);
  Close();
  return st;
}

Status GuardClient::Stop(int64_t timeout_ns) {
  if (sock_ < 0) return Status::Ok();
  Status st = Append({{"type", "end"}, {"utc_ns", UtcNs()}});
  Status bye = Ask("stop", "bye", timeout_ns);
  if (st.ok()) st = bye;
  Close();
  // The guard exits right after "bye"; reap it (bounded).
  for (int i = 0; i < 200 && guard_pid_ > 0; ++i) {
    if (waitpid(guard_pid_, nullptr, WNOHANG) != 0) break;
    usleep(10'000);
  }
  guard_pid_ = -1;
  // A run that ended with every fault confirmed reverted leaves no state behind;
  // anything else stays for `faultbench faults` and `recover`.
  auto run = ReadGuardedRun(run_);
  if (st.ok() && run.ok() && std::all_of(run->faults.begin(), run->faults.end(), [](const GuardedFault& f) {
        return f.state == FaultState::kReverted;
      })) {
    for (const char* suffix : {".jsonl", ".lock", ".guard.log"}) unlink(GuardPath(run_, suffix).c_str());
  }
  return st;
}

}  // namespace fb
