#include "lab/process.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "core/clock.h"
#include "core/jsonl_writer.h"
#include "core/subprocess.h"

namespace fb::lab {

Result<pid_t> SpawnDetached(const std::vector<std::string>& argv, const std::string& log_path) {
  if (argv.empty()) return Status::Internal("SpawnDetached: empty argv");
  int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return ErrnoStatus("open " + log_path, errno);
  // The grandchild reports its pid, or errno if exec failed, through these pipes.
  int pid_pipe[2], exec_pipe[2];
  if (pipe2(pid_pipe, O_CLOEXEC) != 0 || pipe2(exec_pipe, O_CLOEXEC) != 0) {
    ::close(log_fd);
    return ErrnoStatus("pipe", errno);
  }
  std::vector<char*> cargv;
  for (const std::string& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);

  pid_t child = fork();
  if (child < 0) return ErrnoStatus("fork for " + argv[0], errno);
  if (child == 0) {
    setsid();
    pid_t grandchild = fork();
    if (grandchild != 0) {
      // Intermediate: report the grandchild's pid and leave; init adopts it.
      ssize_t n = write(pid_pipe[1], &grandchild, sizeof grandchild);
      _exit(n == sizeof grandchild && grandchild > 0 ? 0 : 1);
    }
    int devnull = ::open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    dup2(log_fd, 1);
    dup2(log_fd, 2);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    // Nothing the caller had open reaches the long-lived process (a caller's
    // flock on the lab lock would otherwise be held until lab down).
    close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    execvp(cargv[0], cargv.data());
    int err = errno;
    ssize_t ignored = write(exec_pipe[1], &err, sizeof err);
    (void)ignored;
    _exit(127);
  }
  ::close(log_fd);
  ::close(pid_pipe[1]);
  ::close(exec_pipe[1]);
  pid_t grandchild = 0;
  ssize_t n = read(pid_pipe[0], &grandchild, sizeof grandchild);
  ::close(pid_pipe[0]);
  int status = 0;
  waitpid(child, &status, 0);
  int exec_err = 0;
  ssize_t m = read(exec_pipe[0], &exec_err, sizeof exec_err);  // EOF on successful exec
  ::close(exec_pipe[0]);
  if (n != sizeof grandchild || grandchild <= 0) return Status::IoError("fork for " + argv[0] + " failed");
  if (m == sizeof exec_err) return ErrnoStatus("exec " + JoinArgv(argv), exec_err);
  return grandchild;
}

ProcState GetProcState(pid_t pid) {
  if (pid <= 0) return ProcState::kGone;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return ProcState::kGone;
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size()) return ProcState::kGone;
  char state = stat[paren + 2];
  if (state == 'Z' || state == 'X') return ProcState::kGone;
  if (state == 'T' || state == 't') return ProcState::kStopped;
  return ProcState::kRunning;
}

const char* ProcStateName(ProcState s) {
  switch (s) {
    case ProcState::kGone:
      return "gone";
    case ProcState::kRunning:
      return "running";
    case ProcState::kStopped:
      return "stopped";
  }
  return "unknown";
}

std::vector<std::string> ProcCmdline(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  std::vector<std::string> out;
  std::string arg;
  while (std::getline(in, arg, '\0')) out.push_back(arg);
  return out;
}

pid_t ReadPidFile(const std::string& path) {
  std::ifstream in(path);
  long pid = 0;
  if (!(in >> pid) || pid <= 0) return 0;
  return pid_t(pid);
}

Status WritePidFile(const std::string& path, pid_t pid) {
  return WriteFileAtomic(path, std::to_string(pid) + "\n");
}

std::vector<pid_t> NamespacePids(const std::string& ns) {
  std::vector<pid_t> out;
  auto r = RunCommand({"ip", "netns", "pids", ns}, {.timeout_ns = 5 * kNsPerSec});
  if (!r.ok() || !r->success()) return out;
  std::istringstream in(r->out);
  long pid;
  while (in >> pid) out.push_back(pid_t(pid));
  return out;
}

namespace {
bool WaitGone(pid_t pid, int64_t timeout_ns) {
  int64_t deadline = MonoNs() + timeout_ns;
  while (GetProcState(pid) != ProcState::kGone) {
    if (MonoNs() >= deadline) return false;
    usleep(10'000);
  }
  return true;
}
}  // namespace

Status StopProcess(pid_t pid, int first_signal, int64_t grace_ns, const std::string& what) {
  if (GetProcState(pid) == ProcState::kGone) return Status::Ok();
  kill(pid, SIGCONT);
  if (first_signal != SIGKILL) {
    kill(pid, first_signal);
    if (WaitGone(pid, grace_ns)) return Status::Ok();
  }
  kill(pid, SIGKILL);
  if (WaitGone(pid, 2 * kNsPerSec)) return Status::Ok();
  return Status::IoError(what + " (pid " + std::to_string(pid) + ") did not exit after SIGKILL");
}

Status StopProcesses(const std::vector<pid_t>& pids, int first_signal, int64_t grace_ns,
                     const std::string& what) {
  for (pid_t p : pids) {
    kill(p, SIGCONT);
    kill(p, first_signal);
  }
  int64_t deadline = MonoNs() + grace_ns;
  for (pid_t p : pids) WaitGone(p, deadline - MonoNs());
  std::string failed;
  for (pid_t p : pids) {
    Status s = StopProcess(p, SIGKILL, 0, what);
    if (!s.ok()) failed += (failed.empty() ? "" : "; ") + s.message();
  }
  return failed.empty() ? Status::Ok() : Status::IoError(failed);
}

}  // namespace fb::lab
