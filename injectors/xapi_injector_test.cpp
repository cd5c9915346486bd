// The xapi injector against the fake pool (fakes/fake_xapi_pool.h) with XAPI's
// operations on its database (fakes/xapi_ops.h): the exact calls, tasks followed
// to their end and destroyed, XAPI's error codes in the messages, reverts that
// check first, a guard's instance that reverts from the state file alone, and a
// master change followed through HOST_IS_SLAVE.
#include "injectors/xapi_injector.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <mutex>

#include "fakes/fake_xapi_pool.h"
#include "fakes/xapi_ops.h"
#include "injectors/fault_lifecycle.h"
#include "platform/xapi_client.h"
#include "tests/support/rigs.h"

namespace fb {

namespace {

using nlohmann::json;

// Three hosts (members 0..2, host-1 the master), one shared SR plugged on each,
// vm-1 running on host-1 with its disk on the SR.
struct Pool {
  FakeXapiPool fake{3};
  std::string hosts[3], pbds[3], sr, vm, pool;
  ScopedEnv password{"FB_TEST_XAPI_INJECTOR_PASSWORD", "xapi-test-password"};

  Pool() {
    REQUIRE(fake.ok());
    InstallXapiOperations(fake.service());
    sr = fake.Add("sr", {{"name_label", "metro-lun"}, {"shared", true}});
    for (int i = 0; i < 3; ++i) {
      std::string m = fake.Add("host_metrics", {{"live", true}});
      hosts[i] = fake.Add("host", {{"name_label", "host-" + std::to_string(i + 1)},
                                   {"address", fake.Address(i)},
                                   {"enabled", true},
                                   {"metrics", m}});
      pbds[i] = fake.Add("pbd", {{"SR", sr}, {"host", hosts[i]}, {"currently_attached", true}});
    }
    std::string vdi = fake.Add("vdi", {{"name_label", "vm-1 disk"}, {"SR", sr}});
    vm = fake.Add("vm", {{"name_label", "vm-1"}, {"power_state", "Running"}, {"resident_on", hosts[0]}});
    std::string vbd = fake.Add("vbd", {{"VM", vm}, {"VDI", vdi}, {"empty", false}, {"type", "Disk"}});
    fake.Mod("vm", vm, {{"VBDs", json::array({vbd})}});
    pool = fake.Add("pool", {{"name_label", "pool-a"}, {"master", hosts[0]}});
  }

