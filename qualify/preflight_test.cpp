// preflight against the lab pool's XAPI database served live (qualify/test_pool.h):
// a plan written by plan new for a sound pool passes; each thing the lab can make
// wrong on purpose (lab/pool_db.h) is the FAIL a real pool's would be; a fault
// that reaches a host through the NIC it cuts is a FAIL naming both; what is not
// checked says so.
#include "qualify/preflight.h"

#include <doctest/doctest.h>

#include "plans/plan_loader.h"
#include "qualify/plan_new.h"
#include "qualify/test_pool.h"
#include "tests/support/rigs.h"
#include "tests/support/test_util.h"

namespace fb {

namespace {

using nlohmann::json;
using R = PreflightCheck::Result;

// plan new's plan for `inventory` (the served pool's), loaded; overrides as --set.
Plan MakePlan(const json& inventory, const std::string& scenario, const json& site,
              const std::vector<std::string>& overrides = {}) {
  PlanNewRequest r;
  r.scenario = scenario;
  r.site = site;
  r.inventory_label = "inventory.yaml";
  r.created = "2026-12-06T12:00:00Z";
  auto text = NewPlan(inventory, r);
  REQUIRE_MESSAGE(text.ok(), text.status().message());
  LoadedPlan lp = LoadPlanText(*text, scenario + ".yaml", overrides);
  REQUIRE_MESSAGE(lp.ok(), lp.ToStatus().message());
  return lp.plan;
}

const PreflightCheck* Find(const std::vector<PreflightCheck>& checks, const std::string& check) {
  for (const auto& c : checks)
    if (c.check == check) return &c;
  return nullptr;
}

R ResultOf(const std::vector<PreflightCheck>& checks, const std::string& check) {
  const PreflightCheck* c = Find(checks, check);
  REQUIRE_MESSAGE(c, "no check " << check << " in\n" << PreflightTable(checks));
  return c->result;
}

std::vector<PreflightCheck> Run(const Plan& plan) {
  PreflightOptions o;
  o.agents = false;  // the lab's VMs are not here; their line says unchecked
  return Preflight(plan, o);
}

}  // namespace

TEST_CASE("preflight: a plan new wrote for a sound pool passes, and says what it did not check" *
          doctest::test_suite("unit")) {
  TempDir dir;
  ScopedEnv password("FB_XAPI_PASSWORD", "any");
  testing::ServedPool pool(testing::PoolSpec());
  auto checks = Run(MakePlan(pool.inventory, "host-power-loss", testing::LabLikeSite(dir.path())));
  INFO(PreflightTable(checks));
  CHECK(!PreflightFailed(checks));
  CHECK(ResultOf(checks, "xapi.reachable") == R::kPass);
  CHECK(ResultOf(checks, "ha.enabled") == R::kPass);
  CHECK(ResultOf(checks, "ha.hosts") == R::kPass);
  CHECK(ResultOf(checks, "ha.plan") == R::kPass);
  CHECK(ResultOf(checks, "ha.timeout") == R::kPass);
  CHECK(ResultOf(checks, "ha.heartbeat_sr") == R::kWarn);  // 512 MiB: enough, below the documented 4 GiB
  CHECK(ResultOf(checks, "ha.vm.vm-2") == R::kPass);       // the VM the plan waits to see restarted
  CHECK(ResultOf(checks, "storage.paths.host-2.fb-metro-lun") == R::kPass);
  CHECK(ResultOf(checks, "xapi.management.host-1") == R::kWarn);  // static, not bonded
  CHECK(ResultOf(checks, "agent") == R::kUnchecked);
  CHECK(ResultOf(checks, "fault.check.power") == R::kUnchecked);  // a command without a check
  std::string table = PreflightTable(checks);
  CHECK(table.find("preflight: ") != std::string::npos);
  CHECK(table.find(" 0 fail") != std::string::npos);
  json j = PreflightJson(checks);
  CHECK(j["fail"] == 0);
  CHECK(j["unchecked"].get<int>() >= 2);
}

TEST_CASE("preflight: each defect of the pool is a FAIL that says what to do" * doctest::test_suite("unit")) {
  TempDir dir;
  ScopedEnv password("FB_XAPI_PASSWORD", "any");
  json site = testing::LabLikeSite(dir.path());
  // The plan is written for the sound pool; the pool then goes wrong.
  json inventory = testing::ServedPool(testing::PoolSpec()).inventory;
  {
    testing::ServedPool broken(
        testing::PoolSpec({"ha-off", "unprotected:vm-2", "one-path:host-2", "dhcp-mgmt:host-3"}));
    json inv = inventory;
    inv["xapi"]["url"] = broken.url;
    auto checks = Run(MakePlan(inv, "host-power-loss", site));
    INFO(PreflightTable(checks));
    CHECK(PreflightFailed(checks));
    CHECK(ResultOf(checks, "ha.enabled") == R::kFail);
    CHECK(ResultOf(checks, "ha.plan") == R::kFail);
    CHECK(ResultOf(checks, "ha.vm.vm-2") == R::kFail);
    CHECK(Find(checks, "ha.vm.vm-2")->todo.find("ha-restart-priority=restart") != std::string::npos);
    CHECK(ResultOf(checks, "storage.paths.host-2.fb-metro-lun") == R::kFail);
    CHECK(Find(checks, "storage.paths.host-2.fb-metro-lun")->seen.find("1 of 2 paths active") !=
          std::string::npos);
    CHECK(ResultOf(checks, "storage.paths.host-1.fb-metro-lun") == R::kPass);
    CHECK(ResultOf(checks, "xapi.management.host-3") == R::kFail);
  }
  {
    testing::ServedPool broken(testing::PoolSpec({"local-cd:vm-2"}));
    json inv = inventory;
    inv["xapi"]["url"] = broken.url;
    auto checks = Run(MakePlan(inv, "mgmt-nic-loss", site));
    CHECK(ResultOf(checks, "ha.vm.vm-2") == R::kFail);
    CHECK(Find(checks, "ha.vm.vm-2")->seen.find("Local ISO library on host-2") != std::string::npos);
  }
  {
    lab::PoolDbSpec small = testing::PoolSpec();
    small.statefile_bytes = 64ull << 20;
    testing::ServedPool broken(small);
    json inv = inventory;
    inv["xapi"]["url"] = broken.url;
    auto checks = Run(MakePlan(inv, "host-power-loss", site));
    CHECK(ResultOf(checks, "ha.heartbeat_sr") == R::kFail);
    CHECK(Find(checks, "ha.heartbeat_sr")->todo.find("356 MiB") != std::string::npos);
  }
  // The pool cannot be read at all: a FAIL, and HA is unchecked, never passed.
  json gone = inventory;
  gone["xapi"]["url"] = "http://127.0.0.1:1";
  auto checks = Run(MakePlan(gone, "host-power-loss", site, {"probes.xapi.fallback_urls=[]"}));
  CHECK(ResultOf(checks, "xapi.reachable") == R::kFail);
  CHECK(ResultOf(checks, "ha") == R::kUnchecked);
  CHECK(Find(checks, "ha.enabled") == nullptr);
}

TEST_CASE("preflight: a fault that reaches its host through the NIC it cuts is a FAIL naming both" *
          doctest::test_suite("unit")) {
  TempDir dir;
  ScopedEnv password("FB_XAPI_PASSWORD", "any");
  testing::ServedPool pool(testing::PoolSpec());
  json site = testing::LabLikeSite(dir.path());
  site.erase("injectors");
  site["dom0"] = {{"identity_file", dir.path() + "/id"}, {"known_hosts", dir.path() + "/known_hosts"}};
  // As plan new writes it: over host-2's storage address. Only the path check is asked.
  Plan good = MakePlan(pool.inventory, "mgmt-nic-loss", site);
  auto ok = CheckInventory(good, {{"xapi", pool.inventory["xapi"]}});
  CHECK(ResultOf(ok, "fault.path.mgmt-nic") == R::kPass);
  // Hand-edited to go through the management address: the revert could never arrive.
  Plan bad = MakePlan(pool.inventory, "mgmt-nic-loss", site, {"injectors.mgmt-nic.host=198.18.10.12"});
  auto checks = CheckInventory(bad, {{"xapi", pool.inventory["xapi"]}});
  REQUIRE(ResultOf(checks, "fault.path.mgmt-nic") == R::kFail);
  const PreflightCheck* c = Find(checks, "fault.path.mgmt-nic");
  CHECK(c->seen.find("reaches host-2 at 198.18.10.12 through mgmt0, the very NIC it cuts") !=
        std::string::npos);
}

}  // namespace fb
