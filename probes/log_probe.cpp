#include "probes/log_probe.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <regex>
#include <thread>

#include "core/clock.h"
#include "probes/line_time.h"
#include "probes/rule_packs.h"

namespace fb {

namespace {

constexpr size_t kMaxLineBytes = 64 * 1024;

using Rule = LogRule;

Result<Severity> ParseSeverity(const std::string& s) {
  if (s == "debug") return Severity::kDebug;
  if (s == "info") return Severity::kInfo;
  if (s == "warning") return Severity::kWarning;
  if (s == "error") return Severity::kError;
  if (s == "critical") return Severity::kCritical;
  return Status::InvalidInput("unknown severity \"" + s + "\" (debug, info, warning, error, critical)");
}

std::string Expand(const std::string& tmpl, const std::smatch& m, const std::string& line) {
  std::string out;
  for (size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] == '$' && tmpl.compare(i, 5, "$line") == 0) {
      out += line;
      i += 4;
    } else if (tmpl[i] == '$' && i + 1 < tmpl.size() && tmpl[i + 1] >= '0' && tmpl[i + 1] <= '9') {
      size_t g = size_t(tmpl[i + 1] - '0');
      if (g < m.size()) out += m[g].str();
      ++i;
    } else {
      out += tmpl[i];
    }
  }
  return out;
}

class LogProbe : public Probe {
 public:
  LogProbe(std::string name, std::string path, std::string command, bool from_start, int64_t poll_ns,
           bool keep_unmatched, std::vector<Rule> rules, bool line_times, int64_t clock_threshold_ns)
      : name_(std::move(name)),
        path_(std::move(path)),
        command_(std::move(command)),
        from_start_(from_start),
        poll_ns_(poll_ns),
        keep_unmatched_(keep_unmatched),
        rules_(std::move(rules)),
        line_times_(line_times),
        clock_threshold_ns_(clock_threshold_ns) {}
  ~LogProbe() override { Stop(); }

  Status Start(EventSink* sink) override {
    sink_ = sink;
    anchor_ = ClockAnchor::Take();
    stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (stop_fd_ < 0) return ErrnoStatus("probe " + name_ + ": eventfd", errno);
    if (!command_.empty()) {
      FB_RETURN_IF_ERROR(Spawn());
    } else {
      OpenFile(/*at_start=*/true);
    }
    thread_ = std::thread([this] { command_.empty() ? FollowFile() : FollowCommand(); });
    return Status::Ok();
  }

  void Stop() override {
    if (stop_fd_ < 0) return;
    uint64_t one = 1;
    (void)!write(stop_fd_, &one, sizeof one);
    if (thread_.joinable()) thread_.join();
    if (child_ > 0) {
      kill(-child_, SIGTERM);
      for (int i = 0; i < 50 && waitpid(child_, nullptr, WNOHANG) == 0; ++i) usleep(10'000);
      if (kill(child_, 0) == 0) {
        kill(-child_, SIGKILL);
        waitpid(child_, nullptr, 0);
      }
      child_ = -1;
    }
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    close(stop_fd_);
    stop_fd_ = -1;
  }

 private:
  Status Spawn() {
    int p[2], exec_pipe[2];
    if (pipe2(p, O_CLOEXEC) != 0) return ErrnoStatus("probe " + name_ + ": pipe", errno);
    // Closed by a successful exec: Spawn returns only once the child runs the shell,
    // so Stop() never signals a half-made child that still has our handlers.
    if (pipe2(exec_pipe, O_CLOEXEC) != 0) return ErrnoStatus("probe " + name_ + ": pipe", errno);
    child_ = fork();
    if (child_ < 0) return ErrnoStatus("probe " + name_ + ": fork", errno);
    if (child_ == 0) {
      setpgid(0, 0);
      dup2(p[1], 1);
      dup2(p[1], 2);
      int null = open("/dev/null", O_RDONLY);
      if (null >= 0) dup2(null, 0);
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      signal(SIGPIPE, SIG_DFL);
      execl("/bin/sh", "sh", "-c", command_.c_str(), (char*)nullptr);
      int e = errno;
      (void)!write(exec_pipe[1], &e, sizeof e);
      _exit(127);
    }
    setpgid(child_, child_);
    close(p[1]);
    close(exec_pipe[1]);
    int exec_errno = 0;
    ssize_t n;
    while ((n = read(exec_pipe[0], &exec_errno, sizeof exec_errno)) < 0 && errno == EINTR) {
    }
    close(exec_pipe[0]);
    if (n == sizeof exec_errno) {
      waitpid(child_, nullptr, 0);
      child_ = -1;
      close(p[0]);
      return ErrnoStatus("probe " + name_ + ": run /bin/sh", exec_errno);
    }
    fd_ = p[0];
    return Status::Ok();
  }

  // Opens path_ if it exists. At start (unless from_start) reading begins at the
  // end, like tail; a file that appears or replaces the old one is read whole.
  void OpenFile(bool at_start) {
    fd_ = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) return;
    if (at_start && !from_start_) lseek(fd_, 0, SEEK_END);
    struct stat st;
    fstat(fd_, &st);
    ino_ = st.st_ino;
    dev_ = st.st_dev;
  }

