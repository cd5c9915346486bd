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
#include "reports/latency.h"
#include "reports/sample.h"

namespace fb::reports {

// One agent's samples, folded as they are read: a wide, long run has too
// many to keep whole with their histograms (128 agents for an hour at 1 s:
// 460,800). What the report needs of them is here.
struct AgentLoad {
  // An interval's place and completions, for stall episodes
  // (reports/episodes.cpp): about 40 bytes instead of a Sample's kilobyte.
  struct Interval {
    int64_t end_utc_ns = 0, interval_ns = 0;
    uint64_t ios = 0;
    double iops = 0;
    bool normal = false;  // neither stall nor ramp nor drain
    int64_t start_utc_ns() const { return end_utc_ns - interval_ns; }
  };
  std::vector<Interval> intervals;  // in journal order
  uint64_t errors = 0;              // over every interval
  // Outside ramp and drain: intervals, their time, completions and latency.
  int64_t measured_intervals = 0, measured_ns = 0;
  uint64_t measured_ios = 0;
  LatencyMerge read, write;
  std::optional<uint64_t> verified_blocks;  // summed over the intervals that say

  void Add(const Sample& s);
  static Interval IntervalOf(const Sample& s);
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
  std::string plan_yaml;                               // empty without plan.yaml
  std::string status;                                  // run.json "status"
  int64_t load_start_utc_ns = 0, load_end_utc_ns = 0;
  int64_t interval_ns = 0, ramp_ns = 0;
  // Job "all", in time order. With agents: one per interval merged over every
  // source (the controller's own load and each agent): IOPS and errors summed,
  // latency from the merged lat_hist.
  std::vector<Sample> samples;
  std::map<std::string, AgentLoad> agent_loads;  // each agent's own job "all" records, folded
  std::vector<std::string> agents;               // agent names in order of first appearance
  std::vector<Stall> stalls;                     // in start order
  std::vector<JournalEvent> events;              // in time order (stable)
  std::vector<std::string> warnings;  // e.g. "events.jsonl:42: last line cut short (crash?), skipped"
};

// Errors (Status::InvalidInput, naming the file and line): not a directory, no
// run.json, a file that is not a journal.
Result<RunJournal> ReadRunJournal(const std::string& run_dir);

}  // namespace fb::reports
