// The load an agent process runs (AgentSession, agent_server_impl.h): a
// controller's `start` (run journal, acks.bin, owner.lock, agent_state.json),
// the load thread, and the record thread that turns the journal's new lines
// and the ack log into records.jsonl and writes the run's end.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "agent/agent_server_impl.h"
#include "agent/workload_json.h"
#include "loadgen/verify.h"

namespace fb {

void AgentSession::StartLoad(std::unique_ptr<LoadGenerator> gen) {
  gen_ = std::move(gen);
  journal_sink_ = std::make_unique<JournalSink>(&journal_);
  wake_sink_ = std::make_unique<WakeSink>(&wake_cv_);
  gen_->AddSink(journal_sink_.get());
  gen_->AddSink(wake_sink_.get());
  if (held_) {
    start_notice_ = std::make_unique<StartNoticeSink>([this](int64_t start_mono_ns) {
      {
        std::lock_guard<std::mutex> lock(wake_mu_);
        if (!go_mono_ns_) return;  // no go came: the load ends unstarted
      }
      Send({{"type", "going"}, {"load_start_utc_ns", journal_.anchor().ToUtc(start_mono_ns)}});
    });
    gen_->AddSink(start_notice_.get());
  }
  g_generator = gen_.get();
  load_thread_ = std::thread([this] { LoadMain(); });
  record_thread_ = std::thread([this] { RecordMain(); });
}

void AgentSession::Start(const nlohmann::json& m) {
  if (!run_dir_.empty()) return SendError("start: this agent already has run " + run_id_);
  std::string name = m.value("run_id", std::string("agent"));
  if (!m.contains("workload")) return SendError("start: workload missing");
  if (m.contains("hold") && !m["hold"].is_boolean()) return SendError("start: hold must be true or false");
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
  {
    std::lock_guard<std::mutex> lock(wake_mu_);
    held_ = m.value("hold", false);
  }
  StartLoad(std::move(gen));
  Send({{"type", "started"}, {"run_id", run_id_}, {"run_dir", run_dir_}, {"held", held_}});
  StartStreamer(0);
}

void AgentSession::Go(const nlohmann::json& m) {
  if (!m.contains("at_utc_ns") || !m["at_utc_ns"].is_number_integer())
    return SendError("go: at_utc_ns missing");
  const int64_t at = m["at_utc_ns"].get<int64_t>();
  {
    std::lock_guard<std::mutex> lock(wake_mu_);
    if (!held_ || go_mono_ns_ || go_cancelled_) {
      Send({{"type", "error"}, {"message", "go: no held start waits for it"}});
      return;
    }
    // Through the journal's clock anchor, as `going` converts back: a go in
    // time gets its own `at` back exactly.
    go_mono_ns_ = std::max<int64_t>(1, journal_.anchor().ToMono(at));
  }
  wake_cv_.notify_all();
  // --boot continues the run until its planned end: the duration from the go
  // (written while the load thread waits for its time).
  state_.planned_end_utc_ns = at + gen_->workload().duration_ns;
  if (Status s = SaveRunState(run_dir_, state_); !s.ok())
    fprintf(stderr, "faultbench: agent: %s\n", s.message().c_str());
}

bool AgentSession::AwaitGo() {
  std::unique_lock<std::mutex> lock(wake_mu_);
  const int64_t give_up = MonoNs() + kHoldTimeoutNs;
  while (!go_mono_ns_ && !go_cancelled_ && !closing_ && !quit_ && !g_shutdown && MonoNs() < give_up) {
    wake_cv_.wait_for(lock, std::chrono::milliseconds(100));
  }
  if (go_mono_ns_) {
    gen_->SetStartAt(go_mono_ns_);
    return true;
  }
  std::string why = go_cancelled_ ? "a stop came first"
                    : closing_    ? "the controller left"
                    : MonoNs() >= give_up
                        ? "none came within " + std::to_string(kHoldTimeoutNs / kNsPerSec) + " s"
                        : "the agent is shutting down";
  lock.unlock();
  Event e;
  e.mono_ns = MonoNs();
  e.source = "agent";
  e.kind = "load_not_started";
  e.severity = Severity::kWarning;
  e.message = "the held load never got its go (" + why + "): it ends before its first I/O";
  e.attrs = {{"why", why}};
  (void)journal_.AppendEvent(e);
  gen_->RequestStop();
  return false;
}

void AgentSession::LoadMain() {
  bool held;
  {
    std::lock_guard<std::mutex> lock(wake_mu_);
    held = held_;
  }
  if (held) (void)AwaitGo();
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

void AgentSession::RecordMain() {
  FileTail tails[3] = {FileTail(journal_.PathOf("samples.jsonl")), FileTail(journal_.PathOf("stalls.jsonl")),
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

void AgentSession::StreamAcks() {
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

}  // namespace fb
