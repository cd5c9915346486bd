#include "probes/log_probe.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <optional>
#include <regex>
#include <thread>

#include "core/clock.h"
#include "plugin/command_target.h"
#include "probes/line_queue.h"
#include "probes/line_time.h"
#include "probes/probe_base.h"
#include "probes/remote_clock.h"
#include "probes/rule_packs.h"

namespace fb {

namespace {

constexpr size_t kMaxLineBytes = 64 * 1024;

enum class Source { kFile, kCommand, kJournal };

struct LogConfig {
  std::string name, path, command, unit;
  Source source = Source::kFile;
  bool from_start = false;
  int64_t poll_ns = 100 * kNsPerMs;
  bool keep_unmatched = true;
  std::vector<LogRule> rules;
  bool line_times = true;
  int64_t clock_threshold_ns = 2 * kNsPerSec;
  size_t queue_lines = 10000;
};

// How long Stop() keeps matching lines still queued; the rest count as dropped.
constexpr int64_t kStopDrainNs = 1 * kNsPerSec;
// At Stop() a command's output already in the pipe is still read, up to this much.
constexpr size_t kStopReadBytes = 1 << 20;
// probe_overflow events while the rules fall behind: at most one per interval.
constexpr int64_t kOverflowReportNs = 1 * kNsPerSec;

// A remote follow command, made to end when the ssh session's stdin closes (a
// remote command gets no SIGHUP without a tty, so `tail -F` would otherwise
// live on until its next write): the watcher subshell kills it on EOF.
std::string RemoteWatchdogScript(const std::vector<std::string>& words) {
  std::string w;
  for (const auto& word : words) w += (w.empty() ? "" : " ") + ShellQuote(word);
  return "exec 3<&0; " + w +
         " </dev/null & p=$!; (cat <&3 >/dev/null 2>&1; kill $p 2>/dev/null) >/dev/null 2>&1 & " +
         "exec 3<&-; wait $p";
}

const char* const kJournaldFields[] = {"_SYSTEMD_UNIT", "_HOSTNAME", "PRIORITY", "SYSLOG_IDENTIFIER", "_PID"};

// The probe's thread (ProbeBase) matches lines against the rules; a second
// thread of its own reads the file or the command's output into the queue.
// At Stop the reader reads what is already there, and the matcher keeps
// matching what is queued for at most kStopDrainNs.
class LogProbe : public ProbeBase {
 public:
  LogProbe(LogConfig config, CommandTarget target)
      : ProbeBase(config.name), c_(std::move(config)), target_(std::move(target)), queue_(c_.queue_lines) {}
  ~LogProbe() override { Stop(); }

  std::vector<std::string> EventKinds() const override {
    std::vector<std::string> kinds;
    for (const auto& r : c_.rules) {
      if (std::find(kinds.begin(), kinds.end(), r.kind) == kinds.end()) kinds.push_back(r.kind);
    }
    if (c_.keep_unmatched) kinds.push_back("log");
    kinds.push_back("probe_overflow");
    kinds.push_back("probe_error");
    if (target_.remote()) kinds.push_back("clock_offset");
    return kinds;
  }

 protected:
  Status Setup() override {
    anchor_ = ClockAnchor::Take();
    if (target_.remote()) {
      FB_RETURN_IF_ERROR(target_.Prepare().With("probe " + c_.name));
      MeasureClock();
    }
    std::vector<std::string> words = FollowWords();
    if (words.empty()) {
      OpenFile(/*at_start=*/true);
    } else {
      what_ = "`" + JoinArgv(words) + "`" + (target_.remote() ? " on " + target_.where() : "");
      std::vector<std::string> argv =
          target_.remote() ? target_.Wrap({"sh", "-c", RemoteWatchdogScript(words)}) : target_.Wrap(words);
      FB_RETURN_IF_ERROR(Spawn(argv));
    }
    reader_ = std::thread([this] { fd_ >= 0 && child_ > 0 ? FollowCommand() : FollowFile(); });
    return Status::Ok();
  }

  void Run() override { MatchLines(); }

