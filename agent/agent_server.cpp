#include "agent/agent_server.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "agent/agent_token.h"
#include "agent/disk_check.h"
#include "agent/protocol.h"
#include "agent/record_log.h"
#include "agent/run_state.h"
#include "agent/workload_json.h"
#include "core/clock.h"
#include "core/journal.h"
#include "loadgen/journal_sink.h"
#include "loadgen/load_generator.h"
#include "loadgen/verify.h"

namespace fb {

namespace {

std::atomic<LoadGenerator*> g_generator{nullptr};
std::atomic<bool> g_shutdown{false};  // SIGTERM: stop, but leave the run for --boot

std::string HostName() {
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  return host;
}

// Wakes the record thread when the load has something new.
class WakeSink : public LoadSink {
 public:
  explicit WakeSink(std::condition_variable* cv) : cv_(cv) {}
  void OnStart(const LoadStartInfo& info) override { start_mono_ns.store(info.start_ns); }
  void OnInterval(const IntervalReport&) override { cv_->notify_all(); }
  void OnStall(const StallRecord&) override { cv_->notify_all(); }
  void OnEvent(const Event&) override { cv_->notify_all(); }

  std::atomic<int64_t> start_mono_ns{0};  // the load's start (ack_ms counts from here), 0 until it starts

 private:
  std::condition_variable* cv_;
};

// Finds the run directory `id` names: an exact directory name, else the newest
// "<id>-<utc>" one.
std::string FindRun(const std::string& state_dir, const std::string& id) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (id.empty() || id.find('/') != std::string::npos) return "";
  if (fs::is_directory(state_dir + "/" + id, ec)) return state_dir + "/" + id;
  std::string best;
  for (const auto& e : fs::directory_iterator(state_dir, ec)) {
    std::string name = e.path().filename().string();
    if (name.rfind(SanitizeName(id) + "-", 0) == 0 && name > best) best = name;
  }
  return best.empty() ? "" : state_dir + "/" + best;
}

class AgentSession {
 public:
  AgentSession(int in_fd, int out_fd, AgentOptions options)
      : in_fd_(in_fd), out_fd_(out_fd), options_(std::move(options)) {
    if (out_fd_ < 0) connected_ = false;  // --boot: nobody to talk to
    // Writes must never block for good: a controller that stops reading (or a
    // replay larger than the pipe while nobody reads) would hold this session's
    // threads, and so its exit, forever. Send waits in slices instead.
    if (out_fd_ >= 0) fcntl(out_fd_, F_SETFL, fcntl(out_fd_, F_GETFL) | O_NONBLOCK);
  }

  // --boot for one run: continues it as a new segment, or marks it ended when
  // its planned end has passed. Returns when the resumed load has ended.
  int Boot(const std::string& run_dir) {
    Status s = Resume(run_dir);
    if (!s.ok()) {
      fprintf(stderr, "faultbench: agent: %s: %s\n", run_dir.c_str(), s.message().c_str());
      return s.exit_code();
    }
    if (load_thread_.joinable()) load_thread_.join();
    if (record_thread_.joinable()) record_thread_.join();
    journal_.Close();
    return kExitOk;
  }

  int Run() {
    if (!options_.attach.empty() && !Attach(options_.attach)) {
      fprintf(stderr, "faultbench: agent: no run \"%s\" in %s\n", options_.attach.c_str(),
              options_.state_dir.c_str());
      return kExitUsage;
    }
    std::string line;
    while (ReadLine(&line)) Handle(line);
    if (!quit_) closing_ = true;  // the controller is gone: nothing more is sent
    if (quit_) {
      // A shutdown: the streamer sends what is left, then ends by itself.
      if (streamer_.joinable()) streamer_.join();
    }
    StopStreamer();
    if (check_thread_.joinable()) check_thread_.join();
    if (load_thread_.joinable()) load_thread_.join();
    if (record_thread_.joinable()) record_thread_.join();
    journal_.Close();
    return kExitOk;
  }

