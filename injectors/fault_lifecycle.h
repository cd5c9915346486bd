// The life of one fault, written once: build the injector from its spec, bind,
// prepare, arm under the guard, inject, verify, revert, confirm, disarm. The
// runner (plans/runner_steps.cpp), `faultbench inject/revert`
// (cli/faults_command.cpp) and the guard (guard_journal.cpp) all call these; none
// of them spells the order out again.
//
//   auto inj = BuildInjector(spec);                         // touches nothing
//   auto id = ArmFault(**inj, guard, spec, {run, lease});   // bind, prepare, guard (fsynced)
//   Applied a = ApplyFault(**inj);                          // inject, then the check
//   Reverted r = RevertFault(**inj);                        // revert, then the check
//   DisarmFault(guard, *id, r);                             // "reverted" only when confirmed
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "core/status.h"
#include "injectors/guard.h"
#include "injectors/injector.h"

namespace fb {

// Builds the injector a spec names (kind + settings as in the plan). An error
// names the injector, its kind and the first problem with its settings.
Result<std::unique_ptr<Injector>> BuildInjector(const FaultSpec& spec);

// Bind(context), Prepare() (outside the fault window: what the revert must not
// wait for), then the guard's Arm (fsynced before anything is touched). Returns
// the fault's id in the guard journal; on an error nothing was injected.
Result<std::string> ArmFault(Injector& injector, GuardClient& guard, const FaultSpec& spec,
                             const FaultContext& context);

// What the injector's check said: no check, in effect or not, or it failed.
struct CheckResult {
  enum class Kind { kNoCheck, kInEffect, kNotInEffect, kFailed } kind = Kind::kNoCheck;
  std::string error;  // kFailed
  // For the journal: null (no check), true/false (in effect), or the error text.
  nlohmann::json Json() const;
};
CheckResult CheckFault(Injector& injector);

struct Applied {
  Status status;  // Inject()'s
  int64_t start_mono_ns = 0, end_mono_ns = 0;
  CheckResult check;  // after a successful Inject()
  double command_ms() const { return double(end_mono_ns - start_mono_ns) / 1e6; }
};
// Inject() then, when it succeeded, the check.
Applied ApplyFault(Injector& injector);

struct Reverted {
  Status status;  // Revert()'s
  int64_t start_mono_ns = 0, end_mono_ns = 0;
  CheckResult check;  // after a successful Revert()
  // Revert() succeeded and the check (when the kind has one) says the fault is gone.
  bool confirmed() const;
  // Revert() succeeded but the check says the fault is still in effect.
  bool still_in_effect() const;
  // One line: "reverted, check confirms", "revert succeeded (this kind has no
  // check)", "revert ran but the check says the fault is still in effect", the
  // check's or the revert's error.
  std::string Detail() const;
  double command_ms() const { return double(end_mono_ns - start_mono_ns) / 1e6; }
};
// Revert() then, when it succeeded, the check. Reverts are idempotent.
Reverted RevertFault(Injector& injector);

// Tells the guard the outcome: "reverted" when confirmed, else "unknown" (the
// guard then retries the revert itself).
Status DisarmFault(GuardClient& guard, const std::string& fault_id, const Reverted& reverted);

}  // namespace fb