  // Stop() was called: what is still queued is matched for a bounded time.
  void Interrupt() override {
    int64_t unset = 0;
    drain_deadline_ns_.compare_exchange_strong(unset, MonoNs() + kStopDrainNs);
  }

  void Cleanup() override {
    if (reader_.joinable()) reader_.join();
    queue_.Close();
    if (stdin_w_ >= 0) close(stdin_w_);  // a remote follower's watchdog ends it
    stdin_w_ = -1;
    if (child_ > 0) {
      if (target_.remote()) {
        for (int i = 0; i < 50 && waitpid(child_, nullptr, WNOHANG) == 0; ++i) usleep(10'000);
      }
      if (waitpid(child_, nullptr, WNOHANG) == 0) {
        kill(-child_, SIGTERM);
        for (int i = 0; i < 50 && waitpid(child_, nullptr, WNOHANG) == 0; ++i) usleep(10'000);
        if (kill(child_, 0) == 0) {
          kill(-child_, SIGKILL);
          waitpid(child_, nullptr, 0);
        }
      }
      child_ = -1;
    }
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  // The follow command before any ssh wrapping; empty for a local file.
  std::vector<std::string> FollowWords() const {
    switch (c_.source) {
      case Source::kFile:
        if (!target_.remote()) return {};
        return {"tail", "-F", "-n", c_.from_start ? "+1" : "0", c_.path};
      case Source::kCommand:
        return {"/bin/sh", "-c", c_.command};
      case Source::kJournal: {
        std::vector<std::string> w = {"journalctl", "-f", "-o", "json"};
        if (!c_.unit.empty()) w.insert(w.end(), {"-u", c_.unit});
        w.insert(w.end(), {"-n", "0"});
        return w;
      }
    }
    return {};
  }

  void MeasureClock() {
    auto offset = MeasureClockOffset(target_);
    if (!offset.ok()) {
      Emit(MonoNs(), "probe_error", Severity::kWarning,
           "probe " + c_.name + ": " + offset.status().message() + "; line times are not corrected",
           nlohmann::json::object());
      return;
    }
    clock_offset_ns_ = offset->offset_ns;
    char text[160];
    snprintf(text, sizeof text, "clock of %s is %+.3f ms from ours (+/- %.3f ms)", target_.where().c_str(),
             double(offset->offset_ns) / 1e6, double(offset->uncertainty_ns) / 1e6);
    Emit(MonoNs(), "clock_offset", Severity::kInfo, text,
         {{"host", target_.where()},
          {"offset_ms", double(offset->offset_ns) / 1e6},
          {"uncertainty_ms", double(offset->uncertainty_ns) / 1e6},
          {"rtt_ms", double(offset->rtt_ns) / 1e6},
          {"samples", offset->samples}});
  }

  Status Spawn(const std::vector<std::string>& argv) {
    int p[2], exec_pipe[2], in[2] = {-1, -1};
    if (pipe2(p, O_CLOEXEC) != 0) return ErrnoStatus("probe " + c_.name + ": pipe", errno);
    // Closed by a successful exec: Spawn returns only once the child runs the
    // command, so Stop() never signals a half-made child that still has our handlers.
    if (pipe2(exec_pipe, O_CLOEXEC) != 0) return ErrnoStatus("probe " + c_.name + ": pipe", errno);
    if (target_.remote() && pipe2(in, O_CLOEXEC) != 0)
      return ErrnoStatus("probe " + c_.name + ": pipe", errno);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    child_ = fork();
    if (child_ < 0) return ErrnoStatus("probe " + c_.name + ": fork", errno);
    if (child_ == 0) {
      setpgid(0, 0);
      dup2(p[1], 1);
      dup2(p[1], 2);
      int stdin_fd = in[0] >= 0 ? in[0] : open("/dev/null", O_RDONLY);
      if (stdin_fd >= 0) dup2(stdin_fd, 0);
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      signal(SIGPIPE, SIG_DFL);
      execvp(args[0], args.data());
      int e = errno;
      (void)!write(exec_pipe[1], &e, sizeof e);
      _exit(127);
    }
    setpgid(child_, child_);
    close(p[1]);
    close(exec_pipe[1]);
    if (in[0] >= 0) close(in[0]);
    stdin_w_ = in[1];
    int exec_errno = 0;
    ssize_t n;
    while ((n = read(exec_pipe[0], &exec_errno, sizeof exec_errno)) < 0 && errno == EINTR) {
    }
    close(exec_pipe[0]);
    if (n == sizeof exec_errno) {
      waitpid(child_, nullptr, 0);
      child_ = -1;
      close(p[0]);
      return ErrnoStatus("probe " + c_.name + ": run " + argv[0], exec_errno);
    }
    fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
    fd_ = p[0];
    return Status::Ok();
  }

  // Opens path if it exists. At start (unless from_start) reading begins at the
  // end, like tail; a file that appears or replaces the old one is read whole.
  void OpenFile(bool at_start) {
    fd_ = open(c_.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) return;
    if (at_start && !c_.from_start) lseek(fd_, 0, SEEK_END);
    struct stat st;
    fstat(fd_, &st);
    ino_ = st.st_ino;
    dev_ = st.st_dev;
  }

  // Reads what fd_ has now (at most max_bytes); returns false at EOF of a pipe or
  // on error.
  bool ReadAvailable(size_t max_bytes = SIZE_MAX) {
    char buf[65536];
    for (size_t total = 0; total < max_bytes;) {
      ssize_t n = read(fd_, buf, std::min(sizeof buf, max_bytes - total));
      if (n > 0) {
        Consume(buf, size_t(n));
        total += size_t(n);
        continue;
      }
      if (n == 0) return child_ <= 0;  // a file's end: more may come
      if (errno == EINTR) continue;
      return errno == EAGAIN;
    }
    return true;
  }

  void Consume(const char* data, size_t n) {
    int64_t now = MonoNs();
    while (n > 0) {
      const char* nl = static_cast<const char*>(memchr(data, '\n', n));
      size_t len = nl ? size_t(nl - data) : n;
      partial_.append(data, std::min(len, kMaxLineBytes - std::min(kMaxLineBytes, partial_.size())));
      if (!nl) break;
      queue_.Push({now, std::move(partial_)});
      partial_.clear();
      data = nl + 1;
      n -= len + 1;
    }
  }

  void FlushPartial() {
    if (!partial_.empty()) queue_.Push({MonoNs(), std::move(partial_)});
    partial_.clear();
  }

  // The matcher thread: rules, journald fields and times, drop reports.
  void MatchLines() {
    uint64_t pending = 0;
    int64_t first_drop_ns = 0, last_report_ns = 0;
    bool closed = false;
    while (true) {
      int64_t deadline = drain_deadline_ns_.load();
      if (deadline && MonoNs() > deadline) queue_.Clear();
      int64_t first = 0;
      if (uint64_t n = queue_.TakeDropped(&first)) {
        if (!pending) first_drop_ns = first;
        pending += n;
      }
      if (pending && (closed || MonoNs() - last_report_ns >= kOverflowReportNs)) {
        ReportDropped(pending, first_drop_ns);
        pending = 0;
        last_report_ns = MonoNs();
      }
      if (closed) break;
      QueuedLine line;
      switch (queue_.Pop(&line, 100 * kNsPerMs)) {
        case LineQueue::PopResult::kLine:
          Line(std::move(line));
          break;
        case LineQueue::PopResult::kTimeout:
          break;
        case LineQueue::PopResult::kClosed:
          closed = true;
          break;
      }
    }
    if (end_event_) Emit(end_event_->mono_ns, end_event_->kind, end_event_->severity, end_event_->message,
                         std::move(end_event_->attrs));
  }

  void ReportDropped(uint64_t n, int64_t first_drop_ns) {
    Emit(first_drop_ns, "probe_overflow", Severity::kWarning,
         "probe " + c_.name + " fell behind: dropped the " + std::to_string(n) + " oldest line(s)",
         {{"lines_dropped", n}, {"queue_lines", queue_.capacity()}});
  }

  void Line(QueuedLine queued) {
    std::string& line = queued.text;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    int64_t t_ns = queued.mono_ns;
    std::string text = line;
    nlohmann::json attrs = {{"line", line}};
    std::optional<LineTime> t;
    if (auto rec = ParseJournaldRecord(line)) {
      // A journald record is matched on its MESSAGE; the JSON is not kept.
      text = rec->message;
      attrs["line"] = text;
      for (const char* f : kJournaldFields) {
        if (rec->fields.contains(f)) attrs[f] = rec->fields[f];
      }
      t = rec->time;
    } else if (c_.line_times) {
      t = ParseLineTime(line, anchor_.ToUtc(t_ns) + clock_offset_ns_, &text);
    }
    if (c_.line_times && t) StampFromLine(*t, &t_ns, &attrs);
    for (size_t i = 0; i < c_.rules.size(); ++i) {
      std::smatch m;
      if (!std::regex_search(text, m, c_.rules[i].re)) continue;
      nlohmann::json caps = nlohmann::json::array();
      for (size_t g = 1; g < m.size(); ++g) caps.push_back(m[g].str());
      attrs["captures"] = caps;
      attrs["rule"] = int(i);
      AddRuleFields(c_.rules[i], m, &attrs);
      Emit(t_ns, c_.rules[i].kind, c_.rules[i].severity,
           c_.rules[i].message.empty() ? text : ExpandMessage(c_.rules[i].message, m, text), std::move(attrs));
      return;
    }
    if (!c_.keep_unmatched) return;
    Emit(t_ns, "log", Severity::kDebug, text, std::move(attrs));
  }

  // Places the event at the line's own time, corrected by the source host's
  // measured clock offset. A stamp of coarse resolution that the arrival falls
  // within keeps the (finer) arrival time; a line time that still differs from
  // arrival by more than the threshold is recorded as attrs.clock_offset_ms.
  void StampFromLine(const LineTime& t, int64_t* mono_ns, nlohmann::json* attrs) {
    int64_t arrival_utc = anchor_.ToUtc(*mono_ns);
    int64_t line_utc = t.utc_ns - clock_offset_ns_;
    (*attrs)["source_time"] = FormatUtcIso(t.utc_ns, 6);
    (*attrs)["time_format"] = t.format;
    if (clock_offset_ns_) (*attrs)["clock_correction_ms"] = double(-clock_offset_ns_) / double(kNsPerMs);
    bool within = arrival_utc >= line_utc && arrival_utc < line_utc + t.resolution_ns;
    if (!within) *mono_ns = anchor_.ToMono(line_utc);
    int64_t offset_ns = arrival_utc - line_utc;
    if (offset_ns > c_.clock_threshold_ns || offset_ns < -c_.clock_threshold_ns) {
      (*attrs)["clock_offset_ms"] = double(offset_ns) / double(kNsPerMs);
    }
  }

  void FollowFile() {
    while (true) {
      if (fd_ < 0) OpenFile(/*at_start=*/false);
      if (fd_ >= 0) {
        ReadAvailable();
        struct stat now, cur;
        bool replaced = stat(c_.path.c_str(), &now) != 0 || now.st_ino != ino_ || now.st_dev != dev_;
        if (replaced) {
          // Rotated (renamed or removed): finish the old file, then take the new one.
          ReadAvailable();
          FlushPartial();
          close(fd_);
          fd_ = -1;
          continue;
        }
        off_t pos = lseek(fd_, 0, SEEK_CUR);
        if (fstat(fd_, &cur) == 0 && cur.st_size < pos) {
          // Truncated in place: start over at its beginning.
          FlushPartial();
          lseek(fd_, 0, SEEK_SET);
          continue;
        }
      }
      if (WaitStop(c_.poll_ns)) break;
    }
    if (fd_ >= 0) ReadAvailable();
    FlushPartial();
    queue_.Close();
  }

  void FollowCommand() {
    while (true) {
      pollfd p[2] = {{stop_fd(), POLLIN, 0}, {fd_, POLLIN, 0}};
      if (poll(p, 2, -1) < 0 && errno != EINTR) break;
      if (p[0].revents) {
        // Stopped: what the command had written is read (one pipe's worth at
        // most), so it is matched or counted as dropped, never silently lost.
        ReadAvailable(kStopReadBytes);
        break;
      }
      if (p[1].revents && !ReadAvailable()) {
        FlushPartial();
        int status = 0;
        waitpid(child_, &status, 0);
        child_ = -1;
        Event e;
        e.mono_ns = MonoNs();
        e.kind = "probe_error";
        e.severity = Severity::kWarning;
        std::string how = WIFEXITED(status) ? "exit " + std::to_string(WEXITSTATUS(status))
                                            : "signal " + std::to_string(WTERMSIG(status));
        if (target_.remote() && WIFEXITED(status) && WEXITSTATUS(status) == 255)
          how += ": the ssh session failed";
        e.message = "probe " + c_.name + ": " +
                    (c_.source == Source::kCommand ? "command `" + c_.command + "`" : what_) + " ended (" +
                    how + ")";
        e.attrs = {
            {"exit", WIFEXITED(status) ? nlohmann::json(WEXITSTATUS(status)) : nlohmann::json(nullptr)}};
        end_event_ = std::move(e);  // after the lines still queued (Close() orders it)
        break;
      }
    }
    queue_.Close();
  }

  LogConfig c_;
  CommandTarget target_;
  LineQueue queue_;
  std::string what_;             // the follow command, for messages
  int64_t clock_offset_ns_ = 0;  // the source host's clock minus ours
  ClockAnchor anchor_;
  int fd_ = -1, stdin_w_ = -1;
  pid_t child_ = -1;
  ino_t ino_ = 0;
  dev_t dev_ = 0;
  std::string partial_;
  std::optional<Event> end_event_;
  std::atomic<int64_t> drain_deadline_ns_{0};
  std::thread reader_;  // the probe's own thread (ProbeBase) is the matcher
};

}  // namespace

std::unique_ptr<Probe> NewLogProbe(const std::string& name, Settings* s) {
  LogConfig c;
  c.name = name;
  c.path = s->String("path");
  c.command = s->String("command");
  c.unit = s->String("unit");
  bool journal = s->Bool("journal", false);
  if (journal && !c.unit.empty())
    s->Problem("journal", "journal: true follows the whole journal; drop it or \"unit\"");
  int sources = int(!c.path.empty()) + int(!c.command.empty()) + int(!c.unit.empty() || journal);
  if (sources != 1)
    s->Problem("", "needs exactly one of \"path\", \"command\", \"unit\" or \"journal: true\"");
  c.source = !c.command.empty()             ? Source::kCommand
             : (!c.unit.empty() || journal) ? Source::kJournal
                                            : Source::kFile;
  c.from_start = s->Bool("from_start", false);
  if (c.from_start && c.source == Source::kJournal) s->Problem("from_start", "applies to \"path\" only");
  c.poll_ns = s->DurationNs("poll_interval", 100 * kNsPerMs);
  if (c.poll_ns < kNsPerMs) s->Problem("poll_interval", "must be at least 1ms");
  std::string unmatched = s->String("unmatched", false, "log");
  if (unmatched != "log" && unmatched != "drop") s->Problem("unmatched", "must be \"log\" or \"drop\"");
  c.keep_unmatched = unmatched == "log";
  std::string queue = s->String("queue_lines", false, "10000");
  if (queue.empty() || queue.size() > 9 || queue.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(queue) < 1) {
    s->Problem("queue_lines", "must be a number of lines, at least 1");
  } else {
    c.queue_lines = std::stoul(queue);
  }
  CommandTarget target = CommandTarget::FromSettings(name, s);
  if (!target.remote() && c.source == Source::kFile && s->Has("netns")) {
    s->Problem("netns", "applies to a command or the journal (a local file is read directly)");
  }
  c.rules = ParseLogRules(s);
  std::string timestamps = s->String("timestamps", false, "line");
  if (timestamps != "line" && timestamps != "arrival")
    s->Problem("timestamps", "must be \"line\" or \"arrival\"");
  c.line_times = timestamps == "line";
  c.clock_threshold_ns = s->DurationNs("clock_threshold", 2 * kNsPerSec);
  return std::make_unique<LogProbe>(std::move(c), std::move(target));
}

}  // namespace fb
