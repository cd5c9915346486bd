// The guard: every fault is written to a per-run guard journal (and fsynced)
// before it is applied, with what it takes to rebuild its injector and revert
// it (kind + settings; secrets only as env/file references) and its lease. A
// guard process (`faultbench guard --run ID`, own session, outlives the runner)
// reverts every active fault when the runner dies without reverting (EOF on
// its socket: within milliseconds) and any fault whose lease expires; reverts
// are retried with backoff and verified with the injector's check. A fault
// whose revert cannot be confirmed is `unknown`, never `reverted`.
//
// State: GuardStateDir()/<run>.jsonl (records: start, guard, arm, disarm,
// revert, end), <run>.lock (held shared by the live runner and its guard; a run
// whose lock nobody holds is dead), <run>.guard.log (the guard's stderr).
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace fb {

// $FAULTBENCH_STATE_DIR when set (tests), else /var/lib/faultbench/guard.
std::string GuardStateDir();

enum class FaultState { kActive, kReverted, kUnknown };
const char* FaultStateName(FaultState s);

// What the runner registers before Inject().
struct FaultSpec {
  std::string injector, kind, where;
  nlohmann::json settings = nlohmann::json::object();  // as in the plan, without "kind"
  int64_t lease_ns = 0;                                 // > 0
};

struct GuardedFault {
  std::string id, run;
  FaultSpec spec;
  int64_t since_utc_ns = 0, since_mono_ns = 0;
  int64_t deadline_utc_ns = 0, deadline_mono_ns = 0;  // since + lease
  FaultState state = FaultState::kActive;
  std::string detail;  // the last revert's outcome or error
};

struct GuardedRun {
  std::string run;
  std::vector<GuardedFault> faults;  // in arm order
  bool ended = false;                // the runner stopped its guard cleanly
  bool alive = false;                // its runner or guard still runs
  int runner_pid = 0, guard_pid = 0;
};

// Reads and folds one run's journal; `alive` from its lock.
Result<GuardedRun> ReadGuardedRun(const std::string& run_id);
// Every run in the state directory, oldest first.
Result<std::vector<GuardedRun>> ListGuardedRuns();

// Rebuilds the fault's injector, reverts it (retries with backoff, verified by
// its check when it has one) and appends the outcome to the run's journal.
// `by`: "guard", "recover", "revert command"; `reason`: "lease expired", ...
FaultState RevertGuardedFault(const GuardedFault& fault, const std::string& by, const std::string& reason,
                              std::string* detail);

// Reverts the active and unknown faults of dead runs (all, or only `run_id`),
// one line per fault on `log`. Returns how many were reverted; an error when a
// revert could not be confirmed (those stay `unknown`).
Result<int> HealLeftovers(std::ostream& log, const std::string& run_id = "");

// The guard process's main loop (hidden subcommand `faultbench guard --run ID`):
// stdin/stdout are its socket to the runner. Returns the exit code.
int RunGuardProcess(const std::string& run_id);

// The runner's side. Not thread-safe; one per run.
class GuardClient {
 public:
  GuardClient() = default;
  ~GuardClient();  // Stop() unless stopped or detached
  GuardClient(const GuardClient&) = delete;
  GuardClient& operator=(const GuardClient&) = delete;

  // Creates the run's guard journal and starts its guard: `exe guard --run ID`
  // in its own session (exe "" = this program, /proc/self/exe). Returns once the
  // guard is ready.
  Status Start(const std::string& run_id, const std::string& exe = "");
  // Writes the fault (fsynced) and waits for the guard to acknowledge it.
  // Call before Inject(). Returns the fault's id.
  Result<std::string> Arm(const FaultSpec& spec);
  // After a successful Revert(): outcome "reverted", or "unknown" when the
  // revert ran but could not be confirmed (the guard then retries it).
  Status Disarm(const std::string& fault_id, const std::string& outcome = "reverted");
  // For hands-on `faultbench inject`: the guard stays after this process exits
  // and reverts at lease end (or when `faultbench revert` did).
  Status Detach();
  // Clean end of run: the guard reverts what is still active, then exits. When
  // every fault is confirmed reverted, the run's state files are removed.
  Status Stop(int64_t timeout_ns = 120'000'000'000);

  bool started() const { return sock_ >= 0; }
  int guard_pid() const { return guard_pid_; }
  const std::string& run_id() const { return run_; }

 private:
  Status Append(const nlohmann::json& record);
  Status Ask(const std::string& line, const std::string& answer, int64_t timeout_ns);
  void Close();

  std::string run_;
  int sock_ = -1, lock_fd_ = -1, guard_pid_ = -1;
};

// Sanitized run id for file names: [A-Za-z0-9._-], others '_'.
std::string GuardRunId(const std::string& text);

}  // namespace fb
