// Where a load's measurements go: the journal, the terminal, metrics. Sinks are
// called on the sampler thread only, never on a job thread, in time order.
#pragma once

#include <string>
#include <vector>

#include "core/event.h"
#include "loadgen/engine.h"
#include "loadgen/interval_stats.h"

namespace fb {

struct LoadStartInfo {
  const Workload* workload = nullptr;
  const TargetInfo* target = nullptr;
  int64_t start_ns = 0;  // MonoNs of load start (interval 0 begins here)
};

// One closed interval: `total` merges all jobs (histograms merged, not averaged).
struct IntervalReport {
  const IntervalStats* total = nullptr;
  std::vector<const IntervalStats*> jobs;  // index = job number
};

struct LoadSummary {
  int64_t start_ns = 0, end_ns = 0;        // the measured window (after ramp)
  double measured_s = 0;
  std::array<OpCounters, kOpCount> op;     // measured window only
  std::array<std::array<uint64_t, kErrnoSlots>, kOpCount> errors_by_errno{};
  uint64_t errors_total = 0;               // the whole run, ramp included
  uint64_t missed_ios = 0;
  uint64_t stalls = 0;
  int64_t longest_stall_ns = 0;
  int64_t total_stall_ns = 0;
  uint32_t abandoned_ios = 0;              // still in flight when the load gave up
  std::string stop_reason;                 // "runtime", "interrupted", "max-errors"
  // Verification (when the workload verifies).
  bool verify = false;
  uint64_t blocks_written = 0;             // distinct verify blocks written at least once
  uint64_t verified_blocks = 0;            // blocks of this run read back and checked (run + final pass)
  std::array<uint64_t, 6> integrity{};     // findings by BlockVerdict
  bool final_pass_complete = false;        // every written block was read back after the run
  uint64_t acks_dropped = 0;               // acknowledgements the ack log could not take
  uint64_t IntegrityFindings() const;
};

class LoadSink {
 public:
  virtual ~LoadSink() = default;
  virtual void OnStart(const LoadStartInfo&) {}
  virtual void OnInterval(const IntervalReport&) {}
  virtual void OnStall(const StallRecord&) {}
  virtual void OnEvent(const Event&) {}
  virtual void OnFinish(const LoadSummary&) {}
};

}  // namespace fb
