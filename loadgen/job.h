// One job: one thread, one engine instance, `queue_depth` I/O slots. The job
// thread issues, reaps and measures; it publishes closed intervals, stalls and
// rare events through SPSC rings that the sampler drains. The loop allocates
// nothing and takes no lock.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "loadgen/access_pattern.h"
#include "loadgen/engine.h"
#include "loadgen/interval_stats.h"
#include "loadgen/spsc_ring.h"
#include "loadgen/verify.h"
#include "loadgen/workload.h"

namespace fb {

// Shared by all jobs of one load and by whoever stops it.
struct LoadControl {
  std::atomic<bool> stop{false};       // finish: stop issuing, drain in-flight I/O
  std::atomic<bool> abandon{false};    // stop waiting for in-flight I/O
  std::atomic<uint64_t> errors{0};
  uint64_t max_errors = 0;
};

class Job {
 public:
  Job(int index, const Workload& w, const TargetInfo& target, std::unique_ptr<Engine> engine, LoadControl* control);
  ~Job();

  // Allocates slots and buffers and opens the engine. Off the hot path.
  Status Open();
  // The thread body: runs from `start_ns` (MonoNs) for the workload's duration,
  // then drains for at most `drain_timeout_ns`.
  void Run(int64_t start_ns, int64_t drain_timeout_ns);

  int index() const { return index_; }
  bool finished() const { return finished_.load(std::memory_order_acquire); }
  SpscRing<IntervalStats>& intervals() { return intervals_; }
  SpscRing<StallRecord>& stalls() { return stalls_; }
  SpscRing<JobEvent>& events() { return events_; }
  SpscRing<AckRecord>& acks() { return acks_; }
  uint64_t acks_dropped() const { return acks_dropped_; }
  // With verify, after Run(): the job's verification state (read-only then).
  const VerifyMap* verify_map() const { return verify_.get(); }
  // I/Os still in flight when the job gave up draining.
  uint32_t abandoned() const { return abandoned_; }

  // Live view for other threads (relaxed atomics, updated at wake-ups).
  uint32_t live_inflight() const { return live_inflight_.load(std::memory_order_relaxed); }
  int64_t live_stall_since_ns() const { return live_stall_since_.load(std::memory_order_relaxed); }
  // Submission time of the oldest I/O in flight (0: none), refreshed every 50 ms.
  int64_t live_oldest_submit_ns() const { return live_oldest_submit_.load(std::memory_order_relaxed); }
  // When live_oldest_submit_ns was last taken.
  int64_t live_scan_ns() const { return live_scan_ns_.load(std::memory_order_relaxed); }

 private:
  void Issue(int64_t now);
  void Complete(Io* io, int64_t t);
  void RollIntervals(int64_t t);
  void CloseInterval(int64_t boundary);
  void CheckStall(int64_t now);
  int64_t OldestSubmit() const;
  void PushEvent(const JobEvent& e);
  void PrepareWrite(Io* io);
  void UnstampWrite(Io* io);
  void VerifyCompletion(const Io* io, int64_t t, bool final_pass);
  void FinalVerifyPass(int64_t deadline_ns);

  const int index_;
  const Workload& w_;
  const TargetInfo& target_;
  std::unique_ptr<Engine> engine_;
  LoadControl* control_;
  AccessPattern pattern_;

  std::vector<Io> ios_;
  std::vector<uint8_t> inflight_flag_;
  std::vector<uint32_t> free_slots_;
  std::vector<Io*> reaped_;
  uint8_t* buffers_ = nullptr;  // per slot: read buffer, then write buffer
  uint8_t* dedupe_buffer_ = nullptr;
  size_t slot_bytes_ = 0;
  uint32_t stamp_bytes_per_4k_ = 4096;  // the incompressible part of each 4 KiB

  SpscRing<IntervalStats> intervals_;
  SpscRing<StallRecord> stalls_;
  SpscRing<JobEvent> events_;
  SpscRing<AckRecord> acks_;
  std::atomic<uint64_t> acks_dropped_{0};
  std::unique_ptr<VerifyMap> verify_;
  bool final_pass_ = false;
  IntervalStats* cur_ = nullptr;

  int64_t start_ns_ = 0, end_ns_ = 0, ramp_end_ns_ = 0;
  int64_t next_boundary_ns_ = 0;
  int64_t interval_index_ = 0;
  bool stopping_ = false;
  uint32_t inflight_ = 0;
  int64_t last_progress_ns_ = 0;
  int64_t stall_start_ns_ = 0;     // 0 when no stall is on
  uint64_t completions_since_stall_ = 0;  // since the last recorded stall ended (StallRecord)
  bool stuck_reported_ = false;
  int64_t next_watch_ns_ = 0;
  int64_t period_ns_ = 0;          // rate-limited: ns between I/Os of this job
  int64_t next_sched_ns_ = 0;
  uint64_t missed_ = 0;
  bool first_error_reported_ = false;
  uint32_t abandoned_ = 0;
  uint64_t write_counter_ = 0;

  std::atomic<bool> finished_{false};
  std::atomic<uint32_t> live_inflight_{0};
  std::atomic<int64_t> live_stall_since_{0};
  std::atomic<int64_t> live_oldest_submit_{0};
  std::atomic<int64_t> live_scan_ns_{0};
};

}  // namespace fb