 private:
  bool ReadLine(std::string* line) {
    for (;;) {
      size_t nl = in_buf_.find('\n');
      if (nl != std::string::npos) {
        *line = in_buf_.substr(0, nl);
        in_buf_.erase(0, nl + 1);
        return true;
      }
      if (quit_ || (g_shutdown && !gen_)) return false;
      pollfd pfd{in_fd_, POLLIN, 0};
      int rc = poll(&pfd, 1, 100);
      if (rc <= 0) continue;  // timeout or EINTR: look at quit_ again
      char buf[4096];
      ssize_t n = ::read(in_fd_, buf, sizeof buf);
      if (n < 0 && (errno == EINTR || errno == EAGAIN))
        continue;  // EAGAIN: in and out share a nonblocking socket
      if (n <= 0) return false;
      in_buf_.append(buf, size_t(n));
    }
  }

  bool Send(const nlohmann::json& msg) {
    std::string text = msg.dump() + "\n";
    std::lock_guard<std::mutex> lock(out_mu_);
    if (!connected_) return false;
    int64_t blocked_since = 0;
    for (size_t off = 0; off < text.size();) {
      ssize_t n = ::write(out_fd_, text.data() + off, text.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) {
        // Full: wait, unless the session is ending or the controller has not
        // read anything for kSendStallNs (then it is as good as gone).
        int64_t now = MonoNs();
        if (!blocked_since) blocked_since = now;
        if (closing_ || now - blocked_since > kSendStallNs) {
          connected_ = false;
          return false;
        }
        pollfd pfd{out_fd_, POLLOUT, 0};
        (void)poll(&pfd, 1, 100);
        continue;
      }
      if (n <= 0) {
        connected_ = false;  // the controller is gone; the load goes on
        return false;
      }
      blocked_since = 0;
      off += size_t(n);
    }
    return true;
  }
  void SendError(const std::string& message) { Send({{"type", "error"}, {"message", message}}); }

  void Handle(const std::string& line) {
    nlohmann::json m = nlohmann::json::parse(line, nullptr, false);
    if (!options_.token.empty() && !authenticated_) {
      // Nothing of the line is echoed: it may hold a (wrong) token.
      bool ok = m.is_object() && m.value("type", nlohmann::json()) == "hello" && m.contains("token") &&
                m["token"].is_string() &&
                AgentTokensEqual(m["token"].get_ref<const std::string&>(), options_.token);
      if (!ok) {
        SendError(m.is_object() && m.value("type", nlohmann::json()) == "hello"
                      ? "hello: token missing or wrong (the agent's --token-file)"
                      : "the first message must be hello with the token (the agent's --token-file)");
        in_buf_.clear();
        quit_ = true;  // ends the session: nothing was started
        return;
      }
      authenticated_ = true;
    }
    if (m.is_discarded() || !m.is_object() || !m.contains("type") || !m["type"].is_string()) {
      return SendError("not a JSON object with a \"type\": " + line.substr(0, 200));
    }
    std::string type = m["type"];
    if (type == "hello") {
      if (m.value("protocol", 0) != kAgentProtocolVersion) {
        return SendError("protocol " + m.value("protocol", nlohmann::json(nullptr)).dump() +
                         " not spoken (this agent: " + std::to_string(kAgentProtocolVersion) + ")");
      }
      if (m.contains("attach") && m["attach"].is_string() && run_dir_.empty() && !Attach(m["attach"])) {
        return SendError("no run \"" + m["attach"].get<std::string>() + "\" in " + options_.state_dir);
      }
      Send({{"type", "hello"},
            {"protocol", kAgentProtocolVersion},
            {"pid", int(getpid())},
            {"host", HostName()},
            {"state_dir", options_.state_dir},
            {"run_id", run_dir_.empty() ? nlohmann::json(nullptr) : nlohmann::json(run_id_)},
            {"run_dir", run_dir_.empty() ? nlohmann::json(nullptr) : nlohmann::json(run_dir_)}});
    } else if (type == "time") {
      int64_t now = UtcNs();
      Send({{"type", "time"},
            {"controller_utc_ns", m.value("controller_utc_ns", int64_t(0))},
            {"agent_utc_ns", now}});
    } else if (type == "start") {
      Start(m);
    } else if (type == "resume") {
      if (run_dir_.empty()) return SendError("resume: no run (start one, or attach)");
      if (!m.contains("from_seq") || !m["from_seq"].is_number_unsigned())
        return SendError("resume: from_seq missing");
      StartStreamer(m["from_seq"].get<uint64_t>());
    } else if (type == "stop") {
      if (run_dir_.empty()) return SendError("stop: no run");
      if (gen_) {
        gen_->RequestStop();
      } else {
        // Another agent process runs this load: its record thread sees the file.
        int fd = ::open((run_dir_ + "/stop").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0) ::close(fd);
      }
    } else if (type == "check") {
      if (run_dir_.empty()) return SendError("check: no run");
      if (check_thread_.joinable()) check_thread_.join();
      check_thread_ = std::thread([this, m] { Send(CheckAckedBlocks(run_dir_, m)); });
    } else {
      SendError("unknown message type \"" + type + "\"");
    }
  }

