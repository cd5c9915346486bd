// faultbench deploy PLAN: this build's agent on every agent host of the plan
// (qualify/deploy.h). Exit 0 when every agent answers with this version, 1
// naming those that do not, 2 for a plan that does not load or a bad package.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "core/status.h"
#include "core/version.h"
#include "plans/plan_loader.h"
#include "qualify/deploy.h"

namespace fb::cli {

namespace {

struct DeployFlags {
  std::string plan;
  std::vector<std::string> sets;
  DeployOptions options;
};

int DeployCommand(const DeployFlags& f) {
  LoadedPlan lp = LoadPlanFile(f.plan, f.sets);
  if (!lp.ok()) {
    for (const auto& p : lp.problems) std::fprintf(stderr, "%s\n", p.ToString().c_str());
    std::fprintf(stderr, "faultbench: %zu problem(s) in %s; nothing was deployed\n", lp.problems.size(),
                 f.plan.c_str());
    return kExitUsage;
  }
  if (lp.plan.agents.empty()) {
    PrintError("deploy: " + f.plan + " has no agents");
    return kExitUsage;
  }
  if (Status s = CheckDeployPackage(f.options); !s.ok()) {
    PrintError(s.message());
    return kExitUsage;
  }
  std::fprintf(stderr, "deploy: %s faultbench-agent %s on %zu agent(s) of %s%s ...\n",
               f.options.check ? "checking" : "installing", kVersion, lp.plan.agents.size(), f.plan.c_str(),
               f.options.prefix.empty() ? "" : (" under " + f.options.prefix).c_str());
  auto rows = Deploy(lp.plan, f.options);
  std::printf("%s", DeployTable(rows).c_str());
  std::string failed;
  for (const auto& r : rows)
    if (!r.ok) failed += (failed.empty() ? "" : ", ") + r.agent;
  if (!failed.empty()) {
    PrintError("deploy: failed on " + failed);
    return kExitExpectationFailed;
  }
  return kExitOk;
}

}  // namespace

void RegisterDeployCommand(CLI::App& app, int* exit_code) {
  auto f = std::make_shared<DeployFlags>();
  CLI::App* cmd = app.add_subcommand(
      "deploy", "Install this version's agent on every agent host of a plan over its ssh settings, and check it");
  cmd->add_option("plan", f->plan, "Plan file (YAML)")->required();
  cmd->add_option("--set", f->sets, "Override a plan value: key.path=value (repeatable)");
  cmd->add_option("--package", f->options.package,
                  "faultbench-agent_<version>_<arch>.deb, or the agent tarball .tar.gz (scripts/package)");
  cmd->add_option("--prefix", f->options.prefix,
                  "Only unpack the package under this directory on each host (no dpkg, no unit)");
  cmd->add_flag("--check", f->options.check, "Only report each agent's version, unit and handshake");
  cmd->callback([f, exit_code] { *exit_code = DeployCommand(*f); });
}

}  // namespace fb::cli
