// The guard process: watches the runner through its socket (fd 0/1) and the
// run's journal, and reverts what the runner cannot any more.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <string>

#include "core/clock.h"
#include "injectors/guard.h"
#include "injectors/guard_internal.h"

namespace fb {

namespace {

// The journal is re-read at least this often, so a revert made by another
// process (`faultbench revert`) is seen while detached.
constexpr int64_t kPollNs = 100 * kNsPerMs;

void Log(const std::string& run, const std::string& text) {
  fprintf(stderr, "%s guard %s: %s\n", FormatUtcIso(UtcNs(), 3).c_str(), run.c_str(), text.c_str());
  fflush(stderr);
}

void Reply(const char* text) { (void)!send(1, text, strlen(text), MSG_NOSIGNAL); }

}  // namespace

int RunGuardProcess(const std::string& run_in) {
  std::string run = GuardRunId(run_in);
  signal(SIGPIPE, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  // SIGTERM/SIGINT (shutdown, an operator): revert everything, then exit.
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  sigaddset(&term, SIGINT);
  sigprocmask(SIG_BLOCK, &term, nullptr);
  int sig_fd = signalfd(-1, &term, SFD_CLOEXEC | SFD_NONBLOCK);

  int lock = OpenRunLock(run);
  if (lock < 0 || flock(lock, LOCK_SH) != 0) {
    Log(run, "cannot lock " + GuardPath(run, ".lock"));
    return 3;
  }
  if (!AppendGuardRecord(run, {{"type", "guard"}, {"pid", getpid()}, {"utc_ns", UtcNs()}}).ok()) {
    Log(run, "cannot write " + GuardPath(run, ".jsonl"));
    return 3;
  }
  Log(run, "started, pid " + std::to_string(getpid()));

  enum class Mode { kWatching, kRunnerGone, kStopping, kDetached };
  Mode mode = Mode::kWatching;
  std::string in;
  int in_fd = 0;
  bool unknown_left = false;
  while (true) {
    auto state = ReadGuardedRun(run);
    if (!state.ok()) {
      Log(run, state.status().message());
      return 3;
    }
    int64_t now = MonoNs();
    int64_t wake = now + kPollNs;
    bool active_left = false;
    // Newest first, as the runner reverts.
    for (auto it = state->faults.rbegin(); it != state->faults.rend(); ++it) {
      const GuardedFault& f = *it;
      if (f.state != FaultState::kActive) continue;
      const char* reason = mode == Mode::kRunnerGone ? "runner died"
                           : mode == Mode::kStopping ? "still active at the end of the run"
                           : f.deadline_mono_ns <= now ? "lease expired"
                                                       : nullptr;
      if (!reason) {
        active_left = true;
        wake = std::min(wake, f.deadline_mono_ns);
        continue;
      }
      std::string detail;
      FaultState s = RevertGuardedFault(f, "guard", reason, &detail);
      Log(run, f.spec.injector + " (" + f.spec.kind + " on " + f.spec.where + "), " + reason + ": " +
                   FaultStateName(s) + " - " + detail);
      if (s != FaultState::kReverted) unknown_left = true;
    }
    if (mode != Mode::kWatching && !active_left) break;

    pollfd fds[2] = {{in_fd, POLLIN, 0}, {sig_fd, POLLIN, 0}};
    int64_t left = std::max<int64_t>(0, wake - MonoNs());
    timespec ts{time_t(left / kNsPerSec), long(left % kNsPerSec)};
    if (ppoll(fds, 2, &ts, nullptr) <= 0) continue;
    if (fds[1].revents) {
      signalfd_siginfo si;
      (void)!read(sig_fd, &si, sizeof si);
      Log(run, "signal " + std::to_string(si.ssi_signo) + ": reverting every active fault");
      mode = Mode::kRunnerGone;
    }
    if (fds[0].revents) {
      char buf[512];
      ssize_t n = recv(in_fd, buf, sizeof buf, 0);
      if (n <= 0 && !(n < 0 && errno == EINTR)) {
        if (mode == Mode::kWatching) {
          Log(run, "the runner went away without stopping its guard: reverting every active fault");
          mode = Mode::kRunnerGone;
        }
        in_fd = -1;  // poll ignores negative fds
        continue;
      }
      in.append(buf, size_t(n));
      size_t nl;
      while ((nl = in.find('\n')) != std::string::npos) {
        std::string line = in.substr(0, nl);
        in.erase(0, nl + 1);
        // Records are in the journal before the runner asks, and every loop
        // re-reads it: "sync" is answered at once.
        if (line == "hello") Reply("ready\n");
        if (line == "sync") Reply("ok\n");
        if (line == "stop") mode = Mode::kStopping;
        if (line == "detach") {
          Reply("ok\n");
          Log(run, "detached: reverting at lease end unless reverted before");
          mode = Mode::kDetached;
        }
      }
    }
  }
  if (mode == Mode::kStopping) Reply("bye\n");
  Log(run, unknown_left ? "exiting; some faults are unknown (faultbench faults)" : "exiting; nothing left active");
  close(lock);
  return unknown_left ? 3 : 0;
}

}  // namespace fb
