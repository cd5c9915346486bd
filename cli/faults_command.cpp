// faultbench faults | recover | inject | revert, and the hidden `guard` that
// the runner (and inject) start: the hands-on side of injectors/guard.h.
#include <signal.h>

#include <cstdio>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "core/clock.h"
#include "core/units.h"
#include "injectors/fault_lifecycle.h"
#include "plans/plan_loader.h"

namespace fb::cli {

namespace {

struct FaultFlags {
  std::string name, plan, run, lease;
  std::vector<std::string> sets;
  bool wait = false, all = false, json = false;
};

std::string ManualRunId(const Plan& plan, const std::string& injector) {
  return GuardRunId("manual-" + plan.name + "-" + injector);
}

std::string LeaseLeft(const GuardedFault& f) {
  int64_t left = f.deadline_utc_ns - UtcNs();
  return left >= 0 ? FormatDuration(left / kNsPerMs * kNsPerMs) : "expired " + FormatDuration(-left / kNsPerMs * kNsPerMs) + " ago";
}

int ListFaults(const FaultFlags& f) {
  auto runs = ListGuardedRuns();
  if (!runs.ok()) {
    PrintError(runs.status().message());
    return runs.status().exit_code();
  }
  nlohmann::json out = nlohmann::json::array();
  if (!f.json) printf("%-40s %-20s %-14s %-24s %-20s %s\n", "RUN", "INJECTOR", "KIND", "SINCE (UTC)", "LEASE LEFT", "STATE");
  for (const auto& run : *runs) {
    for (const auto& fault : run.faults) {
      if (fault.state == FaultState::kReverted && !f.all) continue;
      // An active fault of a run that nobody guards any more is an orphan:
      // `faultbench recover` reverts it.
      std::string state = fault.state == FaultState::kActive && !run.alive ? "orphaned" : FaultStateName(fault.state);
      if (f.json) {
        out.push_back({{"run", run.run}, {"injector", fault.spec.injector}, {"kind", fault.spec.kind},
                       {"where", fault.spec.where}, {"since", FormatUtcIso(fault.since_utc_ns, 3)},
                       {"lease_left_s", double(fault.deadline_utc_ns - UtcNs()) / 1e9}, {"state", state},
                       {"detail", fault.detail}, {"runner_pid", run.runner_pid}, {"guard_pid", run.guard_pid}});
      } else {
        printf("%-40s %-20s %-14s %-24s %-20s %s\n", run.run.c_str(), fault.spec.injector.c_str(), fault.spec.kind.c_str(),
               FormatUtcIso(fault.since_utc_ns, 0).c_str(),
               fault.state == FaultState::kReverted ? "-" : LeaseLeft(fault).c_str(), state.c_str());
      }
    }
  }
  if (f.json) printf("%s\n", out.dump(2).c_str());
  return kExitOk;
}

int Recover(const FaultFlags& f) {
  auto n = HealLeftovers(std::cout, f.run);
  if (!n.ok()) {
    PrintError(n.status().message());
    return kExitRunFailed;
  }
  printf("recover: %d leftover fault(s) reverted\n", *n);
  return kExitOk;
}

// Loads the plan and the named injector's spec; prints problems.
const PluginSpec* FindSpec(const FaultFlags& f, LoadedPlan* lp) {
  *lp = LoadPlanFile(f.plan, f.sets);
  if (!lp->ok()) {
    for (const auto& p : lp->problems) fprintf(stderr, "%s\n", p.ToString().c_str());
    PrintError(std::to_string(lp->problems.size()) + " problem(s) in " + f.plan + "; nothing was touched");
    return nullptr;
  }
  const PluginSpec* spec = lp->plan.FindInjector(f.name);
  if (!spec) PrintError("no injector \"" + f.name + "\" in " + f.plan);
  return spec;
}

int Inject(const FaultFlags& f) {
  LoadedPlan lp;
  const PluginSpec* spec = FindSpec(f, &lp);
  if (!spec) return kExitUsage;
  int64_t lease_ns = 0;
  if (!f.lease.empty()) {
    auto d = ParseDuration(f.lease);
    if (!d.ok() || *d <= 0) {
      PrintError("--lease: " + (d.ok() ? std::string("must be more than 0") : d.status().message()));
      return kExitUsage;
    }
    lease_ns = *d;
  } else {
    for (const auto& s : lp.plan.steps) {
      if (s.action == StepAction::kInject && s.injector == f.name) {
        lease_ns = s.max_duration_ns;
        break;
      }
    }
  }
  if (lease_ns <= 0) {
    PrintError("no lease for " + f.name + ": give --lease DURATION (the plan has no inject step with max_duration)");
    return kExitUsage;
  }
  std::string run = ManualRunId(lp.plan, f.name);
  if (auto prev = ReadGuardedRun(run); prev.ok()) {
    for (const auto& x : prev->faults) {
      if (x.state != FaultState::kReverted && prev->alive) {
        PrintError(f.name + " is already injected (run " + run + "); faultbench revert " + f.name + " --plan " + f.plan);
        return kExitUsage;
      }
    }
    auto healed = HealLeftovers(std::cout, run);  // a dead earlier session's leftovers
    if (!healed.ok()) {
      PrintError(healed.status().message());
      return kExitRunFailed;
    }
  }
  FaultSpec fault{spec->name, spec->kind, "", spec->settings, lease_ns};
  auto inj = BuildInjector(fault);
  if (!inj.ok()) {
    PrintError(inj.status().message());
    return kExitUsage;
  }
  GuardClient guard;
  Status st = guard.Start(run);
  auto id = st.ok() ? ArmFault(**inj, guard, fault, {run, lease_ns}) : Result<std::string>(st);
  if (!id.ok()) {
    PrintError(id.status().message() + "; nothing was injected");
    (void)guard.Stop();
    return kExitRunFailed;
  }
  Applied applied = ApplyFault(**inj);
  if (!applied.status.ok()) {
    PrintError(applied.status.message());
    (void)DisarmFault(guard, *id, RevertFault(**inj));
    (void)guard.Stop();
    return kExitRunFailed;
  }
  std::string verified;
  switch (applied.check.kind) {
    case CheckResult::Kind::kNoCheck: break;
    case CheckResult::Kind::kInEffect: verified = ", check confirms"; break;
    case CheckResult::Kind::kNotInEffect: verified = ", but the check says it is NOT in effect"; break;
    case CheckResult::Kind::kFailed: verified = ", check failed: " + applied.check.error; break;
  }
  printf("injected %s on %s%s; lease %s (guard pid %d, run %s)\n", f.name.c_str(), (*inj)->where().c_str(),
         verified.c_str(), FormatDuration(lease_ns).c_str(), guard.guard_pid(), run.c_str());
  fflush(stdout);
  if (!f.wait) {
    st = guard.Detach();
    if (!st.ok()) PrintError(st.message());
    printf("the guard reverts it when the lease ends, or now: faultbench revert %s --plan %s\n", f.name.c_str(),
           f.plan.c_str());
    return st.ok() ? kExitOk : kExitRunFailed;
  }
  // --wait: hold the fault until Ctrl-C / SIGTERM or the lease's end.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  sigprocmask(SIG_BLOCK, &sigs, nullptr);
  timespec ts{time_t(lease_ns / kNsPerSec), long(lease_ns % kNsPerSec)};
  int sig = sigtimedwait(&sigs, nullptr, &ts);
  int code = kExitOk;
  if (sig > 0) {
    Reverted reverted = RevertFault(**inj);
    (void)DisarmFault(guard, *id, reverted);  // "unknown": the guard retries it
    printf("%s %s\n", reverted.confirmed() ? "reverted" : "revert not confirmed; the guard retries:", f.name.c_str());
    if (!reverted.confirmed()) PrintError(reverted.Detail());
  }
  st = guard.Stop();  // after the lease: the guard has reverted it (or does now)
  if (!st.ok()) {
    PrintError(st.message());
    code = kExitRunFailed;
  }
  return code;
}

int Revert(const FaultFlags& f) {
  LoadedPlan lp;
  const PluginSpec* spec = FindSpec(f, &lp);
  if (!spec) return kExitUsage;
  std::string run = ManualRunId(lp.plan, f.name);
  int pending = 0, unknown = 0;
  if (auto state = ReadGuardedRun(run); state.ok()) {
    for (const auto& x : state->faults) {
      if (x.state == FaultState::kReverted) continue;
      ++pending;
      std::string detail;
      FaultState s = RevertGuardedFault(x, "revert command", "faultbench revert", &detail);
      printf("%s on %s: %s - %s\n", f.name.c_str(), x.spec.where.c_str(), FaultStateName(s), detail.c_str());
      if (s != FaultState::kReverted) ++unknown;
    }
  }
  if (pending == 0) {
    // Nothing recorded: run the plan's revert anyway (reverts are idempotent).
    auto inj = BuildInjector({spec->name, spec->kind, "", spec->settings, 0});
    if (!inj.ok()) {
      PrintError(inj.status().message());
      return kExitUsage;
    }
    (*inj)->Bind({run, 0});
    Reverted reverted = RevertFault(**inj);
    printf("%s had no active fault under the guard; ran its revert anyway: %s\n", f.name.c_str(),
           reverted.Detail().c_str());
    return reverted.confirmed() ? kExitOk : kExitRunFailed;
  }
  return unknown ? kExitRunFailed : kExitOk;
}

}  // namespace

void RegisterFaultsCommand(CLI::App& app, int* exit_code) {
  auto f = std::make_shared<FaultFlags>();
  CLI::App* faults = app.add_subcommand("faults", "List faults under the guard (run, injector, since, lease left, state)");
  faults->add_flag("--all", f->all, "Also faults already reverted");
  faults->add_flag("--json", f->json, "JSON instead of a table");
  faults->callback([f, exit_code] { *exit_code = ListFaults(*f); });

  CLI::App* recover = app.add_subcommand("recover", "Revert the faults that dead runs left behind");
  recover->add_option("--run", f->run, "Only this run");
  recover->callback([f, exit_code] { *exit_code = Recover(*f); });

  CLI::App* inject = app.add_subcommand("inject", "Inject one of a plan's faults by hand, under the guard");
  inject->add_option("name", f->name, "Injector name in the plan")->required();
  inject->add_option("--plan", f->plan, "Plan file (YAML)")->required();
  inject->add_option("--lease", f->lease, "Lease (default: the plan's max_duration for it), e.g. 60s");
  inject->add_option("--set", f->sets, "Override a plan value: key.path=value (repeatable)");
  inject->add_flag("--wait", f->wait, "Stay until Ctrl-C (then revert) or the lease's end");
  inject->callback([f, exit_code] { *exit_code = Inject(*f); });

  CLI::App* revert = app.add_subcommand("revert", "Revert a fault injected with `faultbench inject`");
  revert->add_option("name", f->name, "Injector name in the plan")->required();
  revert->add_option("--plan", f->plan, "Plan file (YAML)")->required();
  revert->add_option("--set", f->sets, "Override a plan value: key.path=value (repeatable)");
  revert->callback([f, exit_code] { *exit_code = Revert(*f); });

  CLI::App* guard = app.add_subcommand("guard", "Guard process of a run (started by run and inject)");
  guard->group("");  // hidden
  guard->add_option("--run", f->run, "Run id")->required();
  guard->callback([f, exit_code] { *exit_code = RunGuardProcess(f->run); });
}

}  // namespace fb::cli
