// plan new from an inventory that discover read off the lab pool's XAPI database
// (lab/pool_db.h, served by the same XapiService fb-ha-sim runs): each scenario
// gives a plan the loader accepts with no FILL IN, the rules pick the victim and
// the survivor, and a pool with no valid choice stops with what to change.
#include "qualify/plan_new.h"

#include <doctest/doctest.h>

#include <fstream>

#include "plans/plan_loader.h"
#include "qualify/test_pool.h"
#include "tests/support/rigs.h"
#include "tests/support/test_util.h"

namespace fb {

namespace {

using nlohmann::json;

lab::PoolDbSpec Spec(std::vector<std::string> defects = {}) { return testing::PoolSpec(std::move(defects)); }

json Inventory(const lab::PoolDbSpec& spec) { return testing::ServedPool(spec).inventory; }

json Site(const TempDir& dir) { return testing::LabLikeSite(dir.path()); }

PlanNewRequest Request(const std::string& scenario, const json& site) {
  PlanNewRequest r;
  r.scenario = scenario;
  r.site = site;
  r.inventory_label = "inventory.yaml";
  r.created = "2026-12-06T12:00:00Z";
  return r;
}

}  // namespace

TEST_CASE("plan new: every scenario gives a plan the loader accepts, with no FILL IN" *
          doctest::test_suite("unit")) {
  TempDir dir;
  ScopedEnv xapi_password("FB_XAPI_PASSWORD", "any");
  ScopedEnv token("FB_ARRAY_API_TOKEN", "token");
  json inv = Inventory(Spec());
  json site = Site(dir);
  for (const std::string& scenario : PlanScenarios()) {
    CAPTURE(scenario);
    auto text = NewPlan(inv, Request(scenario, site));
    REQUIRE_MESSAGE(text.ok(), text.status().message());
    CHECK(text->find("FILL IN") == std::string::npos);
    LoadedPlan loaded = LoadPlanText(*text, scenario + ".yaml");
    CHECK_MESSAGE(loaded.ok(), loaded.ToStatus().message() << "\n" << *text);
    if (!loaded.ok()) continue;
    const Plan& p = loaded.plan;
    REQUIRE(p.agents.size() == 2);
    if (scenario == "host-power-loss" || scenario == "mgmt-nic-loss") {
      // vm-1 runs on the master: the victim is vm-2, the survivor vm-1.
      CHECK(p.agents[0].name == "vm-2");
      CHECK(p.agents[1].name == "vm-1");
      bool filled = text->find("echo off host-2") != std::string::npos ||
                    text->find("echo cut host-2") != std::string::npos;
      CHECK(filled);
      CHECK(text->find("the pool's HA timeout, 2 s (ha_configuration:timeout)") != std::string::npos);
    } else {
      CHECK(p.agents[0].name == "vm-1");  // the first by name that passes
      CHECK(p.agents[1].name == "vm-2");
    }
    CHECK(text->find("\"fallback_urls\": [\"http://198.18.10.12:") == std::string::npos);  // block style
    CHECK(text->find("fallback_urls: [\"http://198.18.10.12") != std::string::npos);
  }
  auto repl = NewPlan(inv, Request("replication-cut", site));
  REQUIRE(repl.ok());
  CHECK(repl->find("network-interfaces?names=repl0") != std::string::npos);
  CHECK(repl->find("volume fb-pod::fb-metro-lun holds SR fb-metro-lun") != std::string::npos);
  auto path = NewPlan(inv, Request("path-loss", site));
  REQUIRE(path.ok());
  CHECK(path->find("netns: \"fb-host-1\"") != std::string::npos);
}

TEST_CASE("plan new: the platform's own settings when the site gives no injector" *
          doctest::test_suite("unit")) {
  TempDir dir;
  json inv = Inventory(Spec());
  json site = Site(dir);
  site.erase("injectors");
  // mgmt-nic-loss over ssh to dom0: never through the management network it cuts.
  auto no_ssh = NewPlan(inv, Request("mgmt-nic-loss", site));
  REQUIRE(!no_ssh.ok());
  CHECK(no_ssh.status().message().find("dom0.identity_file") != std::string::npos);
  site["dom0"] = {{"identity_file", dir.path() + "/id"}, {"known_hosts", dir.path() + "/known_hosts"}};
  auto mgmt = NewPlan(inv, Request("mgmt-nic-loss", site));
  REQUIRE_MESSAGE(mgmt.ok(), mgmt.status().message());
  CHECK(mgmt->find("\"kind\": \"link\"") == std::string::npos);
  CHECK(mgmt->find("kind: \"link\"") != std::string::npos);
  CHECK(mgmt->find("host: \"198.18.22.2\"") != std::string::npos);  // host-2's sto-a, not 198.18.10.12
  CHECK(mgmt->find("interface: \"mgmt0\"") != std::string::npos);
  // path-loss logs one iSCSI session out: the first portal of the PBD's multihomelist.
  auto path = NewPlan(inv, Request("path-loss", site));
  REQUIRE(path.ok());
  CHECK(path->find("portal: \"198.18.1.2:3260\"") != std::string::npos);
  CHECK(path->find("target: \"iqn.2026-11.test.faultbench:lun\"") != std::string::npos);
  // host-power-loss needs a BMC: XAPI's power_on_config or the site's bmc.
  auto no_bmc = NewPlan(inv, Request("host-power-loss", site));
  REQUIRE(!no_bmc.ok());
  CHECK(no_bmc.status().message().find("no BMC address known for host-2") != std::string::npos);
  site["bmc"] = {{"user", "ADMIN"}, {"hosts", {{"host-2", "198.18.12.2"}}}};
  auto power = NewPlan(inv, Request("host-power-loss", site));
  REQUIRE(power.ok());
  CHECK(power->find("kind: \"ipmi\"") != std::string::npos);
  CHECK(power->find("password_env: \"FB_IPMI_PASSWORD\"") != std::string::npos);
}

TEST_CASE("plan new: no valid choice stops with what to change on the platform" *
          doctest::test_suite("unit")) {
  TempDir dir;
  json site = Site(dir);
  auto unprotected = NewPlan(Inventory(Spec({"unprotected:vm-2"})), Request("host-power-loss", site));
  REQUIRE(!unprotected.ok());
  std::string m = unprotected.status().message();
  CHECK(m.find("no VM can be the victim of host-power-loss") != std::string::npos);
  CHECK(m.find("vm-1: it runs on the master host-1") != std::string::npos);
  CHECK(m.find("vm-2: HA does not protect it") != std::string::npos);
  CHECK(m.find("ha-restart-priority=restart") != std::string::npos);

  auto forced = NewPlan(Inventory(Spec()), [&] {
    PlanNewRequest r = Request("mgmt-nic-loss", site);
    r.victim = "vm-1";
    return r;
  }());
  REQUIRE(!forced.ok());
  CHECK(forced.status().message().find("--victim vm-1 cannot be the victim: it runs on the master host-1") !=
        std::string::npos);

  auto ha_off = NewPlan(Inventory(Spec({"ha-off"})), Request("host-power-loss", site));
  REQUIRE(!ha_off.ok());
  CHECK(ha_off.status().message().find("HA is off on pool fb-pool") != std::string::npos);

  auto local_cd = NewPlan(Inventory(Spec({"local-cd:vm-2"})), Request("host-power-loss", site));
  REQUIRE(!local_cd.ok());
  CHECK(local_cd.status().message().find("vm-2: it is not agile") != std::string::npos);

  // One path on host-1: vm-1 cannot be the path-loss victim, vm-2 (host-2) is.
  auto path = NewPlan(Inventory(Spec({"one-path:host-1"})), Request("path-loss", site));
  REQUIRE(path.ok());
  CHECK(path->find("vm-2 on host-2 is the victim") != std::string::npos);

  auto unknown = NewPlan(Inventory(Spec()), Request("disk-pull", site));
  CHECK(unknown.status().message().find("unknown scenario \"disk-pull\"") != std::string::npos);
}

}  // namespace fb
