// Superseded: the runner now evaluates and reports through reports/ (correlator.h,
// EvaluateExpectations over the Analysis); nothing calls this file any more.
//
// Expectations evaluated after a run, from the journal files alone (run.json,
// events.jsonl, stalls.jsonl, samples.jsonl), so reports can rebuild them.
//
// Windows (UTC ns):
//   fault  from its fault_injected event to its fault_reverted event (or the load's
//          end); stalls count when they overlap it. Latency and errors are taken
//          over the impact window: the fault window extended to the end of the last
//          stall that overlaps it, plus one sample interval (I/Os held by the fault
//          complete, with their latency, after the revert).
//   phase  from its phase event to the next phase event (or the load's end).
//   run    the whole load.
// Recovery: baseline IOPS = mean IOPS of the "baseline" phase (else of the time
// before the first fault, ramp excluded); recovered = the end of the first sample
// interval after the revert whose IOPS reach to_fraction x baseline.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "plans/plan.h"

namespace fb {

struct StallSpan {
  int job = 0;
  int64_t start_utc_ns = 0, end_utc_ns = 0;  // end = load end when still open
  bool open = false;
  int64_t length_ns() const { return end_utc_ns - start_utc_ns; }
};

struct Window {
  std::string kind;  // "fault", "phase", "run"
  std::string name;  // injector or phase name
  int cycle = 0;     // faults: 0-based occurrence of this injector
  int64_t start_utc_ns = 0, end_utc_ns = 0;
  bool reverted = true;  // faults
};

struct RunData {
  int64_t load_start_utc_ns = 0, load_end_utc_ns = 0, ramp_ns = 0, interval_ns = 0;
  std::string status;
  std::vector<nlohmann::json> events;
  std::vector<nlohmann::json> samples;  // job "all" only, in time order
  std::vector<StallSpan> stalls;
  std::vector<Window> faults, phases;
};

Result<RunData> ReadRunData(const std::string& run_dir);

struct Verdict {
  std::string scope;  // "run", "fault freeze#1", "phase baseline"
  std::string check;  // "max_stall", "max_latency", "io_errors", "recovery"
  std::string limit, measured;
  bool pass = false;
};

std::vector<Verdict> EvaluateExpectations(const Expectations& expect, const RunData& data);

// Longest stall overlapping [start, end), or null.
const StallSpan* LongestStallIn(const RunData& data, int64_t start_utc_ns, int64_t end_utc_ns);

// The plain-text summary: phases, faults with the stalls in each window, the
// expectations with measured values, and the verdict.
std::string FormatRunSummary(const std::string& plan_name, const RunData& data, const std::vector<Verdict>& verdicts);

}  // namespace fb