  bool Attach(const std::string& id) {
    std::string dir = FindRun(options_.state_dir, id);
    if (dir.empty()) return false;
    run_dir_ = dir;
    run_id_ = std::filesystem::path(dir).filename().string();
    owner_pid_ = ReadOwnerPid(dir);
    return true;
  }

  static int ReadOwnerPid(const std::string& dir) {
    auto info = ReadFile(dir + "/run.json");
    if (!info.ok()) return 0;
    auto j = nlohmann::json::parse(*info, nullptr, false);
    return j.is_object() ? j.value("agent_pid", 0) : 0;
  }

  // run.json of the run directory: the journal's own for segment 0, else merged
  // into the file the first segment wrote.
  void UpdateRunInfo(const nlohmann::json& patch) {
    Status s = segment_ == 0 ? journal_.UpdateRunInfo(patch) : MergeJsonFile(run_dir_ + "/run.json", patch);
    if (!s.ok()) fprintf(stderr, "faultbench: agent: %s\n", s.message().c_str());
  }

  void SaveState() {
    Status s = SaveRunState(run_dir_, state_);
    if (!s.ok()) fprintf(stderr, "faultbench: agent: %s\n", s.message().c_str());
  }

  // The records the dead owner left: the last seq, the newest record time, and
  // whether the run already finished.
  struct LogTail {
    int64_t records = 0;
    int64_t last_t_utc_ns = 0;
    bool finished = false;
    std::string finished_status;
  };
  static LogTail ReadLogTail(const std::string& path) {
    LogTail t;
    FileTail tail(path);
    std::vector<std::string> lines;
    if (!tail.ReadLines(&lines).ok()) return t;
    t.records = int64_t(lines.size());
    for (const auto& l : lines) {
      auto r = nlohmann::json::parse(l, nullptr, false);
      if (r.is_discarded() || !r.is_object()) continue;
      if (r.value("stream", "") == "finished") {
        t.finished = true;
        if (r.contains("body") && r["body"].is_object()) t.finished_status = r["body"].value("status", "");
      }
      if (r.contains("body") && r["body"].is_object() && r["body"].contains("t_utc_ns") &&
          r["body"]["t_utc_ns"].is_number_integer())
        t.last_t_utc_ns = std::max(t.last_t_utc_ns, r["body"]["t_utc_ns"].get<int64_t>());
    }
    return t;
  }

