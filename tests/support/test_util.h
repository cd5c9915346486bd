// Helpers shared by the tests: temporary directories and running the CLI.
#pragma once

#include <unistd.h>

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/subprocess.h"

namespace fb {

// A fresh directory under /tmp, removed with everything in it on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& base = "/tmp");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Every record of a JSON-lines file (a journal's samples, stalls, events, the lab's log).
// Empty lines are skipped; a last line without its newline is left out (its writer is
// still writing it); any other line that is not JSON throws, naming the file and line.
std::vector<nlohmann::json> ReadJsonl(const std::string& path);

// One freeze of the target may show as two stalls when a single completion the
// network delivered late lands inside it (the time between completions is
// honest). The stalls (start_utc_ns, end_utc_ns) with those joined whose gap is
// at most max_gap_ns: {start, end} per freeze, in order.
std::vector<std::pair<int64_t, int64_t>> FreezesOf(const std::vector<nlohmann::json>& stalls,
                                                   int64_t max_gap_ns = 10'000'000);

// The journal directory `faultbench load` printed ("journal: DIR"); "" when none.
std::string JournalDirOf(const std::string& cli_output);

// The one run directory under out_dir: "" while there is none (or more than one).
std::string OnlyRunDir(const std::string& out_dir);

// Runs the faultbench binary built with the tests.
CommandResult RunCli(const std::vector<std::string>& args, int64_t timeout_ns = 120'000'000'000);

bool IsRoot();

}  // namespace fb

namespace fb {

// A loop device over `file`, detached on destruction.
class LoopDevice {
 public:
  LoopDevice(const std::string& file, bool direct_io);
  ~LoopDevice();
  LoopDevice(const LoopDevice&) = delete;
  LoopDevice& operator=(const LoopDevice&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A bindfs FUSE mount of `source` on `mountpoint` (direct_io, so nothing is
// served from the page cache), whose daemon can be frozen with SIGSTOP. On
// destruction: SIGCONT, unmount, kill, reap.
class FreezableMount {
 public:
  FreezableMount(const std::string& source, const std::string& mountpoint);
  ~FreezableMount();
  FreezableMount(const FreezableMount&) = delete;
  FreezableMount& operator=(const FreezableMount&) = delete;
  int pid() const { return pid_; }

 private:
  std::string mountpoint_;
  int pid_ = -1;
};

// Whether a command is on PATH.
bool HaveCommand(const std::string& name);

}  // namespace fb

namespace fb {

struct HttpResponse {
  int status = 0;
  std::string body;
};
// A plain HTTP/1.0 GET to an IPv4 address on this machine, bounded by `timeout_ms`.
// Throws on connection failure.
HttpResponse HttpGet(const std::string& ip, int port, const std::string& path, int timeout_ms = 5000);
// Percent-encodes a query parameter value.
std::string UrlEncode(const std::string& s);
// A TCP port on 127.0.0.1 that was free a moment ago.
int FreePort();

}  // namespace fb

namespace fb {

// Polls `pred` every `step_ms` until it holds or `timeout_ms` passed; returns
// the monotonic time it first held, or 0. The deadline is only for an event
// that never comes: wait for the event, never for a time.
template <typename Pred>
int64_t WaitFor(Pred pred, int timeout_ms, int step_ms = 2) {
  int64_t deadline = MonoNs() + int64_t(timeout_ms) * kNsPerMs;
  while (true) {
    int64_t now = MonoNs();
    if (pred()) return now;
    if (now >= deadline) return 0;
    usleep(useconds_t(step_ms) * 1000);
  }
}

// Whether another process has `path` open with its offset at the file's end:
// a follower (`tail -F -n 0`) that will see the next line appended.
bool OpenAtEndElsewhere(const std::string& path);

}  // namespace fb
