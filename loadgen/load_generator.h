// Runs a workload: probes the target, starts one thread per job, and a sampler
// thread that merges the jobs' intervals and feeds the sinks.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "loadgen/ack_log.h"
#include "loadgen/engine.h"
#include "loadgen/job.h"
#include "loadgen/load_sink.h"

namespace fb {

class LoadGenerator {
 public:
  explicit LoadGenerator(Workload w);
  ~LoadGenerator();

  // Validates the workload against the target and opens every job's engine.
  // Errors here happen before any I/O (InvalidInput = bad input, exit 2).
  Status Prepare();
  void AddSink(LoadSink* sink) { sinks_.push_back(sink); }

  // Runs the load to its end; blocks. Sinks get every record before it returns.
  Status Run();
  // The load's clock starts at `mono_ns` (its first I/O), not right away: a
  // fleet of loads started together. A time less than 5 ms ahead when Run()
  // begins is too late to meet: the load then starts as without it.
  void SetStartAt(int64_t mono_ns) { start_at_ns_ = mono_ns; }
  // Thread- and async-signal-safe: finish now (first call) or stop waiting for
  // in-flight I/O (second call).
  void RequestStop();

  const Workload& workload() const { return w_; }
  const TargetInfo& target() const { return target_; }
  const LoadSummary& summary() const { return summary_; }
  // Live view: I/Os in flight and whether a stall is on, across jobs.
  uint32_t LiveInflight() const;
  int64_t LiveStallSinceNs() const;
  // Age of the oldest I/O in flight at `now_ns`, 0 when none. Taken every 50 ms
  // per job; during a stall it grows with `now_ns`.
  int64_t LiveOldestAgeNs(int64_t now_ns) const;

 private:
  void Sample();
  bool DrainJobRings();
  void EmitEvent(const Event& e);
  void Summarize(const IntervalStats& s);

  Workload w_;
  TargetInfo target_;
  LoadControl control_;
  std::vector<std::unique_ptr<Job>> jobs_;
  std::vector<LoadSink*> sinks_;
  std::atomic<int> stop_requests_{0};
  int64_t start_ns_ = 0;
  int64_t start_at_ns_ = 0;  // SetStartAt
  LoadSummary summary_;
  IntervalStats merged_;
  AckLogWriter ack_log_;
  int64_t ack_synced_ns_ = 0;
  int final_passes_complete_ = 0;
  bool ack_failed_ = false;
  std::mutex engine_events_mu_;
  std::vector<Event> engine_events_;  // from engines (rare), drained by the sampler
};

}  // namespace fb
