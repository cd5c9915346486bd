#include "probes/remote_clock.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "core/clock.h"

namespace fb {

const char* const kClockLoopCommand = "while read -r x; do date +%s.%N; done";

namespace {

// Keeps the reading of the shortest round trip in `best`.
void Keep(int64_t t0_mono, int64_t t1_mono, int64_t remote_ns, bool coarse, const ClockAnchor& a,
          ClockOffset* best) {
  int64_t rtt = t1_mono - t0_mono;
  ++best->samples;
  if (best->samples > 1 && rtt >= best->rtt_ns) return;
  best->rtt_ns = rtt;
  best->offset_ns = remote_ns - a.ToUtc(t0_mono + rtt / 2);
  // A whole-second reading is up to 1 s early: centre it and widen the bound.
  if (coarse) best->offset_ns += kNsPerSec / 2;
  best->uncertainty_ns = rtt / 2 + (coarse ? kNsPerSec / 2 : 0);
}

// One remote session answering each newline on stdin with a reading.
ClockOffset MeasureInSession(const CommandTarget& target, int rounds) {
  ClockOffset best;
  std::vector<std::string> argv = target.Wrap({"sh", "-c", kClockLoopCommand});
  // stdin is a socket: a write after the session died is EPIPE, never SIGPIPE.
  int in[2], out[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) != 0) return best;
  if (pipe2(out, O_CLOEXEC) != 0) {
    close(in[0]);
    close(in[1]);
    return best;
  }
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    dup2(in[1], 0);
    dup2(out[1], 1);
    int null = open("/dev/null", O_WRONLY);
    if (null >= 0) dup2(null, 2);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(in[1]);
  close(out[1]);
  if (pid > 0) {
    ClockAnchor a = ClockAnchor::Take();
    std::string buf;
    int64_t deadline = MonoNs() + target.timeout_ns();
    // The first answer also waits for the session to start: one extra round.
    for (int i = 0; i <= rounds; ++i) {
      int64_t t0 = MonoNs();
      if (send(in[0], "\n", 1, MSG_NOSIGNAL) != 1) break;
      size_t nl;
      bool eof = false;
      while ((nl = buf.find('\n')) == std::string::npos && !eof) {
        int64_t left_ms = (deadline - MonoNs()) / kNsPerMs;
        pollfd p{out[0], POLLIN, 0};
        if (left_ms <= 0 || poll(&p, 1, int(left_ms)) <= 0) {
          eof = true;
          break;
        }
        char chunk[256];
        ssize_t n = read(out[0], chunk, sizeof chunk);
        if (n <= 0) eof = n == 0 || errno != EINTR;
        if (n > 0) buf.append(chunk, size_t(n));
      }
      if (nl == std::string::npos) break;
      int64_t t1 = MonoNs();
      std::string line = buf.substr(0, nl);
      buf.erase(0, nl + 1);
      int64_t remote_ns = 0;
      bool coarse = false;
      if (!ParseEpochSeconds(line, &remote_ns, &coarse)) break;
      if (i > 0) Keep(t0, t1, remote_ns, coarse, a, &best);
    }
  }
  close(in[0]);  // ends the remote loop, and the session with it
  close(out[0]);
  if (pid > 0) {
    for (int i = 0; i < 100 && waitpid(pid, nullptr, WNOHANG) == 0; ++i) usleep(10'000);
    if (kill(pid, 0) == 0) {
      kill(-pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
  return best;
}

}  // namespace

bool ParseEpochSeconds(const std::string& text, int64_t* utc_ns, bool* coarse) {
  size_t end = text.find_first_of("\r\n");
  std::string s = text.substr(0, end);
  size_t dot = s.find('.');
  std::string whole = s.substr(0, dot);
  if (whole.empty() || whole.size() > 12 || whole.find_first_not_of("0123456789") != std::string::npos)
    return false;
  int64_t ns = std::stoll(whole) * kNsPerSec;
  std::string frac = dot == std::string::npos ? "" : s.substr(dot + 1);
  *coarse = frac.empty() || frac.find_first_not_of("0123456789") != std::string::npos;
  if (!*coarse) {
    int64_t scale = kNsPerSec;
    for (size_t i = 0; i < frac.size() && i < 9; ++i) {
      scale /= 10;
      ns += (frac[i] - '0') * scale;
    }
  }
  *utc_ns = ns;
  return true;
}

Result<ClockOffset> MeasureClockOffset(const CommandTarget& target, int rounds) {
  ClockOffset best = MeasureInSession(target, rounds);
  if (best.samples > 0) return best;
  const std::vector<std::string> argv = {"date", "+%s.%N"};
  std::string last_problem;
  for (int i = 0; i < rounds; ++i) {
    ClockAnchor a = ClockAnchor::Take();
    int64_t t0 = MonoNs();
    auto r = target.Run(argv);
    int64_t t1 = MonoNs();
    if (!r.ok()) {
      last_problem = r.status().message();
      continue;
    }
    int64_t remote_ns = 0;
    bool coarse = false;
    if (!r->success() || !ParseEpochSeconds(r->out, &remote_ns, &coarse)) {
      last_problem = r->success() ? "unexpected output \"" + r->out.substr(0, 80) + "\"" : r->Describe();
      continue;
    }
    Keep(t0, t1, remote_ns, coarse, a, &best);
  }
  if (best.samples == 0) {
    return Status::Unavailable("measure the clock of " + target.where() +
                               " (`date +%s.%N`): " + last_problem);
  }
  return best;
}

}  // namespace fb