  Status Resume(const std::string& dir) {
    FB_RETURN_IF_ERROR(lock_.TryLock(dir));
    auto st = LoadRunState(dir);
    if (!st.ok()) return st.status();
    if (st->status != "running") return Status::Ok();  // ended while we looked
    state_ = *st;
    run_dir_ = dir;
    run_id_ = st->run_id;
    std::string log = dir + "/" + kRecordLogFile;
    FB_RETURN_IF_ERROR(TruncatePartialLine(log));
    LogTail tail = ReadLogTail(log);
    int64_t now = UtcNs();
    segment_ = state_.segment + 1;
    if (tail.finished || state_.planned_end_utc_ns <= now) {
      // Too late to continue (or the dead owner wrote `finished` but not the
      // state): the run ended when its owner died.
      state_.status = tail.finished && !tail.finished_status.empty() ? tail.finished_status : "interrupted";
      if (!tail.finished) {
        FB_RETURN_IF_ERROR(records_.Open(dir));
        nlohmann::json body = {{"status", "interrupted"},
                               {"summary", nlohmann::json::object()},
                               {"reason", "the agent process " + std::to_string(state_.owner_pid) +
                                              " died and the planned end passed before a restart"},
                               {"last_record_utc_ns", tail.last_t_utc_ns},
                               {"planned_end_utc_ns", state_.planned_end_utc_ns}};
        auto r = records_.Append("finished", body);
        if (!r.ok()) return r.status();
        records_.Close();
      }
      SaveState();
      if (tail.finished) return Status::Ok();  // only the state file lagged behind
      UpdateRunInfo({{"status", "interrupted"}, {"end_utc", FormatUtcIso(now)}});
      fprintf(stderr, "faultbench: agent: run %s ended (planned end %s passed), marked interrupted\n",
              run_id_.c_str(), FormatUtcIso(state_.planned_end_utc_ns).c_str());
      return Status::Ok();
    }
    auto w = WorkloadFromJson(state_.workload_json);
    if (!w.ok()) return Status::InvalidInput("workload_json: " + w.status().message());
    w->duration_ns = state_.planned_end_utc_ns - now;
    if (w->verify) {
      w->verify_run_id = state_.verify_run_id;
      // Above every generation the dead process can have stamped.
      w->verify_generation_base = uint32_t(std::min(segment_, 255)) << 24;
      if (w->ack_log.empty()) {
        w->ack_log = dir + "/acks-segment" + std::to_string(segment_) + ".bin";
        ack_tail_.Open(w->ack_log);
      }
    }
    auto gen = std::make_unique<LoadGenerator>(*w);
    FB_RETURN_IF_ERROR(gen->Prepare());
    // The segment's own journal keeps the run's timeline: t_rel_s counts from
    // the run's first start, not from this segment's.
    ClockAnchor anchor = ClockAnchor::Take();
    int64_t run_start_utc = 0;
    if (auto info = ReadFile(dir + "/run.json"); info.ok()) {
      auto j = nlohmann::json::parse(*info, nullptr, false);
      if (j.is_object() && j.contains("anchor")) run_start_utc = j["anchor"].value("utc_ns", int64_t(0));
    }
    if (run_start_utc > 0 && run_start_utc < anchor.utc_ns) {
      anchor.mono_ns -= anchor.utc_ns - run_start_utc;
      anchor.utc_ns = run_start_utc;
    }
    FB_RETURN_IF_ERROR(journal_.Create(dir + "/segments", "segment" + std::to_string(segment_), anchor));
    FB_RETURN_IF_ERROR(records_.Open(dir));
    const char* files[3] = {"samples.jsonl", "stalls.jsonl", "events.jsonl"};
    for (int i = 0; i < 3; ++i) FB_RETURN_IF_ERROR(mirrors_[i].Open(dir + "/" + files[i]));
    state_.segment = segment_;
    state_.owner_pid = int(getpid());
    state_.next_seq = records_.next_seq();
    FB_RETURN_IF_ERROR(SaveRunState(dir, state_));
    owner_pid_ = int(getpid());
    UpdateRunInfo({{"agent_pid", owner_pid_}, {"segments", segment_ + 1}});
    journal_.UpdateRunInfo({{"command", "agent --boot"}, {"run_dir", dir}, {"segment", segment_}});
    Event e;
    e.mono_ns = MonoNs();
    e.source = "agent";
    e.kind = "agent_restarted";
    e.severity = Severity::kWarning;
    // The gap: from the dead process's newest record to this event.
    int64_t event_utc = journal_.anchor().ToUtc(e.mono_ns);
    double gap_ms = tail.last_t_utc_ns > 0 ? double(event_utc - tail.last_t_utc_ns) / 1e6 : -1;
    e.message = "agent restarted: resuming run " + run_id_ + " for " +
                std::to_string(w->duration_ns / kNsPerMs) + " ms more";
    e.attrs = {{"dead_pid", st->owner_pid},
               {"segment", segment_},
               {"first_seq", state_.next_seq},
               {"last_record_utc_ns", tail.last_t_utc_ns},
               {"gap_ms", gap_ms},
               {"remaining_ms", double(w->duration_ns) / 1e6},
               {"planned_end_utc_ns", state_.planned_end_utc_ns}};
    FB_RETURN_IF_ERROR(journal_.AppendEvent(e));
    StartLoad(std::move(gen));
    return Status::Ok();
  }

