// AgentSession: private to the agent's .cpp files (agent_server.h is the public
// side), split by concern:
//   agent_server.cpp  the entry points (RunAgent, RunAgentBoot, the stop
//                     requests) and the protocol session: reading requests,
//                     sending replies, each message type, attaching to a run,
//                     streaming records.jsonl to the controller
//   agent_resume.cpp  the run directory's state on disk (run.json,
//                     agent_state.json) and --boot: resuming a run whose agent
//                     process died, or marking it ended
//   agent_load.cpp    the load this process runs: a controller's start, the load
//                     thread, and the record thread that turns the journal (and
//                     the ack log) into records.jsonl
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "agent/agent_server.h"
#include "agent/disk_check.h"
#include "agent/record_log.h"
#include "agent/run_state.h"
#include "core/clock.h"
#include "core/journal.h"
#include "core/jsonl_writer.h"
#include "loadgen/journal_sink.h"
#include "loadgen/load_generator.h"

namespace fb {

// The load this process runs (for the signal handlers), set while it runs.
extern std::atomic<LoadGenerator*> g_generator;
extern std::atomic<bool> g_shutdown;  // SIGTERM: stop, but leave the run for --boot

std::string HostName();

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

// Calls back when the load's clock starts (the held start's `going`).
class StartNoticeSink : public LoadSink {
 public:
  explicit StartNoticeSink(std::function<void(int64_t start_mono_ns)> fn) : fn_(std::move(fn)) {}
  void OnStart(const LoadStartInfo& info) override { fn_(info.start_ns); }

 private:
  std::function<void(int64_t)> fn_;
};

class AgentSession {
 public:
  AgentSession(int in_fd, int out_fd, AgentOptions options);

  // --boot for one run: continues it as a new segment, or marks it ended when
  // its planned end has passed. Returns when the resumed load has ended.
  int Boot(const std::string& run_dir);

  int Run();

 private:
  // agent_server.cpp: the protocol session.
  bool ReadLine(std::string* line);
  bool Send(const nlohmann::json& msg);
  void SendError(const std::string& message) { Send({{"type", "error"}, {"message", message}}); }
  void Handle(const std::string& line);
  bool Attach(const std::string& id);
  static int ReadOwnerPid(const std::string& dir);
  void StartStreamer(uint64_t from_seq);
  void StopStreamer();
  // Sends records.jsonl from `from_seq` on, following it until "finished".
  void StreamMain(uint64_t from_seq);

  // agent_resume.cpp: the run directory's state.
  // run.json of the run directory: the journal's own for segment 0, else merged
  // into the file the first segment wrote.
  void UpdateRunInfo(const nlohmann::json& patch);
  void SaveState();
  // The records the dead owner left: the last seq, the newest record time, and
  // whether the run already finished.
  struct LogTail {
    int64_t records = 0;
    int64_t last_t_utc_ns = 0;
    bool finished = false;
    std::string finished_status;
  };
  static LogTail ReadLogTail(const std::string& path);
  Status Resume(const std::string& dir);

  // agent_load.cpp: the load and its record thread.
  void StartLoad(std::unique_ptr<LoadGenerator> gen);
  void Start(const nlohmann::json& m);
  // `go` of a held start: the load's clock starts at at_utc_ns (this agent's clock).
  void Go(const nlohmann::json& m);
  // A held start waits here for `go`; false when none came (the controller
  // left, a stop, kHoldTimeoutNs): the load then ends before its first I/O.
  bool AwaitGo();
  void LoadMain();
  // Turns the journal's new lines into records (samples, then stalls, then
  // events, per pass), until the load is done.
  void RecordMain();
  // The acknowledgements written since the last pass, as `acks` records of at
  // most kAcksPerRecord each: {"segment", "load_start_utc_ns", "acks":[[offset,
  // generation, ack_utc_ns (this agent's clock)], ...]}.
  void StreamAcks();

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
  bool load_done_ = false;     // guarded by wake_mu_
  bool held_ = false;          // guarded by wake_mu_: a held start waits for `go`
  int64_t go_mono_ns_ = 0;     // guarded by wake_mu_: `go`'s time, 0 before it
  bool go_cancelled_ = false;  // guarded by wake_mu_: a `stop` before `go`
  static constexpr int64_t kHoldTimeoutNs = 120 * kNsPerSec;
  std::unique_ptr<StartNoticeSink> start_notice_;
  bool shutdown_ = false;          // guarded by wake_mu_: the load ended by SIGTERM, resumable
  std::atomic<bool> quit_{false};  // the shutdown is recorded (or a session refused): stop reading
  bool authenticated_ = false;     // options_.token set: the hello carried it
  nlohmann::json finished_body_;
};

}  // namespace fb
