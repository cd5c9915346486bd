// faultbench plan new SCENARIO --inventory inventory.yaml: a complete plan for a
// seed scenario from what discover read (qualify/plan_new.h). Exit 0 when the
// plan is written, 2 when the inventory offers no valid choice (the message says
// what to change on the platform) or a flag or file is wrong.
#include <cstdio>
#include <fstream>
#include <memory>

#include "cli/commands.h"
#include "core/clock.h"
#include "qualify/plan_new.h"

namespace fb::cli {

namespace {

struct PlanNewFlags {
  std::string scenario, inventory = "inventory.yaml", site, victim, survivor, out;
};

int PlanNew(const PlanNewFlags& f) {
  auto inv = ReadYamlFile(f.inventory);
  if (!inv.ok()) {
    PrintError("--inventory " + inv.status().message());
    return kExitUsage;
  }
  PlanNewRequest req;
  req.scenario = f.scenario;
  req.victim = f.victim;
  req.survivor = f.survivor;
  req.inventory_label = f.inventory;
  req.created = FormatUtcIso(UtcNs(), 0);
  if (!f.site.empty()) {
    auto site = ReadYamlFile(f.site);
    if (!site.ok()) {
      PrintError("--site " + site.status().message());
      return kExitUsage;
    }
    if (!site->is_object()) {
      PrintError("--site " + f.site + ": not a mapping (agent_defaults, agents, dom0, bmc, injectors, ...)");
      return kExitUsage;
    }
    req.site = *site;
  }
  auto plan = NewPlan(*inv, req);
  if (!plan.ok()) {
    PrintError("plan new " + f.scenario + ": " + plan.status().message());
    return kExitUsage;
  }
  std::string out = f.out.empty() ? f.scenario + ".yaml" : f.out;
  std::string tmp = out + ".tmp";
  {
    std::ofstream o(tmp);
    o << *plan;
    if (!o.flush()) {
      PrintError("cannot write " + tmp);
      return kExitRunFailed;
    }
  }
  if (std::rename(tmp.c_str(), out.c_str()) != 0) {
    PrintError("cannot write " + out);
    return kExitRunFailed;
  }
  // The header's choices, for the terminal.
  std::printf("plan written to %s\n", out.c_str());
  std::printf("next: faultbench validate %s && faultbench preflight %s && faultbench run %s\n", out.c_str(),
              out.c_str(), out.c_str());
  return kExitOk;
}

}  // namespace

void RegisterPlanCommand(CLI::App& app, int* exit_code) {
  CLI::App* plan = app.add_subcommand("plan", "Write plans");
  plan->require_subcommand(1);
  auto f = std::make_shared<PlanNewFlags>();
  std::string scenarios;
  for (const auto& s : PlanScenarios()) scenarios += (scenarios.empty() ? "" : ", ") + s;
  CLI::App* cmd = plan->add_subcommand(
      "new", "A complete plan for a seed scenario from an inventory (faultbench discover), with no FILL IN");
  cmd->add_option("scenario", f->scenario, "One of: " + scenarios)->required();
  cmd->add_option("--inventory", f->inventory, "What faultbench discover wrote")->capture_default_str();
  cmd->add_option("--site", f->site,
                  "What the platform cannot tell: ssh keys, the VMs' scratch disk, BMCs, injectors "
                  "(qualify/README.md)");
  cmd->add_option("--victim", f->victim, "The VM whose host the fault hits (default: chosen by the rules)");
  cmd->add_option("--survivor", f->survivor, "A VM on another host (default: chosen by the rules)");
  cmd->add_option("--out", f->out, "Plan file (default SCENARIO.yaml)");
  cmd->callback([f, exit_code] { *exit_code = PlanNew(*f); });
}

}  // namespace fb::cli
