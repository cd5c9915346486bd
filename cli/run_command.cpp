// faultbench run: validates a plan (exit 2 before anything is touched), then
// executes it (plans/runner.h). SIGINT/SIGTERM: revert every fault, then stop
// with status "aborted"; a second signal only hurries it.
#include <signal.h>

#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "metrics/metrics_exporter.h"
#include "plans/plan_loader.h"
#include "plans/runner.h"
#include "qualify/preflight.h"

namespace fb::cli {

namespace {

struct RunFlags {
  std::string plan, out = "runs", metrics;
  std::vector<std::string> sets;
  bool quiet = false, live = false, skip_preflight = false;
};

std::atomic<Runner*> g_runner{nullptr};

void OnSignal(int) {
  if (Runner* r = g_runner.load()) r->Abort();
}

int RunPlanCommand(const RunFlags& f) {
  if (!f.metrics.empty()) {
    if (Status st = ValidateListenAddress(f.metrics); !st.ok()) {
      PrintError(st.message());
      return kExitUsage;
    }
  }
  LoadedPlan lp = LoadPlanFile(f.plan, f.sets);
  if (!lp.ok()) {
    for (const auto& p : lp.problems) std::fprintf(stderr, "%s\n", p.ToString().c_str());
    std::fprintf(stderr, "faultbench: %zu problem(s) in %s; nothing was run\n", lp.problems.size(),
                 f.plan.c_str());
    return kExitUsage;
  }
  RunOptions options;
  // Preflight first (qualify/preflight.h): a FAIL refuses the run before anything is touched.
  // The agents are not connected here: the run connects each one before it starts.
  if (f.skip_preflight) {
    options.preflight = {{"skipped", true}};
    std::fprintf(stderr, "faultbench: preflight SKIPPED (--skip-preflight): the platform was not checked\n");
  } else {
    PreflightOptions po;
    po.agents = false;
    auto checks = Preflight(lp.plan, po);
    options.preflight = PreflightJson(checks);
    bool failed = PreflightFailed(checks);
    if (!f.quiet || failed) std::fprintf(failed ? stderr : stdout, "%s", PreflightTable(checks).c_str());
    if (failed) {
      std::fprintf(
          stderr,
          "faultbench: preflight failed: nothing was run (fix what FAIL says, or --skip-preflight to run "
          "anyway)\n");
      return kExitUsage;
    }
  }
  options.out_dir = f.out;
  options.quiet = f.quiet;
  options.live = f.live;
  options.metrics_listen = f.metrics;
  Runner runner(lp.plan, options);
  g_runner.store(&runner);
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  int code = runner.Run();
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  g_runner.store(nullptr);
  return code;
}

}  // namespace

void RegisterRunCommand(CLI::App& app, int* exit_code) {
  auto f = std::make_shared<RunFlags>();
  CLI::App* cmd = app.add_subcommand("run", "Run a plan: load, faults on a timeline, probes, expectations");
  cmd->add_option("plan", f->plan, "Plan file (YAML)")->required();
  cmd->add_option("--out", f->out, "Directory for run journals")->capture_default_str();
  cmd->add_option("--set", f->sets, "Override a plan value: key.path=value (repeatable)");
  cmd->add_flag("--quiet,-q", f->quiet, "Only the final summary");
  cmd->add_option(
      "--metrics", f->metrics,
      "Serve Prometheus metrics on HOST:PORT (overrides the plan's metrics.listen; off by default)");
  cmd->add_flag("--live", f->live, "Per-interval lines even when stdout is not a terminal");
  cmd->add_flag("--skip-preflight", f->skip_preflight,
                "Run even if preflight fails (recorded in the journal and the report)");
  cmd->callback([f, exit_code] { *exit_code = RunPlanCommand(*f); });
}

}  // namespace fb::cli
