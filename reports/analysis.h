// The analyzed run: what every writer formats. Built by Correlate() from the
// journal alone. Times are UTC nanoseconds; offsets (`*_ms`, `*_s`) say what
// they are measured from in their name or comment. Nothing here is invented:
// every stall comes from stalls.jsonl, every event from events.jsonl.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "reports/journal_reader.h"
#include "reports/latency.h"
#include "reports/plan_view.h"

namespace fb::reports {

constexpr int kReportSchemaVersion = 2;  // 2: latency percentiles over many intervals from merged histograms

// When consecutive stalls of one job are one episode: the gap between them is
// a trickle, i.e. no longer than the stall threshold with fewer than
// `trickle_completions` completions, or (any length) at less than
// `trickle_share` of the job's normal completion rate.
struct EpisodeOptions {
  int trickle_completions = 4;
  double trickle_share = 0.10;
};

// Mean, spread and range of one quantity over the baseline intervals.
struct Stat {
  int n = 0;
  double mean = 0, stddev = 0, min = 0, median = 0, max = 0;
};

struct OpBaseline {
  Stat iops, p50_us, p99_us, max_us;  // over the intervals where the op completed I/O
};

struct Baseline {
  std::string source;  // "phase baseline", "before the first fault", "whole run"
  int64_t start_utc_ns = 0, end_utc_ns = 0;
  OpBaseline read, write, total;  // total: IOPS summed; latencies the worse op's
  int stalled_intervals = 0;      // intervals of the baseline with a stall on
  // Over all its intervals, from their merged histograms (latency.h); the
  // p99 a fault is compared with. Approximate: the median interval's.
  Latency read_latency, write_latency, latency;
};

// Recovery tolerance: an interval is "within tolerance" when its IOPS reach
// to_fraction x baseline mean IOPS and its p99 stays under p99_limit_us
// (the larger of baseline p99 / to_fraction and baseline p99 mean + 3 stddev).
struct Tolerance {
  double to_fraction = 0.9;
  int consecutive = 3;  // N intervals in a row
  double iops_floor = 0, p99_limit_us = 0;
};

// A journal event placed on a fault's timeline.
struct ChainEntry {
  int64_t t_utc_ns = 0;
  double offset_ms = 0;  // from the fault's injection
  std::string source, kind, severity, message;
  bool derived = false;  // stall_begins / stall_ends, from stalls.jsonl
};

// A budget one platform setting (or sum of settings) allows a stall.
struct Budget {
  std::string name;      // "iscsi_path_loss", "multipath_no_path_retry", "ha_failover", ...
  std::string family;    // what it bounds: "path" (a failover), "no_path" (a wait for any path), "ha", "array"
  std::string settings;  // "noop_out_interval 5s + noop_out_timeout 5s + replacement_timeout 15s"
  int64_t allows_ns = 0; // -1 = unbounded (queue for ever)
};

struct StallView {
  Stall stall;
  double start_offset_ms = 0, end_offset_ms = 0;  // from the fault's injection (other_stalls: the load's start)
  std::optional<JournalEvent> before;  // last event at or before its start
  std::optional<JournalEvent> after;   // first event at or after its end
  // The events that most plausibly began and ended it (event_chain.cpp,
  // ExplainStall): platform events (path, HA, array, agent) before the fault's
  // injection and revert, never phase markers or the runner's bookkeeping.
  // Empty: no such event near it ("no platform event explains this stall").
  std::optional<JournalEvent> started_by, ended_by;
  std::string explained_by;            // smallest budget that covers it, if any
  bool over_budget = false;            // longer than every stated budget
  std::string budget_note;             // e.g. "exceeds iscsi_path_loss (25s): ..."
};

// One XAPI task of a platform operation (the xapi injector's xapi_task_started
// and xapi_task_done events).
struct OperationTask {
  std::string method, about, step, status, error;  // step: inject or revert
  int64_t start_utc_ns = 0;
  std::optional<int64_t> end_utc_ns;  // empty: never ended in the journal
  std::optional<double> duration_ms;
};

// A platform operation injected as a fault (a live migration, an evacuation, a
// master change): its tasks, the pause each load saw around the switchover,
// and what XAPI reported moving.
struct OperationView {
  std::string action;  // the injector's action (vm_migrate, host_evacuate, ...)
  std::vector<OperationTask> tasks;
  int64_t start_utc_ns = 0, end_utc_ns = 0;  // first inject task's start .. its last end
  // Per load ("local" or the agent's name): its longest stall overlapping the
  // operation (or 1 s after it); 0 = no pause as long as the stall threshold.
  std::map<std::string, double> pause_ms;
  std::string host;                   // an evacuation's host (xapi_host_vms)
  std::vector<std::string> host_vms;  // the VMs running on it when it began
  std::vector<std::string> moved;     // "vm-1: host-1 -> host-2" (vm_moved events)
  std::vector<std::string> not_moved; // host_vms with no vm_moved off the host
  bool saw_moves = false;             // any vm_moved event at all (an xapi probe watched)
  // A master change (designate_master): the master the xapi probe saw take
  // over, and how long the pool's XAPI did not answer it (the longest
  // probe_recovered blind_ms from the operation's start to 10 s after the
  // fault's end; 0 when it never went blind); empty: no xapi probe watched.
  std::string new_master;
  std::optional<double> xapi_unavailable_ms;
  // How long after its task the injector reached the pool through the new
  // master (xapi_master_ready); empty: not seen.
  std::optional<double> master_ready_ms;
};

struct FaultWindow {
  std::string injector;
  Tolerance tolerance;  // from this fault's recovery limit (or the overall one)
  int cycle = 0;  // 0-based occurrence of this injector
  int64_t inject_utc_ns = 0;
  std::optional<int64_t> revert_utc_ns;  // empty: never reverted
  int64_t settle_end_utc_ns = 0;         // end of the window analyzed (revert + settle)

