// The correlator: lines the load's stalls and intervals up with the run's
// events, fault by fault. Reads the
// journal only. Definitions (also in README.md of this folder and
// report.schema.json):
//   fault window   fault_injected .. fault_reverted of one injector, then a
//                  settle window (the recovery "within" limit, else 30 s) that
//                  ends early at the next injection or the load's end.
//   impact window  injection .. the later of the revert and the end of the last
//                  stall overlapping the fault, plus one interval: latency and
//                  errors are counted over it (held I/Os complete after revert).
//   baseline       the "baseline" phase, else the load before the first fault
//                  (ramp excluded), else the whole load.
//   recovered      the end of the first of N consecutive intervals after the
//                  revert within tolerance (analysis.h, Tolerance).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "reports/analysis.h"

namespace fb::reports {

struct AnalyzeOptions {
  int consecutive_intervals = 3;
  int64_t default_settle_ns = 30'000'000'000;
  EpisodeOptions episodes;
};

// Reads the run directory and analyzes it. Errors: InvalidInput naming the
// file (and line) when the directory is not a readable journal.
Result<Analysis> AnalyzeRun(const std::string& run_dir, const AnalyzeOptions& options = {});

// Analyzes a journal already read; never fails (gaps become notes/warnings).
Analysis Correlate(RunJournal journal, PlanView plan, const AnalyzeOptions& options = {});

// Pieces, exposed for tests and for other writers.
// The journal's stalls joined into episodes (EpisodeOptions), in start order.
std::vector<Stall> MergeStallEpisodes(const RunJournal& j, const EpisodeOptions& options);
Stat StatOf(std::vector<double> values);
Baseline ComputeBaseline(const RunJournal& j, const std::vector<PhaseWindow>& phases,
                         std::optional<int64_t> first_fault_utc_ns);
// The stall each stated platform setting allows (empty when none is stated).
std::vector<Budget> StallBudgets(const PlatformTimeouts& p);
void ApplyBudgets(const std::vector<Budget>& budgets, StallView* stall);
// Fills fault->chain, the bracketing and explaining events of its stalls and
// blind_probes.
void BuildChain(const RunJournal& j, FaultWindow* fault);
// The events that most plausibly began and ended one stall (StallView::started_by,
// ended_by): by kind first (a platform event over the fault's own injection or
// revert; phase markers and bookkeeping never), then by nearness in time; and
// the events that bracket it (before, after).
void ExplainStall(const RunJournal& j, StallView* stall);
// "+3.018 s path_failed (libiscsi), 2 ms before its end": an explaining event
// with its offset from `from_ns` (the injection) and from the stall's edge.
std::string ExplainText(const std::optional<JournalEvent>& e, int64_t edge_ns, const char* edge, int64_t from_ns);
// What a stall's table row says when no event explains either side.
constexpr const char* kUnexplained = "no platform event explains this stall";
// The budget family ("path", "ha", "array") an event's kind points at, or "".
std::string BudgetFamily(const JournalEvent& e);
std::vector<Verdict> EvaluateExpectations(const Analysis& a);
// Each fault's platform operation (analysis.h, OperationView), from the xapi
// injector's task events, the loads' stalls and the xapi probe's vm_moved.
void ComputeOperations(const RunJournal& j, std::vector<FaultWindow>* faults);
// The run split at every injection and revert (analysis.h, IntegrityWindow).
std::vector<IntegrityWindow> IntegrityWindows(const RunJournal& j, const std::vector<FaultWindow>& faults);
// Verify totals and findings by window; verified = false when the load did not verify.
Integrity ComputeIntegrity(const RunJournal& j, const std::vector<FaultWindow>& faults);
// Per agent and their total (analysis.h, AgentView); empty without agents.
std::vector<AgentView> ComputeAgents(const RunJournal& j, AgentView* total);

}  // namespace fb::reports