  void StartLoad(std::unique_ptr<LoadGenerator> gen) {
    gen_ = std::move(gen);
    journal_sink_ = std::make_unique<JournalSink>(&journal_);
    wake_sink_ = std::make_unique<WakeSink>(&wake_cv_);
    gen_->AddSink(journal_sink_.get());
    gen_->AddSink(wake_sink_.get());
    g_generator = gen_.get();
    load_thread_ = std::thread([this] { LoadMain(); });
    record_thread_ = std::thread([this] { RecordMain(); });
  }

  void Start(const nlohmann::json& m) {
    if (!run_dir_.empty()) return SendError("start: this agent already has run " + run_id_);
    std::string name = m.value("run_id", std::string("agent"));
    if (!m.contains("workload")) return SendError("start: workload missing");
    auto w = WorkloadFromJson(m["workload"]);
    if (!w.ok()) return SendError("start: " + w.status().message());
    ClockAnchor anchor = ClockAnchor::Take();
    if (w->verify) w->verify_run_id = VerifyRunId(SanitizeName(name) + "-" + FormatUtcCompact(anchor.utc_ns));
    // With verify, the acknowledgements go into the run directory (acks.bin)
    // and stream to the controller as records; the load opens the file before
    // the directory exists, so it starts under a temporary name.
    std::string staged_acks;
    if (w->verify && w->ack_log.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(options_.state_dir, ec);
      staged_acks = options_.state_dir + "/.acks-" + std::to_string(getpid()) + ".bin";
      w->ack_log = staged_acks;
    }
    auto gen = std::make_unique<LoadGenerator>(*w);
    Status s = gen->Prepare();
    if (!s.ok()) {
      if (!staged_acks.empty()) ::unlink(staged_acks.c_str());
      return SendError("start: " + s.message());
    }
    s = journal_.Create(options_.state_dir, name, anchor);
    if (!s.ok()) return SendError("start: cannot create the run journal: " + s.message());
    if (!staged_acks.empty()) {
      std::string acks = journal_.dir() + "/acks.bin";
      if (::rename(staged_acks.c_str(), acks.c_str()) != 0) {
        return SendError("start: " + ErrnoStatus("rename " + staged_acks + " to " + acks, errno).message());
      }
      ack_tail_.Open(acks);
    }
    s = lock_.TryLock(journal_.dir());
    if (!s.ok()) return SendError("start: " + s.message());
    s = records_.Open(journal_.dir());
    if (!s.ok()) return SendError("start: " + s.message());
    journal_.UpdateRunInfo({{"command", "agent"},
                            {"name", name},
                            {"host", HostName()},
                            {"agent_pid", int(getpid())},
                            {"workload_json", m["workload"]},
                            {"faultbench_version", "0.1.0"}});
    run_dir_ = journal_.dir();
    run_id_ = journal_.run_id();
    owner_pid_ = int(getpid());
    // What --boot needs to continue the run if this process dies.
    state_.run_id = run_id_;
    state_.name = name;
    state_.workload_json = m["workload"];
    state_.verify_run_id = w->verify_run_id;
    state_.planned_end_utc_ns = UtcNs() + w->duration_ns;
    state_.owner_pid = owner_pid_;
    s = SaveRunState(run_dir_, state_);
    if (!s.ok()) fprintf(stderr, "faultbench: agent: %s\n", s.message().c_str());
    StartLoad(std::move(gen));
    Send({{"type", "started"}, {"run_id", run_id_}, {"run_dir", run_dir_}});
    StartStreamer(0);
  }