  // Reads what fd_ has now; returns false at EOF of a pipe or on error.
  bool ReadAvailable() {
    char buf[65536];
    while (true) {
      ssize_t n = read(fd_, buf, sizeof buf);
      if (n > 0) {
        Consume(buf, size_t(n));
        if (size_t(n) < sizeof buf) return true;
        continue;
      }
      if (n == 0) return false;
      if (errno == EINTR) continue;
      return errno == EAGAIN;
    }
  }

  void Consume(const char* data, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      if (data[i] == '\n') {
        Line(partial_);
        partial_.clear();
      } else if (partial_.size() < kMaxLineBytes) {
        partial_ += data[i];
      }
    }
  }

  void FlushPartial() {
    if (!partial_.empty()) Line(partial_);
    partial_.clear();
  }

  void Line(std::string line) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    Event e;
    e.mono_ns = MonoNs();
    e.source = name_;
    std::string text = line;  // a journald JSON line is matched on its MESSAGE
    nlohmann::json attrs = {{"line", line}};
    if (line_times_) {
      if (auto t = ParseLineTime(line, anchor_.ToUtc(e.mono_ns), &text)) StampFromLine(*t, &e, &attrs);
    }
    for (size_t i = 0; i < rules_.size(); ++i) {
      std::smatch m;
      if (!std::regex_search(text, m, rules_[i].re)) continue;
      e.kind = rules_[i].kind;
      e.severity = rules_[i].severity;
      e.message = rules_[i].message.empty() ? text : Expand(rules_[i].message, m, text);
      nlohmann::json caps = nlohmann::json::array();
      for (size_t g = 1; g < m.size(); ++g) caps.push_back(m[g].str());
      attrs["captures"] = caps;
      attrs["rule"] = int(i);
      AddRuleFields(rules_[i], m, &attrs);
      e.attrs = std::move(attrs);
      sink_->Emit(std::move(e));
      return;
    }
    if (!keep_unmatched_) return;
    e.kind = "log";
    e.severity = Severity::kDebug;
    e.message = text;
    e.attrs = std::move(attrs);
    sink_->Emit(std::move(e));
  }

  // Places the event at the line's own time. A stamp of coarse resolution that the
  // arrival falls within keeps the (finer) arrival time; a source that differs from
  // arrival by more than the threshold is recorded as attrs.clock_offset_ms.
  void StampFromLine(const LineTime& t, Event* e, nlohmann::json* attrs) {
    int64_t arrival_utc = anchor_.ToUtc(e->mono_ns);
    (*attrs)["source_time"] = FormatUtcIso(t.utc_ns, 6);
    (*attrs)["time_format"] = t.format;
    bool within = arrival_utc >= t.utc_ns && arrival_utc < t.utc_ns + t.resolution_ns;
    if (!within) e->mono_ns = anchor_.ToMono(t.utc_ns);
    int64_t offset_ns = arrival_utc - t.utc_ns;
    if (offset_ns > clock_threshold_ns_ || offset_ns < -clock_threshold_ns_) {
      (*attrs)["clock_offset_ms"] = double(offset_ns) / double(kNsPerMs);
    }
  }

  // Returns true when asked to stop.
  bool WaitStop(int64_t ns) {
    pollfd p{stop_fd_, POLLIN, 0};
    return poll(&p, 1, int(ns / kNsPerMs)) > 0;
  }

  void FollowFile() {
    while (true) {
      if (fd_ < 0) OpenFile(/*at_start=*/false);
      if (fd_ >= 0) {
        ReadAvailable();
        struct stat now, cur;
        bool replaced = stat(path_.c_str(), &now) != 0 || now.st_ino != ino_ || now.st_dev != dev_;
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
      if (WaitStop(poll_ns_)) break;
    }
    if (fd_ >= 0) ReadAvailable();
    FlushPartial();
  }

  void FollowCommand() {
    while (true) {
      pollfd p[2] = {{stop_fd_, POLLIN, 0}, {fd_, POLLIN, 0}};
      if (poll(p, 2, -1) < 0 && errno != EINTR) break;
      if (p[0].revents) break;
      if (p[1].revents && !ReadAvailable()) {
        FlushPartial();
        int status = 0;
        waitpid(child_, &status, 0);
        child_ = -1;
        Event e;
        e.mono_ns = MonoNs();
        e.source = name_;
        e.kind = "probe_error";
        e.severity = Severity::kWarning;
        e.message = "probe " + name_ + ": command `" + command_ + "` ended (" +
                    (WIFEXITED(status) ? "exit " + std::to_string(WEXITSTATUS(status))
                                       : "signal " + std::to_string(WTERMSIG(status))) +
                    ")";
        sink_->Emit(std::move(e));
        break;
      }
    }
  }

  std::string name_, path_, command_;
  bool from_start_;
  int64_t poll_ns_;
  bool keep_unmatched_;
  std::vector<Rule> rules_;
  bool line_times_;
  int64_t clock_threshold_ns_;
  ClockAnchor anchor_;
  EventSink* sink_ = nullptr;
  int stop_fd_ = -1, fd_ = -1;
  pid_t child_ = -1;
  ino_t ino_ = 0;
  dev_t dev_ = 0;
  std::string partial_;
  std::thread thread_;
};

}  // namespace

