// What the report needs from the plan as run (plan.yaml in the run directory):
// its name, the expectations and the platform's stated timeouts. Read from the
// journal's copy of the plan with yaml-cpp, never from plans/ objects, so a
// report can be rebuilt from the run directory alone.
//
// plan.yaml (written by the runner; the sections read here):
//   expect:
//     max_stall: 2s          # limits over the whole run
//     max_latency: 5s
//     io_errors: 0
//     recovery: {to: 90% of baseline, within: 30s}   # applies to every fault
//     faults: {<injector>: {max_stall, max_latency, io_errors, recovery}}
//     phases: {<phase>: {max_stall, max_latency, io_errors}}
//   platform:                # optional: the timeouts the platform is set up with
//     iscsi: {noop_out_interval: 5s, noop_out_timeout: 5s, replacement_timeout: 15s}
//     multipath: {polling_interval: 5s, no_path_retry: 0}   # or "queue"
//     ha: {timeout: 60s}
//     array: {pause: 30s}    # the most an array holds I/O while it races for the mediator
//   workload: {engine: libiscsi, io_timeout: 2s, no_path_timeout: 30s}   # the engine's own budgets
//   repeat: 3
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "core/status.h"

namespace fb::reports {

struct RecoveryLimit {
  double to_fraction = 0.9;  // share of baseline IOPS (and its inverse for p99)
  int64_t within_ns = 0;     // after the revert
};

struct LimitSet {
  std::optional<int64_t> max_stall_ns, max_latency_ns;
  std::optional<uint64_t> io_errors;
  std::optional<uint64_t> lost_writes;  // verify findings (lost, misdirected, corrupt, phantom)
  std::optional<RecoveryLimit> recovery;
  std::optional<int64_t> max_pause_ns;  // faults: the longest pause of any VM's load around a platform operation
  std::optional<bool> all_vms_moved;    // faults: every VM of an evacuated host moved off it
  bool empty() const {
    return !max_stall_ns && !max_latency_ns && !io_errors && !lost_writes && !recovery && !max_pause_ns &&
           !all_vms_moved;
  }
};

// Platform timeouts as the plan states them; each is unset when not stated.
struct PlatformTimeouts {
  std::optional<int64_t> iscsi_noop_out_interval_ns, iscsi_noop_out_timeout_ns, iscsi_replacement_timeout_ns;
  std::optional<int64_t> multipath_polling_interval_ns;
  std::optional<int> multipath_no_path_retry;  // -1 = "queue" (queue for ever)
  std::optional<int64_t> ha_timeout_ns;
  std::optional<int64_t> array_pause_ns;  // platform.array.pause: the most an array holds I/O in a race
  // The libiscsi engine's own (workload.io_timeout, workload.no_path_timeout).
  std::optional<int64_t> engine_io_timeout_ns, engine_no_path_timeout_ns;
  bool empty() const {
    return !iscsi_noop_out_interval_ns && !iscsi_noop_out_timeout_ns && !iscsi_replacement_timeout_ns &&
           !multipath_polling_interval_ns && !multipath_no_path_retry && !ha_timeout_ns && !array_pause_ns &&
           !engine_io_timeout_ns;
  }
};

struct PlanView {
  bool present = false;  // plan.yaml was there
  std::string name;
  LimitSet overall;
  std::map<std::string, LimitSet> faults, phases;
  PlatformTimeouts platform;
  int repeat = 1;
};

// Parses the plan text; `origin` names it in messages ("<dir>/plan.yaml").
// Empty text gives an empty view (present = false). Errors are InvalidInput
// with origin:line:col.
Result<PlanView> ParsePlanView(const std::string& yaml_text, const std::string& origin);

}  // namespace fb::reports