  void LoadMain() {
    Status s = gen_->Run();
    g_generator = nullptr;
    const LoadSummary& sum = gen_->summary();
    std::string status = !s.ok() ? "failed" : sum.stop_reason == "runtime" ? "completed" : sum.stop_reason;
    const bool shutdown = g_shutdown.load() && s.ok() && sum.stop_reason == "interrupted";
    if (shutdown) {
      // An orderly shutdown of the VM (SIGTERM from systemd): the run is not
      // over; `--boot` continues it when the VM is up again.
      status = "shutdown";
      Event e;
      e.mono_ns = MonoNs();
      e.source = "agent";
      e.kind = "agent_shutdown";
      e.severity = Severity::kWarning;
      e.message = "agent shut down (SIGTERM): run " + run_id_ + " stays open until " +
                  FormatUtcIso(state_.planned_end_utc_ns) + " for agent --boot to continue";
      e.attrs = {{"segment", segment_}, {"planned_end_utc_ns", state_.planned_end_utc_ns}};
      (void)journal_.AppendEvent(e);
    }
    UpdateRunInfo({{"status", status}, {"end_utc", FormatUtcIso(UtcNs())}});
    if (segment_ > 0) journal_.UpdateRunInfo({{"status", status}});
    nlohmann::json body = {{"status", status}, {"summary", SummaryToJson(sum)}};
    if (segment_ > 0) body["segment"] = segment_;  // the summary covers this segment only
    if (!s.ok()) body["error"] = s.message();
    if (!journal_sink_->status().ok()) body["journal_error"] = journal_sink_->status().message();
    {
      std::lock_guard<std::mutex> lock(wake_mu_);
      finished_body_ = body;
      shutdown_ = shutdown;
      load_done_ = true;
    }
    wake_cv_.notify_all();
  }

  // Turns the journal's new lines into records (samples, then stalls, then
  // events, per pass), until the load is done.
  void RecordMain() {
    FileTail tails[3] = {FileTail(journal_.PathOf("samples.jsonl")),
                         FileTail(journal_.PathOf("stalls.jsonl")),
                         FileTail(journal_.PathOf("events.jsonl"))};
    const char* streams[3] = {"samples", "stalls", "events"};
    bool stop_seen = false;
    for (;;) {
      bool done;
      {
        std::unique_lock<std::mutex> lock(wake_mu_);
        wake_cv_.wait_for(lock, std::chrono::milliseconds(50));
        done = load_done_;
      }
      for (int i = 0; i < 3; ++i) {
        std::vector<std::string> lines;
        Status s = tails[i].ReadLines(&lines);
        if (!s.ok()) fprintf(stderr, "faultbench: agent: %s\n", s.message().c_str());
        for (const auto& l : lines) {
          auto body = nlohmann::json::parse(l, nullptr, false);
          if (body.is_discarded()) continue;
          if (mirrors_[i].is_open()) {  // a later segment: the run directory's journal gets it too
            Status m = mirrors_[i].Append(body);
            if (!m.ok()) fprintf(stderr, "faultbench: agent: %s\n", m.message().c_str());
          }
          auto r = records_.Append(streams[i], std::move(body));
          if (!r.ok()) fprintf(stderr, "faultbench: agent: %s\n", r.status().message().c_str());
        }
      }
      if (ack_tail_.is_open()) StreamAcks();
      if (!stop_seen && access((run_dir_ + "/stop").c_str(), F_OK) == 0) {
        stop_seen = true;
        gen_->RequestStop();
      }
      if (done && shutdown_) {
        records_.Close();
        for (auto& m : mirrors_) m.Close();
        state_.next_seq = records_.next_seq();  // status stays "running"
        SaveState();
        lock_.Release();
        quit_ = true;
        return;
      }
      if (done) {
        auto r = records_.Append("finished", finished_body_);
        if (!r.ok()) fprintf(stderr, "faultbench: agent: %s\n", r.status().message().c_str());
        records_.Close();
        for (auto& m : mirrors_) m.Close();
        state_.status = finished_body_.value("status", std::string("failed"));
        state_.next_seq = records_.next_seq();
        SaveState();
        lock_.Release();
        return;
      }
    }
  }

