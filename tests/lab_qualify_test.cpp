// End-to-end: from the lab pool to a checked, passing run with no hand edit, as
// a user qualifies a real pool (README, "Qualifying a real pool"): lab up --pool 3
// --vms 2, discover (XAPI and both arrays' REST), plan new for every scenario with
// the lab's site file, validate, preflight (agents connected over ssh), then run
// two of the plans. Root only; holds the LabLock and takes the lab down in a guard.
#include <doctest/doctest.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/jsonl_writer.h"
#include "lab/pool.h"
#include "qualify/plan_new.h"
#include "tests/support/lab_fixture.h"
#include "tests/support/rigs.h"
#include "tests/support/skip.h"
#include "tests/support/test_util.h"

namespace fb::labtest {

TEST_CASE("lab e2e: discover, plan new for every scenario, validate, preflight and run, no hand edit" *
          doctest::test_suite("slow")) {
  if (!CanRunLab()) return;
  if (access("/usr/sbin/sshd", X_OK) != 0) {
    Skip("needs /usr/sbin/sshd");
    return;
  }
  lab::LabOptions o;
  o.lun_size_bytes = 64ull << 20;
  o.faultbench_path = FB_CLI_PATH;
  o.pool_hosts = 3;
  o.pool_vms = 2;
  o.ha_timeout_ns = 2 * kNsPerSec;
  o.ha_heartbeat_interval_ns = 500 * kNsPerMs;
  o.start_ha_sim = true;
  LabSession session(o);
  REQUIRE_MESSAGE(session.error().empty(), session.error());
  REQUIRE(session.info().has_pool);
  ScopedEnv password("FB_XAPI_PASSWORD", "any");  // the lab's XAPI takes any password for root
  ScopedEnv token("FB_ARRAY_API_TOKEN", session.info().api_token);

  TempDir tmp;
  const std::string inv = tmp.path() + "/inventory.yaml";
  auto discover = RunCli({"discover", "--xapi", "http://" + lab::PoolHostMgmtAddr(1), "--array",
                          "http://198.18.1.2:8080", "--array", "http://198.18.2.2:8080", "--out", inv},
                         60 * kNsPerSec);
  MESSAGE(discover.out);
  REQUIRE_MESSAGE(discover.exit_code == 0, discover.out << discover.err);
  CHECK(discover.out.find("fb-metro-lun") != std::string::npos);
  CHECK(discover.out.find("fb-pod::fb-metro-lun") != std::string::npos);

  const std::string site = lab::PoolSitePath(session.info().state_dir);
  for (const std::string& scenario : PlanScenarios()) {
    CAPTURE(scenario);
    const std::string plan = tmp.path() + "/" + scenario + ".yaml";
    auto made = RunCli({"plan", "new", scenario, "--inventory", inv, "--site", site, "--out", plan});
    REQUIRE_MESSAGE(made.exit_code == 0, made.out << made.err);
    auto text = ReadFile(plan);
    REQUIRE(text.ok());
    CHECK(text->find("FILL IN") == std::string::npos);
    auto valid = RunCli({"validate", plan});
    CHECK_MESSAGE(valid.exit_code == 0, valid.out << valid.err << *text);
    auto pre = RunCli({"preflight", plan}, 60 * kNsPerSec);
    MESSAGE(scenario << ":\n" << pre.out);
    CHECK_MESSAGE(pre.exit_code == 0, pre.out << pre.err);
    CHECK(pre.out.find("PASS      agent.vm-1") != std::string::npos);
    CHECK(pre.out.find("PASS      agent.vm-2") != std::string::npos);
  }

  // Two of them run: the HA one (vm-2's host powered off, HA restarts it on
  // host-3) and a path loss on host-1 (vm-1's path through site A).
  for (const std::string scenario : {"host-power-loss", "path-loss"}) {
    CAPTURE(scenario);
    const std::string out = tmp.path() + "/runs-" + scenario;
    auto run =
        RunCli({"run", tmp.path() + "/" + scenario + ".yaml", "--out", out, "--quiet"}, 180 * kNsPerSec);
    std::string dir = OnlyRunDir(out);
    REQUIRE_MESSAGE(!dir.empty(), "no run directory: " << run.out << run.err);
    auto summary = ReadFile(dir + "/summary.txt");
    MESSAGE((summary.ok() ? *summary : run.out));
    CHECK_MESSAGE(run.exit_code == 0, run.out << run.err);
    REQUIRE(summary.ok());
    CHECK(summary->find("Preflight: ") != std::string::npos);
    CHECK(summary->find(" 0 fail") != std::string::npos);
  }
  std::vector<json> lab_events = ReadJsonl(session.info().events_file);
  bool restarted_vm2 = false;
  for (const json& e : lab_events)
    if (e.value("kind", "") == "vm_started" && e["attrs"].value("vm", "") == "vm-2" &&
        e["attrs"].value("host", "") != "host-2")
      restarted_vm2 = true;
  CHECK_MESSAGE(restarted_vm2, "the simulator never restarted vm-2 away from host-2");
}

}  // namespace fb::labtest
