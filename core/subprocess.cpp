#include "core/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/clock.h"
#include "core/units.h"

namespace fb {

std::string CommandResult::Describe() const {
  if (timed_out) return "timed out after " + FormatDuration(elapsed_ns);
  if (stopped) return "stopped after " + FormatDuration(elapsed_ns);
  if (term_signal) return std::string("killed by signal ") + strsignal(term_signal);
  std::string first = err.empty() ? out : err;
  size_t nl = first.find('\n');
  if (nl != std::string::npos) first.resize(nl);
  std::string s = "exit " + std::to_string(exit_code);
  if (!first.empty()) s += ": " + first;
  return s;
}

std::string JoinArgv(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) {
    if (!s.empty()) s += ' ';
    bool plain = !a.empty() && a.find_first_of(" \t\"'\\$`") == std::string::npos;
    s += plain ? a : "'" + a + "'";
  }
  return s;
}

Result<CommandResult> RunCommand(const std::vector<std::string>& argv, const CommandOptions& options) {
  if (argv.empty()) return Status::Internal("RunCommand with an empty argv");
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0) return ErrnoStatus("pipe", errno);
  if (pipe2(out_pipe, O_CLOEXEC) != 0) return ErrnoStatus("pipe", errno);
  if (pipe2(err_pipe, O_CLOEXEC) != 0) return ErrnoStatus("pipe", errno);
  // An exec failure is reported through this pipe (closed by a successful exec).
  int exec_pipe[2];
  if (pipe2(exec_pipe, O_CLOEXEC) != 0) return ErrnoStatus("pipe", errno);

  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  int64_t start = MonoNs();
  pid_t pid = fork();
  if (pid < 0) return ErrnoStatus("fork for " + argv[0], errno);
  if (pid == 0) {
    setpgid(0, 0);
    dup2(in_pipe[0], 0);
    dup2(out_pipe[1], 1);
    dup2(options.merge_stderr ? out_pipe[1] : err_pipe[1], 2);
    signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execvp(args[0], args.data());
    int e = errno;
    (void)!write(exec_pipe[1], &e, sizeof e);
    _exit(127);
  }
  setpgid(pid, pid);
  close(in_pipe[0]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  close(exec_pipe[1]);

  int exec_errno = 0;
  if (read(exec_pipe[0], &exec_errno, sizeof exec_errno) == sizeof exec_errno) {
    close(exec_pipe[0]);
    close(in_pipe[1]);
    close(out_pipe[0]);
    close(err_pipe[0]);
    waitpid(pid, nullptr, 0);
    return ErrnoStatus("run " + argv[0], exec_errno);
  }
  close(exec_pipe[0]);

  CommandResult r;
  size_t in_off = 0;
  int in_fd = in_pipe[1];
  fcntl(in_fd, F_SETFL, O_NONBLOCK);
  if (options.stdin_text.empty()) {
    close(in_fd);
    in_fd = -1;
  }
  int out_fd = out_pipe[0], err_fd = err_pipe[0];
  int64_t deadline = start + options.timeout_ns;
  char buf[65536];
  auto stop_requested = [&](int wait_ms) {
    if (options.stop_fd < 0) return false;
    pollfd p{options.stop_fd, POLLIN, 0};
    return poll(&p, 1, wait_ms) > 0;
  };
  while (out_fd >= 0 || err_fd >= 0) {
    pollfd fds[4];
    int n = 0;
    if (out_fd >= 0) fds[n++] = {out_fd, POLLIN, 0};
    if (err_fd >= 0) fds[n++] = {err_fd, POLLIN, 0};
    if (in_fd >= 0) fds[n++] = {in_fd, POLLOUT, 0};
    if (options.stop_fd >= 0) fds[n++] = {options.stop_fd, POLLIN, 0};
    int64_t left_ms = (deadline - MonoNs()) / kNsPerMs;
    if (left_ms <= 0) {
      r.timed_out = true;
      break;
    }
    int rc = poll(fds, n, int(std::min<int64_t>(left_ms, 1000)));
    if (rc < 0 && errno != EINTR) break;
    if (options.stop_fd >= 0 && fds[n - 1].revents) {
      r.stopped = true;
      break;
    }
    for (int i = 0; i < n; ++i) {
      if (!fds[i].revents) continue;
      int fd = fds[i].fd;
      if (fd == in_fd) {
        ssize_t w = write(fd, options.stdin_text.data() + in_off, options.stdin_text.size() - in_off);
        if (w > 0) in_off += size_t(w);
        if (w < 0 && errno != EAGAIN) in_off = options.stdin_text.size();
        if (in_off >= options.stdin_text.size()) {
          close(in_fd);
          in_fd = -1;
        }
        continue;
      }
      ssize_t got = read(fd, buf, sizeof buf);
      if (got > 0) {
        (fd == out_fd ? r.out : r.err).append(buf, size_t(got));
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        close(fd);
        (fd == out_fd ? out_fd : err_fd) = -1;
      }
    }
  }
  if (r.timed_out || r.stopped) {
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
  }
  if (in_fd >= 0) close(in_fd);
  if (out_fd >= 0) close(out_fd);
  if (err_fd >= 0) close(err_fd);
  // Output closed; the child may still be running (it closed its stdout): wait
  // for it within the deadline.
  int status = 0;
  while (true) {
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) break;
    if (!r.timed_out && !r.stopped && (MonoNs() > deadline || stop_requested(0))) {
      (MonoNs() > deadline ? r.timed_out : r.stopped) = true;
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
    }
    usleep(1000);
  }
  r.elapsed_ns = MonoNs() - start;
  if (!r.timed_out && !r.stopped) {
    if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) r.term_signal = WTERMSIG(status);
  }
  return r;
}

Result<CommandResult> RunShell(const std::string& command_line, const CommandOptions& options) {
  return RunCommand({"/bin/sh", "-c", command_line}, options);
}

Result<std::string> RunChecked(const std::vector<std::string>& argv, const CommandOptions& options) {
  Result<CommandResult> r = RunCommand(argv, options);
  if (!r.ok()) return r.status();
  if (!r->success()) return Status::IoError(JoinArgv(argv) + ": " + r->Describe());
  return std::move(r->out);
}

}  // namespace fb