  // The acknowledgements written since the last pass, as `acks` records of at
  // most kAcksPerRecord each: {"segment", "load_start_utc_ns", "acks":[[offset,
  // generation, ack_utc_ns (this agent's clock)], ...]}.
  void StreamAcks() {
    static constexpr size_t kAcksPerRecord = 2000;
    nlohmann::json raw = nlohmann::json::array();
    Status s = ack_tail_.Read(&raw);
    if (!s.ok()) fprintf(stderr, "faultbench: agent: %s\n", s.message().c_str());
    int64_t start_mono = wake_sink_ ? wake_sink_->start_mono_ns.load() : 0;
    int64_t start_utc = start_mono ? journal_.anchor().ToUtc(start_mono) : 0;
    for (size_t i = 0; i < raw.size(); i += kAcksPerRecord) {
      nlohmann::json acks = nlohmann::json::array();
      for (size_t k = i; k < std::min(raw.size(), i + kAcksPerRecord); ++k) {
        acks.push_back({raw[k][0], raw[k][1], start_utc + raw[k][2].get<int64_t>() * kNsPerMs});
      }
      nlohmann::json body = {
          {"segment", segment_}, {"load_start_utc_ns", start_utc}, {"acks", std::move(acks)}};
      auto r = records_.Append("acks", std::move(body));
      if (!r.ok()) fprintf(stderr, "faultbench: agent: %s\n", r.status().message().c_str());
    }
  }

  void StartStreamer(uint64_t from_seq) {
    StopStreamer();
    streamer_stop_ = false;
    streamer_ = std::thread([this, from_seq] { StreamMain(from_seq); });
  }
  void StopStreamer() {
    streamer_stop_ = true;
    if (streamer_.joinable()) streamer_.join();
  }

  // Sends records.jsonl from `from_seq` on, following it until "finished".
  void StreamMain(uint64_t from_seq) {
    FileTail tail(run_dir_ + "/" + kRecordLogFile);
    int idle_rounds = 0;
    while (!streamer_stop_ && connected_) {
      std::vector<std::string> lines;
      Status s = tail.ReadLines(&lines);
      if (!s.ok()) return SendError(s.message());
      for (const auto& l : lines) {
        auto r = nlohmann::json::parse(l, nullptr, false);
        if (r.is_discarded() || r.value("seq", uint64_t(0)) < from_seq) continue;
        if (r["stream"] == "finished") {
          nlohmann::json msg = r["body"];
          msg["type"] = "finished";
          msg["seq"] = r["seq"];
          Send(msg);
          return;
        }
        r["type"] = "record";
        if (!Send(r)) return;
      }
      if (lines.empty() && quit_) return;  // shut down and everything sent
      idle_rounds = lines.empty() ? idle_rounds + 1 : 0;
      // A run whose agent process died without finishing will never finish.
      // (A run `--boot` resumed has a new owner: run.json names it.)
      if (idle_rounds > 40 && owner_pid_ > 0 && owner_pid_ != getpid() && kill(owner_pid_, 0) != 0 &&
          errno == ESRCH && (owner_pid_ = ReadOwnerPid(run_dir_), kill(owner_pid_, 0) != 0)) {
        return SendError("the agent process " + std::to_string(owner_pid_) + " that ran " + run_id_ +
                         " is gone and the run did not finish");
      }
      std::unique_lock<std::mutex> lock(wake_mu_);
      wake_cv_.wait_for(lock, std::chrono::milliseconds(20));
    }
  }

