// The workload model: one description that the command line and the plan loader
// both fill, validated once (Validate) before any I/O.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace fb {

enum class OpType : uint8_t { kRead = 0, kWrite = 1 };
constexpr int kOpCount = 2;
inline const char* OpName(OpType op) { return op == OpType::kRead ? "read" : "write"; }

// One IOmeter access specification: a share of the I/Os with its own shape.
struct AccessSpec {
  double weight = 1;             // relative share of I/Os
  uint32_t block_size = 4096;    // bytes per I/O
  double read_fraction = 1.0;    // 0..1
  double random_fraction = 1.0;  // 0..1; the rest is sequential
  uint32_t alignment = 0;        // offsets are multiples of this; 0 = block_size
};

// Path handling of the libiscsi engine, like a host's multipath. Defaults follow
// a host: open-iscsi's 5 s NOP timeout, multipathd's 5 s polling interval, and
// XCP-ng's no_path_retry 0 (fail, no queueing).
enum class PathPolicy : uint8_t { kRoundRobin, kFailover };
struct IscsiOptions {
  PathPolicy path_policy = PathPolicy::kRoundRobin;  // round-robin per I/O, or all on the first active path
  int64_t io_timeout_ns = 5'000'000'000;        // an I/O this long on a path fails the path and is retried elsewhere
  int64_t checker_interval_ns = 5'000'000'000;  // TEST UNIT READY per path; also caps the reconnect backoff
  int64_t no_path_timeout_ns = 0;               // with no active path I/O waits this long, then fails; 0 = at once
  // iSCSI sessions per portal (URL), each a path of its own (a host's
  // node.session.nr_sessions): I/O spreads over them, each fails and comes back alone.
  int sessions_per_path = 1;
};
inline constexpr int kMaxSessionsPerPath = 16;

struct Workload {
  std::string engine = "libaio";
  std::vector<std::string> targets;  // a path (libaio) or iSCSI URLs, one per path
  std::vector<AccessSpec> specs{AccessSpec{}};
  int jobs = 1;
  int queue_depth = 32;              // per job
  uint64_t offset_bytes = 0;         // start of the region
  uint64_t size_bytes = 0;           // length of the region; 0 = to the end of the target
  uint64_t create_size_bytes = 0;    // size of a file target that does not exist yet
  int64_t duration_ns = 60'000'000'000;
  int64_t ramp_ns = 0;               // warm-up before measuring; not counted in the summary
  double rate_iops = 0;              // total over all jobs; 0 = as fast as possible
  bool rate_catch_up = false;        // after a stall, issue the missed I/Os at once
  int64_t interval_ns = 1'000'000'000;
  int64_t stall_threshold_ns = 100'000'000;
  int64_t stuck_threshold_ns = 5'000'000'000;
  double dedupe_fraction = 0;        // share of writes with identical content
  double compress_fraction = 0;      // share of each block that is zeros
  uint64_t max_errors = 0;           // stop after this many I/O errors; 0 = never
  bool direct = true;                // O_DIRECT
  bool allow_destroy = false;        // permit writes to a device with data on it
  uint64_t seed = 0;                 // 0 = from the clock
  IscsiOptions iscsi;                // libiscsi engine only

  // Data verification (loadgen/verify.h): stamp every written block, check every
  // read, then read back every written block after the run.
  bool verify = false;
  uint32_t verify_block_bytes = 0;   // 0 = the smallest block size of the specs
  uint64_t verify_run_id = 0;        // stamped into blocks; set from the journal's run id
  uint32_t verify_generation_base = 0;  // generations start above this (loadgen/verify.h, VerifyMap)
  std::string ack_log;               // stream acknowledgements here ("" = off)
  bool verify_final_pass = true;

  bool HasWrites() const;
  uint32_t MaxBlockSize() const;
  uint32_t VerifyBlockBytes() const;
};

// Checks what can be checked without the target; `where` prefixes messages
// (e.g. "--bs" or "plan.yaml:12:5").
Status ValidateWorkload(const Workload& w);

// Checks the workload against the target's size and alignment rules.
Status ValidateAgainstTarget(const Workload& w, uint64_t target_size_bytes, uint32_t logical_block_bytes,
                             const std::string& target_name);

// Parses fio's --rw values: read, write, randread, randwrite, rw/readwrite, randrw.
// Sets read_fraction (from rwmixread for mixed) and random_fraction of `spec`.
Status ApplyFioRw(const std::string& rw, double rwmixread_fraction, AccessSpec* spec);

// Parses one IOmeter-style access spec "weight:bs:read%:random%[:align]",
// e.g. "60:4k:70:100" or "40:64k:0:0:4k".
Result<AccessSpec> ParseAccessSpec(const std::string& text);

}  // namespace fb