  std::optional<double> first_impact_ms;      // from injection: first stall or out-of-tolerance interval
  std::optional<double> first_completion_ms;  // from injection: the completion that ended the pause
  std::vector<StallView> stalls;              // overlapping [inject, settle_end]
  std::optional<double> longest_stall_ms;
  std::map<std::string, uint64_t> errors_by_kind;  // "read:EIO" -> count
  uint64_t errors = 0;
  std::optional<double> max_latency_us,
      p99_us;                    // over the impact window (p99: merged; approximate: worst interval's)
  bool p99_approximate = false;  // some interval without lat_hist (older journal)
  std::optional<double> baseline_p99_us, baseline_max_us;
  std::optional<double> recovered_ms;  // after the revert: first of N intervals within tolerance
  std::string recovery_note;           // "not reached", "never reverted", "no baseline"
  // Degraded steady state: intervals inside [inject, revert] outside every stall.
  std::optional<double> degraded_iops, degraded_p99_us;
  std::optional<double> degraded_iops_pct;  // of baseline
  // Repair cost: from the revert to recovery (or the window's end).
  std::optional<double> repair_iops, repair_p99_us, repair_iops_pct;
  std::optional<double> resync_ms;  // resync_start .. resync_done, when seen
  double lost_ios = 0;              // sum over the window of (baseline - measured) x interval
  std::vector<ChainEntry> chain;
  std::vector<std::string> blind_probes;  // probes blind during the window, with why
  std::optional<OperationView> operation;  // a platform operation (xapi injector)
};

struct Verdict {
  std::string scope;  // "run", "fault <injector>#<cycle>", "phase <name>"
  std::string check;  // max_stall, max_latency, io_errors, lost_writes, recovery, injected, reached
  std::string limit, measured;
  std::optional<double> limit_value, measured_value;  // ms for durations, counts
  bool pass = false;
};

// min / median / max of one metric across the cycles of one injector.
struct CycleStat {
  std::string injector, metric;  // metric: longest_stall_ms, recovered_ms, max_latency_ms, errors
  int n = 0;
  double min = 0, median = 0, max = 0;
};

// One verify finding (loadgen/verify.h) placed on the run's windows.
struct IntegrityFinding {
  std::string kind;     // lost_write, misdirected_write, corrupt_block, phantom_write
  std::string window;   // name of the IntegrityWindow it was counted in
  std::string message;  // as the load wrote it ("block at offset ...")
  int64_t found_utc_ns = 0;
  std::optional<int64_t> acked_utc_ns;  // when the write it should have found was acknowledged
  bool placed_by_ack = false;           // false: no ack time, placed where it was found
  bool final_pass = false;              // found by the read-back after the run
};

// The run split at every injection and revert: "before the first fault",
// "during <injector>#<n>", "after <injector>#<n>" (until the next injection or the
// load's end). Findings count in the window where their lost write had been
// acknowledged (else where they were found).
struct IntegrityWindow {
  std::string name;
  int64_t start_utc_ns = 0, end_utc_ns = 0;
  uint64_t lost = 0, misdirected = 0, corrupt = 0, phantom = 0;
  uint64_t total() const { return lost + misdirected + corrupt + phantom; }
};

struct Integrity {
  bool verified = false;  // the load ran with verify (run.json load.verify)
  // Summed over every load that verified: the controller's own and each
  // agent's (run.json agent_results[].load_summary), with the blocks an
  // agent's disk check covered after a restart.
  uint64_t blocks_written = 0, verified_blocks = 0;
  bool final_pass_complete = false;  // every verifying load read everything back after it ran
  // The loads whose read-back after the run did not complete: "vm-2 (stopped: interrupted)".
  std::vector<std::string> read_back_missing;
  uint64_t lost = 0, misdirected = 0, corrupt = 0, phantom = 0;  // from the findings in events.jsonl
  uint64_t acks_dropped = 0;  // --ack-log records that could not be written
  std::vector<IntegrityWindow> windows;
  std::vector<IntegrityFinding> findings;  // every one, in the order found
  uint64_t total() const { return lost + misdirected + corrupt + phantom; }
};

struct PhaseWindow {
  std::string name;
  int64_t start_utc_ns = 0, end_utc_ns = 0;
  std::optional<double> iops;  // mean over the intervals inside it
  Latency latency;             // both ops, over the intervals inside it
};

// One agent's lost connection: from agent_lost to the first completion after
// it (agent_first_completion), else agent_back. Times UTC ns on the
// controller's timeline.
struct AgentDowntime {
  int64_t lost_utc_ns = 0;
  std::string why;
  std::optional<int64_t> last_completion_utc_ns;   // the last completion before the loss
  std::optional<int64_t> first_completion_utc_ns;  // the first after it
  std::optional<int64_t> back_utc_ns;              // agent_back
  std::optional<double> downtime_ms;  // between the two completions; else the connection's down_ms
  std::string ended_by;               // agent_first_completion, agent_back, or "" (never back)
  // Events of any source in [last completion - 1 s, first completion + 1 s] of
  // the HA kinds (host_down, host_fenced, host_up, master_changed, vm_*, agent_restarted).
  std::vector<JournalEvent> nearby;
};

struct AgentView {
  std::string name;                                  // "total" for the total row
  std::string host;                                  // run.json agents[].host, when written
  std::optional<int64_t> offset_ns, uncertainty_ns;  // the first agent_clock
  std::optional<int64_t> max_uncertainty_ns;         // the largest over every agent_clock
  int clock_measurements = 0;
  int intervals = 0;
  double iops = 0;      // mean over its load (all completions / measured time); the total: the sum
  Latency read, write;  // from its merged histograms; the total: every agent's merged
  size_t stalls = 0;
  double longest_stall_ms = 0;
  uint64_t errors = 0;
  std::vector<AgentDowntime> downtimes;
};

struct Analysis {
  RunJournal journal;  // its stalls are episodes (correlator.h, MergeStallEpisodes)
  size_t raw_stalls = 0;  // the gaps stalls.jsonl holds
  EpisodeOptions episode_options;
  PlanView plan;
  std::string run_name;
  Baseline baseline;
  std::vector<Budget> budgets;
  std::vector<PhaseWindow> phases;
  std::vector<FaultWindow> faults;
  // Stalls that overlap no fault's window (a baseline, a run without faults,
  // after a fault's settle time): each explained as a fault's are, its offsets
  // from the load's start.
  std::vector<StallView> other_stalls;
  std::vector<CycleStat> cycles;
  Integrity integrity;
  Latency read_latency, write_latency, latency;  // the whole run (ramp and drain excluded)
  std::vector<AgentView> agents;                 // empty: the run had no agents
  AgentView agents_total;                        // meaningful when agents is not empty
  bool latency_approximate = false;  // the journal has no lat_hist (older run): said in each writer
  std::vector<Verdict> verdicts;
  std::string verdict;  // "pass", "fail", or the run's status when it did not complete
  std::vector<std::string> warnings;  // from the reader and the correlator

  // The exit code `faultbench report` ends with: 0 pass, 1 an expectation
  // failed, 3 the run itself did not complete.
  int ExitCode() const;
};

}  // namespace fb::reports