std::unique_ptr<Probe> NewLogProbe(const std::string& name, Settings* s) {
  std::string path = s->String("path");
  std::string command = s->String("command");
  if (path.empty() == command.empty()) s->Problem("", "needs exactly one of \"path\" or \"command\"");
  bool from_start = s->Bool("from_start", false);
  int64_t poll_ns = s->DurationNs("poll_interval", 100 * kNsPerMs);
  if (poll_ns < kNsPerMs) s->Problem("poll_interval", "must be at least 1ms");
  std::string unmatched = s->String("unmatched", false, "log");
  if (unmatched != "log" && unmatched != "drop") s->Problem("unmatched", "must be \"log\" or \"drop\"");
  std::vector<Rule> rules;
  if (const nlohmann::json* list = s->List("rules")) {
    for (size_t i = 0; i < list->size(); ++i) {
      const nlohmann::json& r = (*list)[i];
      std::string key = "rules[" + std::to_string(i) + "]";
      if (r.is_string()) {
        auto pack = RulePack(r.get<std::string>());
        if (!pack.ok())
          s->Problem(key, pack.status().message());
        else
          for (LogRule& pr : *pack) rules.push_back(std::move(pr));
        continue;
      }
      if (!r.is_object()) {
        s->Problem(key, "a rule must be a pack name or a map {match, kind, severity, message}");
        continue;
      }
      Rule rule;
      for (const auto& [k, v] : r.items()) {
        if (!v.is_string()) {
          s->Problem(key + "." + k, "must be a single value");
          continue;
        }
        std::string text = v.get<std::string>();
        if (k == "match")
          rule.pattern = text;
        else if (k == "kind")
          rule.kind = text;
        else if (k == "message")
          rule.message = text;
        else if (k == "severity") {
          auto sev = ParseSeverity(text);
          if (sev.ok())
            rule.severity = *sev;
          else
            s->Problem(key + ".severity", sev.status().message());
        } else {
          s->Problem(key + "." + k, "unknown rule key \"" + k + "\"" +
                                        DidYouMean(k, {"match", "kind", "severity", "message"}));
        }
      }
      if (rule.pattern.empty()) {
        s->Problem(key, "a rule needs \"match\"");
        continue;
      }
      if (rule.kind.empty()) rule.kind = "log";
      try {
        rule.re = std::regex(rule.pattern, std::regex::ECMAScript);
      } catch (const std::regex_error& e) {
        s->Problem(key + ".match", "invalid regular expression \"" + rule.pattern + "\": " + e.what());
        continue;
      }
      rules.push_back(std::move(rule));
    }
  }
  std::string timestamps = s->String("timestamps", false, "line");
  if (timestamps != "line" && timestamps != "arrival")
    s->Problem("timestamps", "must be \"line\" or \"arrival\"");
  int64_t threshold_ns = s->DurationNs("clock_threshold", 2 * kNsPerSec);
  return std::make_unique<LogProbe>(name, path, command, from_start, poll_ns, unmatched == "log",
                                    std::move(rules), timestamps == "line", threshold_ns);
}

}  // namespace fb