  int in_fd_, out_fd_;
  AgentOptions options_;
  std::string in_buf_;
  std::mutex out_mu_;
  std::atomic<bool> connected_{true};  // false once a write to the controller failed
  std::atomic<bool> closing_{false};   // the controller closed its side: Send gives up at once
  static constexpr int64_t kSendStallNs = 30 * kNsPerSec;

  std::string run_dir_, run_id_;
  int owner_pid_ = 0;
  Journal journal_;  // the run directory's (segment 0), else the segment's under <run_dir>/segments
  RecordLogWriter records_;
  JsonlWriter mirrors_[3];  // segment > 0: the run directory's samples, stalls, events
  OwnerLock lock_;
  AgentRunState state_;
  int segment_ = 0;
  std::unique_ptr<LoadGenerator> gen_;
  std::unique_ptr<JournalSink> journal_sink_;
  std::unique_ptr<WakeSink> wake_sink_;
  AckTail ack_tail_;  // open when this process's load writes its own ack log
  std::thread load_thread_, record_thread_, streamer_, check_thread_;
  std::atomic<bool> streamer_stop_{false};
  std::mutex wake_mu_;
  std::condition_variable wake_cv_;
  bool load_done_ = false;         // guarded by wake_mu_
  bool shutdown_ = false;          // guarded by wake_mu_: the load ended by SIGTERM, resumable
  std::atomic<bool> quit_{false};  // the shutdown is recorded (or a session refused): stop reading
  bool authenticated_ = false;     // options_.token set: the hello carried it
  nlohmann::json finished_body_;
};

}  // namespace

int RunAgent(int in_fd, int out_fd, const AgentOptions& options) {
  AgentSession session(in_fd, out_fd, options);
  return session.Run();
}

int RunAgentBoot(const AgentOptions& options) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<std::string> dirs;
  for (const auto& e : fs::directory_iterator(options.state_dir, ec)) {
    if (e.is_directory(ec) && fs::exists(e.path() / kAgentStateFile, ec)) dirs.push_back(e.path().string());
  }
  std::sort(dirs.begin(), dirs.end());
  // Runs nobody owns: those past their planned end are marked ended here; the
  // newest one still due is resumed (one load per agent process).
  std::string resume;
  for (const auto& dir : dirs) {
    auto st = LoadRunState(dir);
    if (!st.ok()) {
      fprintf(stderr, "faultbench: agent: %s\n", st.status().message().c_str());
      continue;
    }
    if (st->status != "running") continue;
    OwnerLock probe;
    Status s = probe.TryLock(dir);
    if (!s.ok()) {
      if (s.code() != Status::Code::kUnavailable)
        fprintf(stderr, "faultbench: agent: %s\n", s.message().c_str());
      continue;  // a live process runs it
    }
    probe.Release();
    if (st->planned_end_utc_ns <= UtcNs()) {
      AgentSession(-1, -1, options).Boot(dir);
    } else {
      if (!resume.empty())
        fprintf(stderr, "faultbench: agent: %s not resumed: a newer run is due\n", resume.c_str());
      resume = dir;
    }
  }
  if (resume.empty()) {
    fprintf(stderr, "faultbench: agent: no run to resume in %s\n", options.state_dir.c_str());
    return kExitOk;
  }
  fprintf(stderr, "faultbench: agent: resuming %s\n", resume.c_str());
  AgentSession session(-1, -1, options);
  return session.Boot(resume);
}

void AgentRequestStop() {
  LoadGenerator* g = g_generator.load();
  if (g) g->RequestStop();
}

void AgentRequestShutdown() {
  g_shutdown.store(true);
  AgentRequestStop();
}

}  // namespace fb
