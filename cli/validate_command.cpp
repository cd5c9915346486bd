// faultbench validate: loads a plan, prints every problem (exit 2) or a one-line
// summary (exit 0). Touches nothing.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "core/units.h"
#include "plans/plan_loader.h"

namespace fb::cli {

namespace {

struct ValidateFlags {
  std::string plan;
  std::vector<std::string> sets;
};

std::string OneLine(const Plan& p) {
  const Workload& w = p.workload;
  size_t expectations = 0;
  auto count = [&](const Limits& l) {
    expectations += size_t(l.max_stall_ns.has_value()) + size_t(l.max_latency_ns.has_value()) +
                    size_t(l.io_errors.has_value()) + size_t(l.recovery.has_value());
  };
  count(p.expect.overall);
  for (const auto& [n, l] : p.expect.faults) count(l);
  for (const auto& [n, l] : p.expect.phases) count(l);
  std::string s = p.name + ": " +
                  (w.targets.empty() ? std::string("no local target")
                                     : w.targets[0] + (w.targets.size() > 1 ? " (+" + std::to_string(w.targets.size() - 1) + ")" : ""));
  if (!p.agents.empty()) s += ", " + std::to_string(p.agents.size()) + " agent(s)";
  s += ", " + std::to_string(w.specs.size()) + " access spec(s), QD " + std::to_string(w.queue_depth) + " x " +
       std::to_string(w.jobs) + " job(s) for " + FormatDuration(w.duration_ns);
  s += ", " + std::to_string(p.injectors.size()) + " injector(s), " + std::to_string(p.probes.size()) + " probe(s), " +
       std::to_string(p.steps.size()) + " step(s)";
  if (p.repeat > 1) s += " x " + std::to_string(p.repeat) + " cycles";
  s += ", " + std::to_string(expectations) + " expectation(s)";
  return s;
}

}  // namespace

void RegisterValidateCommand(CLI::App& app, int* exit_code) {
  auto f = std::make_shared<ValidateFlags>();
  CLI::App* cmd = app.add_subcommand("validate", "Check a plan and report every problem with file:line:column");
  cmd->add_option("plan", f->plan, "Plan file (YAML)")->required();
  cmd->add_option("--set", f->sets, "Override a plan value: key.path=value (repeatable)");
  cmd->callback([f, exit_code] {
    LoadedPlan lp = LoadPlanFile(f->plan, f->sets);
    if (!lp.ok()) {
      for (const auto& p : lp.problems) std::fprintf(stderr, "%s\n", p.ToString().c_str());
      std::fprintf(stderr, "faultbench: %zu problem(s) in %s\n", lp.problems.size(), f->plan.c_str());
      *exit_code = kExitUsage;
      return;
    }
    std::printf("plan OK: %s\n", OneLine(lp.plan).c_str());
    *exit_code = kExitOk;
  });
}

}  // namespace fb::cli
