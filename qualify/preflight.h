// `faultbench preflight PLAN`: read-only checks that the platform can pass the
// plan at all, before a long destructive run. Each check is one line:
//   PASS|WARN|FAIL|UNCHECKED  check  what was seen  what to do
// What could not be checked says so and never counts as a PASS. `faultbench run`
// runs it first and refuses to start on a FAIL (--skip-preflight overrides, and
// the run's journal says so).
//
// What is checked (qualify/README.md, "Preflight"), from the plan's own probes
// and settings, never from anything else:
//   xapi.*     the pool through the plan's xapi probe: reachable, every host live
//              and enabled, management PIFs static (bonded recommended)
//   ha.*       for a plan that waits on HA (platform.ha, or a wait for host_down,
//              vm_started or an agent's restart): HA on, 3 or more hosts, the
//              heartbeat SR (shared, supported type, no CHAP, >= 356 MiB, 4 GiB
//              recommended), ha_plan_exists_for >= ha_host_failures_to_tolerate >= 1,
//              the plan's HA timeout = the pool's, every VM the plan waits to see
//              restarted protected and agile
//   storage.*  every host sees the agents' SRs (or every shared iSCSI SR) attached
//              on 2 or more active paths
//   array.*    through the plan's array probes: each pod online on both arrays, the
//              mediator reachable from both
//   agent.*    each agent reachable (ssh, hello, protocol), its clock offset
//   fault.*    each injector's check answers read-only (a BMC's power status) and
//              says the fault is not in effect yet; an injector that reaches a host
//              through the very NIC it cuts is a FAIL naming both
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "plans/plan.h"

namespace fb {

struct PreflightCheck {
  enum class Result { kPass, kWarn, kFail, kUnchecked } result = Result::kPass;
  std::string check;  // "ha.enabled", "storage.paths.host-2", ...
  std::string seen;   // what was seen
  std::string todo;   // what to do ("" when nothing)
};
const char* PreflightResultName(PreflightCheck::Result r);

struct PreflightOptions {
  bool agents = true;  // connect each agent (`run` leaves it to its own connect)
  bool faults = true;  // ask each injector's check
};

// Every check for the plan, reading the platform through the plan's probes.
std::vector<PreflightCheck> Preflight(const Plan& plan, const PreflightOptions& options);

// The checks that need only an inventory (qualify/inventory.h) read now: pool,
// HA, storage, arrays and the fault paths. Preflight() calls it.
std::vector<PreflightCheck> CheckInventory(const Plan& plan, const nlohmann::json& inventory);

// One line per check, columns aligned; a last line with the counts.
std::string PreflightTable(const std::vector<PreflightCheck>& checks);
bool PreflightFailed(const std::vector<PreflightCheck>& checks);
// {"pass": n, "warn": n, "fail": n, "unchecked": n, "checks": [{result, check, seen, todo}]}
nlohmann::json PreflightJson(const std::vector<PreflightCheck>& checks);

}  // namespace fb
