// One sample interval of a run's load, as the journal writes it (job "all"
// records of samples.jsonl): what the report reads and the latency merges.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace fb::reports {

// One op (read or write) of one sample interval. Latencies in microseconds;
// empty when nothing completed in the interval.
struct OpSample {
  uint64_t ios = 0, errors = 0;
  double iops = 0;
  std::optional<double> min_us, p50_us, p99_us, max_us;
  std::map<std::string, uint64_t> errors_by_errno;
  // lat_hist: the interval's nonzero fb::Histogram buckets (index, count) in
  // ascending index. Empty when nothing completed, or in a journal written
  // before lat_hist existed (its percentiles over many intervals are then
  // approximate; latency.h).
  std::vector<std::pair<int, uint64_t>> lat_hist;
};

// One merged (job "all") sample interval covering (end - interval, end].
struct Sample {
  std::string agent;  // the agent that wrote it; empty: the controller's own load or a merge
  int64_t index = 0;
  int64_t end_utc_ns = 0, interval_ns = 0;
  OpSample read, write;
  uint64_t errors = 0, inflight = 0;
  double oldest_inflight_age_ms = 0;
  bool stall = false, ramp = false, drain = false;
  // With verify: blocks read back and checked in the interval (samples' verify).
  std::optional<uint64_t> verified_blocks;

  int64_t start_utc_ns() const { return end_utc_ns - interval_ns; }
  uint64_t ios() const { return read.ios + write.ios; }
  double iops() const { return read.iops + write.iops; }
  // The larger of the two ops' values; empty when neither completed anything.
  std::optional<double> P99Us() const;
  std::optional<double> MaxUs() const;
};

}  // namespace fb::reports
