// Reads a run directory (README.md, "The run journal") into plain structs for
// the correlator. It reads files only, never live objects of other folders.
//
// Tolerance: the journal is appended record by record, so a crash can leave the
// last line of a .jsonl file cut short. Such a line is skipped and named in
// `warnings`; a malformed line anywhere else is an error (the journal was
// edited or is not a journal). Missing samples/stalls/events files are errors;
// a missing plan.yaml is normal for `faultbench load` runs.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"

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

// A gap between completions of one job (stalls.jsonl).
struct Stall {
  std::string agent;  // empty: the controller's own load
  int job = 0;
  int64_t start_utc_ns = 0, end_utc_ns = 0;  // end = load end when open
  bool open = false;
  uint64_t inflight = 0;
  double oldest_age_ms = 0;
  std::optional<uint64_t> completions_before;  // since the job's previous stall (absent in older journals)
  // An episode (reports/episodes.cpp) of several raw stalls: each one's
  // (start, end), and the completions that trickled through between them.
  std::vector<std::pair<int64_t, int64_t>> pieces;
  uint64_t trickle_completions = 0;
  int64_t length_ns() const { return end_utc_ns - start_utc_ns; }
};

struct JournalEvent {
  int64_t t_utc_ns = 0;
  std::string source, kind, severity, message;
  std::string agent;  // the record's "agent" (or attrs.agent): the agent it came from or is about
  nlohmann::json attrs = nlohmann::json::object();
};

struct RunJournal {
  std::string dir;
  nlohmann::json run_info = nlohmann::json::object();  // run.json as written
  std::string plan_yaml;                                // empty without plan.yaml
  std::string status;                                   // run.json "status"
  int64_t load_start_utc_ns = 0, load_end_utc_ns = 0;
  int64_t interval_ns = 0, ramp_ns = 0;
  // Job "all", in time order. With agents: one per interval merged over every
  // source (the controller's own load and each agent): IOPS and errors summed,
  // latency from the merged lat_hist.
  std::vector<Sample> samples;
  std::vector<Sample> agent_samples;  // each agent's own job "all" records, in time order
  std::vector<std::string> agents;    // agent names in order of first appearance
  std::vector<Stall> stalls;    // in start order
  std::vector<JournalEvent> events;  // in time order (stable)
  std::vector<std::string> warnings;  // e.g. "events.jsonl:42: last line cut short (crash?), skipped"
};

// Errors (Status::InvalidInput, naming the file and line): not a directory, no
// run.json, a file that is not a journal.
Result<RunJournal> ReadRunJournal(const std::string& run_dir);

}  // namespace fb::reports
