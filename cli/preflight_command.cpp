// faultbench preflight PLAN: read-only checks that the platform can pass the plan
// (qualify/preflight.h). Exit 0 when nothing fails, 1 when a check fails, 2 for a
// plan that does not load.
#include <cstdio>
#include <fstream>
#include <memory>

#include "cli/commands.h"
#include "plans/plan_loader.h"
#include "qualify/preflight.h"

namespace fb::cli {

namespace {

struct PreflightFlags {
  std::string plan, json;
  std::vector<std::string> sets;
  bool no_agents = false;
};

int PreflightCommand(const PreflightFlags& f) {
  LoadedPlan lp = LoadPlanFile(f.plan, f.sets);
  if (!lp.ok()) {
    for (const auto& p : lp.problems) std::fprintf(stderr, "%s\n", p.ToString().c_str());
    std::fprintf(stderr, "faultbench: %zu problem(s) in %s; nothing was checked\n", lp.problems.size(),
                 f.plan.c_str());
    return kExitUsage;
  }
  std::fprintf(stderr, "preflight: checking %s (read-only) ...\n", f.plan.c_str());
  PreflightOptions o;
  o.agents = !f.no_agents;
  auto checks = Preflight(lp.plan, o);
  std::printf("%s", PreflightTable(checks).c_str());
  if (!f.json.empty()) {
    std::ofstream out(f.json);
    out << PreflightJson(checks).dump(2) << "\n";
    if (!out.flush()) {
      PrintError("cannot write " + f.json);
      return kExitRunFailed;
    }
  }
  return PreflightFailed(checks) ? kExitExpectationFailed : kExitOk;
}

}  // namespace

void RegisterPreflightCommand(CLI::App& app, int* exit_code) {
  auto f = std::make_shared<PreflightFlags>();
  CLI::App* cmd = app.add_subcommand(
      "preflight",
      "Read-only checks that the platform can pass a plan: HA, paths, pods, agents, BMCs, fault paths");
  cmd->add_option("plan", f->plan, "Plan file (YAML)")->required();
  cmd->add_option("--set", f->sets, "Override a plan value: key.path=value (repeatable)");
  cmd->add_option("--json", f->json, "Also write the checks as JSON to this file");
  cmd->add_flag("--no-agents", f->no_agents, "Do not connect the agents (their line says unchecked)");
  cmd->callback([f, exit_code] { *exit_code = PreflightCommand(*f); });
}

}  // namespace fb::cli