  // Settings as a plan gives them; the first URL is a member that is not the master.
  json Settings(json extra) {
    json s = {{"url", fake.Url(2)},
              {"fallback_urls", json::array({fake.Url(0), fake.Url(1)})},
              {"password_env", "FB_TEST_XAPI_INJECTOR_PASSWORD"},
              {"task_timeout", "10s"}};
    for (const auto& [k, v] : extra.items()) s[k] = v;
    return s;
  }
  std::string ResidentOn() { return fake.Record("vm", vm)["resident_on"]; }
};

// The run id names the state file: one of this process's own, so that test
// processes running side by side never share one.
std::unique_ptr<Injector> Build(const json& settings, const std::string& run = "xapi-test") {
  auto inj = BuildInjector(FaultSpec{"op", "xapi", "", settings, 60 * kNsPerSec});
  REQUIRE_MESSAGE(inj.ok(), inj.status().message());
  (*inj)->Bind({run + "-" + std::to_string(getpid()), 60 * kNsPerSec});
  return std::move(*inj);
}

// Whether the state file of injector "op" (Build's) in `run` is there.
bool StateFileLeft(const std::string& run) {
  return access(XapiStatePath(run + "-" + std::to_string(getpid()), "op").c_str(), F_OK) == 0;
}

}  // namespace

TEST_CASE("xapi injector: vm_migrate moves the VM by a task, the check sees it, the revert brings it back" *
          doctest::test_suite("unit")) {
  Pool p;
  auto inj = Build(p.Settings({{"action", "vm_migrate"}, {"vm", "vm-1"}}));
  REQUIRE(inj->Prepare().ok());
  CHECK(*inj->checker()->InEffect() == false);
  Status s = inj->Inject();
  REQUIRE_MESSAGE(s.ok(), s.message());
  CHECK(p.ResidentOn() == p.hosts[1]);  // "another": the first enabled host by name
  CHECK(*inj->checker()->InEffect() == true);
  CHECK(p.fake.Records("task").empty());  // followed to its end, then destroyed
  s = inj->Revert();
  REQUIRE_MESSAGE(s.ok(), s.message());
  CHECK(p.ResidentOn() == p.hosts[0]);
  CHECK(inj->Revert().ok());  // again: it checks first, nothing to do
  CHECK(p.ResidentOn() == p.hosts[0]);
}

TEST_CASE("xapi injector: the guard's instance reverts from the state file alone" *
          doctest::test_suite("unit")) {
  Pool p;
  json settings = p.Settings({{"action", "vm_migrate"}, {"vm", "vm-1"}, {"to", "host-3"}});
  auto runner = Build(settings, "guard-run");
  REQUIRE(runner->Prepare().ok());
  REQUIRE(runner->Inject().ok());
  CHECK(p.ResidentOn() == p.hosts[2]);
  runner.reset();  // the runner died
  auto guard = Build(settings, "guard-run");
  Status s = guard->Revert();  // no Prepare: the origin comes from the file
  REQUIRE_MESSAGE(s.ok(), s.message());
  CHECK(p.ResidentOn() == p.hosts[0]);
}

TEST_CASE("xapi injector: XAPI's refusals carry their code and parameters" * doctest::test_suite("unit")) {
  Pool p;
  p.fake.Mod("host", p.hosts[1], {{"enabled", false}});
  auto disabled = Build(p.Settings({{"action", "vm_migrate"}, {"vm", "vm-1"}, {"to", "host-2"}}));
  Status s = disabled->Inject();
  REQUIRE(!s.ok());
  CHECK(s.message().find("VM.assert_can_boot_here vm-1 on host-2: HOST_DISABLED [\"" + p.hosts[1] + "\"]") !=
        std::string::npos);
  CHECK(p.ResidentOn() == p.hosts[0]);
  // The runner reverts after a failed inject too: nothing to do, nothing left behind.
  CHECK(StateFileLeft("xapi-test"));
  CHECK(disabled->Revert().ok());
  CHECK_FALSE(StateFileLeft("xapi-test"));

  p.fake.Mod("pbd", p.pbds[2], {{"currently_attached", false}});
  auto no_sr = Build(p.Settings({{"action", "vm_migrate"}, {"vm", "vm-1"}, {"to", "host-3"}}), "other-run");
  s = no_sr->Inject();
  REQUIRE(!s.ok());
  CHECK(s.message().find("VM_REQUIRES_SR") != std::string::npos);
  CHECK(no_sr->Revert().ok());

  auto unknown = Build(p.Settings({{"action", "vm_migrate"}, {"vm", "vm-9"}}), "third-run");
  s = unknown->Prepare();
  CHECK(s.message().find("the pool has no VM \"vm-9\"") != std::string::npos);
  CHECK_FALSE(StateFileLeft("other-run"));
  CHECK_FALSE(StateFileLeft("third-run"));  // a prepare alone writes none

  auto bad = BuildInjector(FaultSpec{"op", "xapi", "", p.Settings({{"action", "vm_teleport"}}), kNsPerSec});
  CHECK(!bad.ok());
  CHECK(bad.status().message().find("action") != std::string::npos);
}

TEST_CASE("xapi injector: host_evacuate disables and empties the host, a failed one enables it again" *
          doctest::test_suite("unit")) {
  Pool p;
  auto inj = Build(p.Settings({{"action", "host_evacuate"}, {"host", "host-1"}}));
  Status s = inj->Inject();
  REQUIRE_MESSAGE(s.ok(), s.message());
  CHECK(p.fake.Record("host", p.hosts[0])["enabled"] == false);
  CHECK(p.ResidentOn() != p.hosts[0]);
  CHECK(*inj->checker()->InEffect() == true);
  REQUIRE(inj->Revert().ok());
  CHECK(p.fake.Record("host", p.hosts[0])["enabled"] == true);

  // Nowhere to go: both other hosts disabled.
  Pool q;
  q.fake.Mod("host", q.hosts[1], {{"enabled", false}});
  q.fake.Mod("host", q.hosts[2], {{"enabled", false}});
  auto stuck = Build(q.Settings({{"action", "host_evacuate"}, {"host", "host-1"}}), "stuck");
  s = stuck->Inject();
  REQUIRE(!s.ok());
  CHECK(s.message().find("NO_HOSTS_AVAILABLE") != std::string::npos);
  CHECK(s.message().find("held by: vm-1") != std::string::npos);
  CHECK(s.message().find("host-1 enabled again") != std::string::npos);
  CHECK(q.fake.Record("host", q.hosts[0])["enabled"] == true);
  CHECK(stuck->Revert().ok());
}

TEST_CASE("xapi injector: host_reboot evacuates and reboots the host, its tasks are events, the revert waits until "
          "it is back" *
          doctest::test_suite("unit")) {
  Pool p;
  auto inj = Build(p.Settings({{"action", "host_reboot"}, {"host", "host-1"}}));
  std::vector<Event> events;
  std::mutex mu;
  FaultContext ctx{"xapi-reboot-" + std::to_string(getpid()), 60 * kNsPerSec};
  ctx.emit = [&](Event e) {
    std::lock_guard<std::mutex> l(mu);
    events.push_back(std::move(e));
  };
  inj->Bind(ctx);
  Status s = inj->Inject();
  REQUIRE_MESSAGE(s.ok(), s.message());
  CHECK(p.ResidentOn() != p.hosts[0]);
  std::string metrics = p.fake.Record("host", p.hosts[0])["metrics"];
  CHECK(*inj->checker()->InEffect() == true);  // rebooting: not live, or not enabled yet
  int64_t t0 = MonoNs();
  s = inj->Revert();
  REQUIRE_MESSAGE(s.ok(), s.message());
  CHECK(MonoNs() - t0 < 5 * kNsPerSec);
  CHECK(p.fake.Record("host_metrics", metrics)["live"] == true);
  CHECK(p.fake.Record("host", p.hosts[0])["enabled"] == true);
  CHECK(*inj->checker()->InEffect() == false);
  // Each task's start and end, in order, with the injector as source.
  std::vector<std::string> seen;
  for (const Event& e : events) {
    CHECK(e.source == "op");
    seen.push_back(e.kind + " " + e.attrs.value("method", std::string()) + " " + e.attrs.value("status", std::string()));
  }
  CHECK(seen == std::vector<std::string>{"xapi_host_vms  ", "xapi_task_started host.evacuate ",
                                         "xapi_task_done host.evacuate success", "xapi_task_started host.reboot ",
                                         "xapi_task_done host.reboot success"});
  CHECK(events[0].attrs["vms"] == json::array({"vm-1"}));  // what the evacuation must move
  CHECK(events[0].attrs["host"] == "host-1");
  CHECK(events[2].attrs["duration_ms"].get<double>() >= 0);
}

TEST_CASE("xapi fake: host.reboot refuses an enabled host and one with a running guest, as XAPI does" *
          doctest::test_suite("unit")) {
  Pool p;
  XapiEndpoint e;
  e.urls = {p.fake.Url(0)};
  e.password = "xapi-test-password";
  XapiClient c(e, "test");
  REQUIRE(c.Connect().ok());
  XapiReply r = c.CallS("host.reboot", {p.hosts[0]});
  CHECK(r.error == "HOST_NOT_DISABLED");
  REQUIRE(c.CallS("host.disable", {p.hosts[0]}).ok);
  r = c.CallS("host.reboot", {p.hosts[0]});
  CHECK(r.error == "HOST_IN_USE");
  CHECK(r.data == json::array({p.hosts[0], "VM", p.vm}));
}

TEST_CASE(
    "xapi injector: designate_master moves the master, the injector follows it, the revert moves it back" *
    doctest::test_suite("unit")) {
  Pool p;
  auto inj = Build(p.Settings({{"action", "designate_master"}, {"host", "host-2"}}));
  Status s = inj->Inject();
  REQUIRE_MESSAGE(s.ok(), s.message());
  CHECK(p.fake.Record("pool", p.pool)["master"] == p.hosts[1]);
  CHECK(*inj->checker()->InEffect() == true);  // asked through the new master (HOST_IS_SLAVE followed)
  s = inj->Revert();
  REQUIRE_MESSAGE(s.ok(), s.message());
  CHECK(p.fake.Record("pool", p.pool)["master"] == p.hosts[0]);
  bool transition = false;
  const json messages = p.fake.Records("message");
  for (const auto& [ref, m] : messages.items()) transition |= m["name"] == "POOL_MASTER_TRANSITION";
  CHECK(transition);
}

TEST_CASE("xapi injector: pbd_unplug and vm_hard_shutdown, each reverted" * doctest::test_suite("unit")) {
  Pool p;
  auto unplug = Build(p.Settings({{"action", "pbd_unplug"}, {"host", "host-2"}, {"sr", "metro-lun"}}));
  REQUIRE(unplug->Inject().ok());
  CHECK(p.fake.Record("pbd", p.pbds[1])["currently_attached"] == false);
  CHECK(p.fake.Record("pbd", p.pbds[0])["currently_attached"] == true);
  REQUIRE(unplug->Revert().ok());
  CHECK(p.fake.Record("pbd", p.pbds[1])["currently_attached"] == true);

  auto down = Build(p.Settings({{"action", "vm_hard_shutdown"}, {"vm", "vm-1"}}), "down");
  REQUIRE(down->Inject().ok());
  CHECK(p.fake.Record("vm", p.vm)["power_state"] == "Halted");
  CHECK(*down->checker()->InEffect() == true);
  REQUIRE(down->Revert().ok());
  CHECK(p.fake.Record("vm", p.vm)["power_state"] == "Running");
}

}  // namespace fb
