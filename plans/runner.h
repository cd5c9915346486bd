// Executes a validated plan (docs/design.md, "A run"):
// creates the run journal (with the plan as run, secrets never written), starts
// the probes, runs the load on its own thread, executes the steps on time on
// CLOCK_MONOTONIC relative to load start (a late step records how late), then
// stops the load, reverts anything still injected, stops the probes, evaluates
// the expectations from the journal and writes summary.txt.
//
// Abort(): the first call reverts every injected fault, then stops the load and
// closes the journal with status "aborted"; a second call only hurries it (the
// load gives up on in-flight I/O), it never skips a revert.
#pragma once

#include <atomic>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "plans/plan.h"

namespace fb {

struct RunOptions {
  std::string out_dir = "runs";
  bool live = false;           // per-interval console lines even when not a tty
  bool quiet = false;          // only the summary
  std::string metrics_listen;  // overrides the plan's metrics.listen ("" = the plan's)
  std::string guard_exe;       // runs `guard --run ID` ("" = this program; in-process tests pass the CLI)
  // Agents: how long after the planned end of their load they may take to send
  // `finished` (reconnects included) before they count as never come back.
  int64_t agent_grace_ns = 60'000'000'000;
  FILE* out = stdout;
  // What preflight (qualify/preflight.h) said before the run, or {"skipped": true}
  // for --skip-preflight; null when none ran. Kept in run.json and as an event.
  nlohmann::json preflight;
};

class Runner {
 public:
  Runner(const Plan& plan, RunOptions options);
  ~Runner();
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  // Blocks until the run is over. Returns the exit code: 0 every expectation
  // passed, 1 one failed, 2 the plan's plug-ins or target were refused before
  // anything was touched, 3 the run failed or was aborted.
  int Run();
  // Async-signal-safe.
  void Abort();
  // The run directory (empty until created).
  const std::string& run_dir() const { return run_dir_; }

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
  std::string run_dir_;
};

}  // namespace fb
