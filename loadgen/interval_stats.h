// What a job measures: per-interval counters and histograms (filled by the job
// thread, read by the sampler through an SpscRing), stall records and rare job
// events. Plain fixed-size structs: nothing here allocates after construction.
#pragma once

#include <array>
#include <cstdint>

#include "loadgen/histogram.h"
#include "loadgen/workload.h"

namespace fb {

// errno values below this are counted one by one; the rest (and short I/Os,
// counted as EIO) share the last slot.
constexpr int kErrnoSlots = 134;

struct OpCounters {
  uint64_t ios = 0;  // successful completions
  uint64_t bytes = 0;
  uint64_t errors = 0;
  Histogram latency;  // successful completions only

  void Merge(const OpCounters& o) {
    ios += o.ios;
    bytes += o.bytes;
    errors += o.errors;
    latency.Merge(o.latency);
  }
  void Reset() {
    ios = bytes = errors = 0;
    latency.Reset();
  }
};

struct IntervalStats {
  int64_t index = 0;     // interval number from load start
  int64_t start_ns = 0;  // MonoNs at the interval's start and end
  int64_t end_ns = 0;
  // MonoNs of the first and last successful completion inside the interval
  // (start_ns <= first <= last <= end_ns, except in an interval that absorbed
  // the next while the sampler was behind); 0 when none completed.
  int64_t first_completion_ns = 0;
  int64_t last_completion_ns = 0;
  bool ramp = false;   // inside the warm-up
  bool drain = false;  // after the runtime, while in-flight I/O drained
  std::array<OpCounters, kOpCount> op;
  std::array<std::array<uint32_t, kErrnoSlots>, kOpCount> errors_by_errno{};
  uint32_t inflight = 0;               // at the interval's end
  int64_t oldest_inflight_age_ns = 0;  // at the interval's end; 0 when none
  uint64_t missed_ios = 0;             // rate-limited runs: scheduled I/Os skipped after a stall
  bool stall_active = false;           // a stall was going on at the interval's end
  // Verification: blocks read back and checked, and findings by kind
  // (index: BlockVerdict; kOk and kNotOurs are not findings).
  uint64_t verified_blocks = 0;
  std::array<uint64_t, 6> integrity{};

  void Merge(const IntervalStats& o);
  void ResetCounters();
};

struct StallRecord {
  int job = 0;
  int64_t start_ns = 0;  // last completion (or first submission) before the gap
  int64_t end_ns = 0;    // the completion that ended it; 0 if still open at the end
  uint32_t inflight = 0;
  int64_t oldest_age_ns = 0;  // age of the oldest I/O in flight when it ended
  // Completions between the end of the job's previous stall (the batch that
  // ended it included) and this one's start: a handful is a trickle inside one
  // freeze (reports/ merges such stalls into one episode).
  uint64_t completions_before = 0;
};

struct JobEvent {
  enum class Type : uint8_t { kStuckIo, kMaxErrors, kFirstError, kIntegrity, kVerifyPass };
  Type type = Type::kStuckIo;
  int job = 0;
  int64_t t_ns = 0;
  OpType op = OpType::kRead;
  uint64_t offset = 0;
  uint32_t length = 0;
  int64_t age_ns = 0;
  int err = 0;
  uint32_t count = 0;
  // kIntegrity: what a read found in one verify block at `offset`.
  uint8_t verdict = 0;      // BlockVerdict
  bool final_pass = false;  // found by the read-back after the run
  uint32_t acked_generation = 0;
  uint32_t found_generation = 0;
  uint64_t found_offset = 0;
  int64_t acked_ns = 0;  // MonoNs when the lost generation was acknowledged (0: unknown)
  int64_t found_write_utc_ns = 0;
};

// One acknowledged write of one verify block, for the ack log.
struct AckRecord {
  uint64_t offset;
  uint32_t generation;
  uint32_t ack_ms;  // since load start
};

}  // namespace fb
