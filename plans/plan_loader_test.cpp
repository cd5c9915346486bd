#include "plans/plan_loader.h"

#include <doctest/doctest.h>

#include "injectors/injector.h"

namespace fb {

namespace {

// A valid plan; the error cases below change one thing in a copy of it.
const char* kGood = R"(name: freeze-test
description: freeze the FUSE daemon for 2 s
target: /tmp/faultbench-plan-test.dat
workload:
  size: 64MiB
  bs: 4k
  rw: randread
  queue_depth: 8
  duration: 10s
  interval: 100ms
  stall_threshold: 50ms
injectors:
  freeze:
    kind: command
    inject: kill -STOP 1234
    revert: kill -CONT 1234
    timeout: 5s
probes:
  syslog:
    kind: log
    path: /var/log/syslog
    rules:
      - {match: "reinstated", kind: path_reinstated}
steps:
  - {at: 0s, phase: baseline}
  - at: 3s
    phase: fault
    inject: freeze
    max_duration: 10s
  - {at: 5s, revert: freeze, phase: recovery}
  - {after: 1s, mark: settled}
expect:
  max_stall: 3s
  io_errors: 0
  faults:
    freeze:
      max_stall: 2500ms
      recovery: {to: 90% of baseline, within: 2s}
  phases:
    baseline: {max_latency: 50ms}
)";

// The problems of `text`, as strings.
std::vector<std::string> Problems(const std::string& text, const std::vector<std::string>& overrides = {}) {
  std::vector<std::string> out;
  for (const auto& p : LoadPlanText(text, "plan.yaml", overrides).problems) out.push_back(p.ToString());
  return out;
}

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  size_t pos = text.find(from);
  REQUIRE(pos != std::string::npos);
  return text.replace(pos, from.size(), to);
}

}  // namespace

TEST_CASE("plan loader: a good plan loads into the model" * doctest::test_suite("unit")) {
  LoadedPlan lp = LoadPlanText(kGood, "plan.yaml");
  INFO(lp.ToStatus().message());
  REQUIRE(lp.ok());
  const Plan& p = lp.plan;
  CHECK(p.name == "freeze-test");
  CHECK(p.workload.targets == std::vector<std::string>{"/tmp/faultbench-plan-test.dat"});
  CHECK(p.workload.size_bytes == 64 << 20);
  CHECK(p.workload.queue_depth == 8);
  CHECK(p.workload.duration_ns == 10'000'000'000);
  CHECK(p.workload.stall_threshold_ns == 50'000'000);
  REQUIRE(p.injectors.size() == 1);
  CHECK(p.injectors[0].kind == "command");
  CHECK(p.injectors[0].settings["inject"] == "kill -STOP 1234");
  REQUIRE(p.steps.size() == 4);
  CHECK(p.steps[1].action == StepAction::kInject);
  CHECK(p.steps[1].max_duration_ns == 10'000'000'000);
  CHECK(p.steps[3].after_ns == 1'000'000'000);
  CHECK(p.expect.overall.max_stall_ns == 3'000'000'000);
  CHECK(p.expect.faults.at("freeze").recovery->to_fraction == doctest::Approx(0.9));
  CHECK(p.expect.phases.at("baseline").max_latency_ns == 50'000'000);
}

TEST_CASE("plan loader: each kind of problem with its exact line and column" * doctest::test_suite("unit")) {
  struct Case {
    std::string from, to, expect;
  };
  std::vector<Case> cases = {
      // unknown key, with a suggestion
      {"  queue_depth: 8", "  queue_dpeth: 8",
       "plan.yaml:8:3: workload.queue_dpeth: unknown key \"queue_dpeth\" (did you mean \"queue_depth\"?)"},
      {"expect:", "expcet:", "plan.yaml:32:1: expcet: unknown key \"expcet\" (did you mean \"expect\"?)"},
      // wrong type
      {"  queue_depth: 8", "  queue_depth: [8]",
       "plan.yaml:8:16: workload.queue_depth: must be a single value, not a list"},
      {"  queue_depth: 8", "  queue_depth: eight",
       "plan.yaml:8:16: workload.queue_depth: expected a whole number 1..4096, got \"eight\""},
      // bad units
      {"  duration: 10s", "  duration: 10 parsecs", "plan.yaml:9:13: workload.duration: "},
      {"  bs: 4k", "  bs: 4kk", "plan.yaml:6:7: workload.bs: "},
      // unknown injector in a step
      {"{at: 5s, revert: freeze", "{at: 5s, revert: freez",
       "plan.yaml:30:14: steps[2].revert: unknown injector \"freez\" (did you mean \"freeze\"?)"},
      // revert without inject
      {"    inject: freeze\n    max_duration: 10s\n", "    mark: no fault\n",
       "plan.yaml:29:14: steps[2].revert: reverts \"freeze\", which no earlier step injected"},
      // unordered steps
      {"{at: 5s, revert", "{at: 2s, revert",
       "plan.yaml:30:6: steps[2].at: steps are out of order: at 2.000s comes before steps[1] (at 3.000s)"},
      // lease missing, lease shorter than the window
      {"    max_duration: 10s\n", "", "plan.yaml:28:13: steps[1].inject: needs \"max_duration\""},
      {"    max_duration: 10s", "    max_duration: 1s",
       "plan.yaml:29:5: steps[1].max_duration: the lease 1.000s is shorter than the fault's window (up to "
       "2.000s"},
      // a literal secret
      {"    timeout: 5s", "    timeout: 5s\n    api_token: abc123",
       "plan.yaml:18:5: injectors.freeze.api_token: a literal secret in the plan"},
      // bad settings of a plug-in, at the settings key
      {"    timeout: 5s", "    timeout: 5s\n    revrt: x",
       "plan.yaml:18:5: injectors.freeze.revrt: unknown setting \"revrt\" (did you mean \"revert\"?)"},
      {"{match: \"reinstated\"", "{match: \"(reinstated\"",
       "plan.yaml:23:10: probes.syslog.rules[0].match: invalid regular expression"},
      {"    kind: command", "    kind: comand",
       "plan.yaml:14:5: injectors.freeze.kind: unknown injector kind \"comand\" (did you mean \"command\"?)"},
      // a step past the end of the load
      {"{after: 1s, mark", "{after: 9s, mark",
       "plan.yaml:31:5: steps[3]: runs at 14.000s, after the load ends"},
      // expectations that name nothing
      {"    freeze:\n      max_stall", "    frieze:\n      max_stall",
       "plan.yaml:36:5: expect.faults.frieze: no step injects \"frieze\" (did you mean \"freeze\"?)"},
      {"to: 90% of baseline", "to: 190% of baseline", "plan.yaml:38:22: expect.faults.freeze.recovery.to: "},
      // YAML syntax
      {"  bs: 4k", "  bs: [4k", "plan.yaml:"},
  };
  for (const auto& c : cases) {
    auto problems = Problems(Replace(kGood, c.from, c.to));
    INFO(c.to);
    REQUIRE(!problems.empty());
    bool found = false;
    for (const auto& p : problems) found = found || p.rfind(c.expect, 0) == 0;
    INFO(problems[0]);
    CHECK(found);
  }
}

TEST_CASE("plan loader: overlapping faults, writes to a device, and every problem at once" *
          doctest::test_suite("unit")) {
  auto overlap =
      Problems(Replace(kGood, "{at: 5s, revert: freeze", "{at: 5s, inject: freeze, max_duration: 5s"));
  bool found = false;
  for (const auto& p : overlap)
    found =
        found || p.find("steps[2].inject: overlaps: \"freeze\" is already injected by steps[1] (line 26)") !=
                     std::string::npos;
  CHECK(found);

  auto device = Problems(
      Replace(Replace(kGood, "/tmp/faultbench-plan-test.dat", "/dev/null"), "rw: randread", "rw: randwrite"));
  (void)device;  // /dev/null is a character device: no problem expected
  auto lun = Problems(Replace(Replace(kGood, "/tmp/faultbench-plan-test.dat", "iscsi://127.0.0.1/iqn.x/0"),
                              "rw: randread", "rw: randwrite"));
  REQUIRE(lun.size() == 1);
  CHECK(lun[0].find("plan.yaml:3:9: target: the workload writes to the iSCSI LUN") == 0);
  CHECK(lun[0].find("workload.allow_destroy: true") != std::string::npos);
  CHECK(Problems(Replace(Replace(kGood, "/tmp/faultbench-plan-test.dat", "iscsi://127.0.0.1/iqn.x/0"),
                         "rw: randread", "rw: randwrite\n  allow_destroy: true"))
            .empty());

  std::string many = Replace(
      Replace(Replace(kGood, "  queue_depth: 8", "  queue_dpeth: 8"), "  duration: 10s", "  duration: 10x"),
      "{at: 5s, revert: freeze", "{at: 5s, revert: freez");
  auto all = Problems(many);
  CHECK(all.size() >= 3);
  // In file order.
  CHECK(all[0].find("plan.yaml:8:") == 0);
  CHECK(all[1].find("plan.yaml:9:") == 0);
}

TEST_CASE("plan loader: --set overrides values and is named in problems" * doctest::test_suite("unit")) {
  LoadedPlan lp = LoadPlanText(kGood, "plan.yaml",
                               {"workload.duration=20s", "steps[2].at=6s", "injectors.freeze.timeout=1s"});
  INFO(lp.ToStatus().message());
  REQUIRE(lp.ok());
  CHECK(lp.plan.workload.duration_ns == 20'000'000'000);
  CHECK(*lp.plan.steps[2].at_ns == 6'000'000'000);
  CHECK(lp.plan.injectors[0].settings["timeout"] == "1s");
  auto bad = Problems(kGood, {"workload.duration=soon"});
  REQUIRE(bad.size() == 1);
  CHECK(bad[0].find("--set workload.duration=soon: workload.duration: ") == 0);
  auto typo = Problems(kGood, {"workload.queue_dpeth=4"});
  REQUIRE(typo.size() == 1);
  CHECK(typo[0] ==
        "--set workload.queue_dpeth=4: workload.queue_dpeth: unknown key \"queue_dpeth\" (did you mean "
        "\"queue_depth\"?)");
  CHECK(Problems(kGood, {"steps[9].at=1s"})[0].find("beyond the list") != std::string::npos);
  CHECK(Problems(kGood, {"nonsense"})[0].find("expected key.path=value") != std::string::npos);
}

TEST_CASE("plan writer: load -> write -> load gives the same plan, and no secret is written" *
          doctest::test_suite("unit")) {
  // A kind that takes a secret by reference, as the http/xapi kinds will.
  InjectorRegistry::Global().Register("test_api",
                                      [](const std::string&, Settings* s) -> std::unique_ptr<Injector> {
                                        s->String("password_env", true);
                                        return nullptr;
                                      });
  std::string with_ref = Replace(
      kGood, "injectors:\n", "injectors:\n  api:\n    kind: test_api\n    password_env: FB_TEST_PASSWORD\n");
  LoadedPlan a = LoadPlanText(with_ref, "plan.yaml");
  INFO(a.ToStatus().message());
  REQUIRE(a.ok());
  std::string text = WritePlan(a.plan);
  LoadedPlan b = LoadPlanText(text, "written.yaml");
  INFO(text);
  INFO(b.ToStatus().message());
  REQUIRE(b.ok());
  CHECK(WritePlan(b.plan) == text);
  CHECK(b.plan.name == a.plan.name);
  CHECK(b.plan.workload.specs.size() == 1);
  CHECK(b.plan.workload.specs[0].block_size == 4096);
  CHECK(b.plan.workload.duration_ns == a.plan.workload.duration_ns);
  CHECK(b.plan.injectors[0].settings == a.plan.injectors[0].settings);
  CHECK(b.plan.injectors[1].settings == a.plan.injectors[1].settings);
  CHECK(b.plan.probes[0].settings == a.plan.probes[0].settings);
  REQUIRE(b.plan.steps.size() == a.plan.steps.size());
  for (size_t i = 0; i < a.plan.steps.size(); ++i) {
    CHECK(b.plan.steps[i].at_ns == a.plan.steps[i].at_ns);
    CHECK(b.plan.steps[i].after_ns == a.plan.steps[i].after_ns);
    CHECK(b.plan.steps[i].action == a.plan.steps[i].action);
    CHECK(b.plan.steps[i].phase == a.plan.steps[i].phase);
  }
  CHECK(b.plan.expect.faults.at("freeze").recovery->within_ns == 2'000'000'000);
  CHECK(text.find("FB_TEST_PASSWORD") != std::string::npos);  // the reference, not a value

  // A plan built in code with a literal secret never has it written.
  Plan p = a.plan;
  p.injectors[0].settings["password"] = "hunter2";
  CHECK(WritePlan(p).find("hunter2") == std::string::npos);
}

}  // namespace fb

namespace fb {

TEST_CASE("plan loader: libiscsi path settings, verify and lost_writes load and round-trip" *
          doctest::test_suite("unit")) {
  RegisterBuiltinInjectors();
  const char* text = R"(name: iscsi-verify
target:
  paths: [iscsi://198.18.1.2/iqn.2026-11.test.faultbench:lun/1, iscsi://198.18.2.2/iqn.2026-11.test.faultbench:lun/1]
workload:
  engine: libiscsi
  rw: randrw
  bs: 8k
  duration: 30s
  path_policy: failover
  io_timeout: 2s
  checker_interval: 500ms
  no_path_timeout: 10s
  sessions_per_path: 4
  verify: true
  verify_block: 8k
  allow_destroy: true
expect:
  lost_writes: 0
)";
  LoadedPlan a = LoadPlanText(text, "plan.yaml");
  for (const auto& p : a.problems) MESSAGE(p.ToString());
  REQUIRE(a.ok());
  const Workload& w = a.plan.workload;
  CHECK(w.iscsi.path_policy == PathPolicy::kFailover);
  CHECK(w.iscsi.io_timeout_ns == 2'000'000'000);
  CHECK(w.iscsi.checker_interval_ns == 500'000'000);
  CHECK(w.iscsi.no_path_timeout_ns == 10'000'000'000);
  CHECK(w.iscsi.sessions_per_path == 4);
  CHECK(w.verify);
  CHECK(w.verify_block_bytes == 8192);
  REQUIRE(a.plan.expect.overall.lost_writes.has_value());
  CHECK(*a.plan.expect.overall.lost_writes == 0);
  LoadedPlan b = LoadPlanText(WritePlan(a.plan), "written.yaml");
  REQUIRE(b.ok());
  CHECK(b.plan.workload.iscsi.path_policy == PathPolicy::kFailover);
  CHECK(b.plan.workload.iscsi.io_timeout_ns == 2'000'000'000);
  CHECK(b.plan.workload.iscsi.sessions_per_path == 4);
  CHECK(b.plan.workload.verify_block_bytes == 8192);
  CHECK(b.plan.expect.overall.lost_writes == a.plan.expect.overall.lost_writes);

  auto bad = LoadPlanText(std::string(text).replace(std::string(text).find("failover"), 8, "roundrobin"),
                          "plan.yaml");
  REQUIRE(!bad.ok());
  INFO(bad.problems[0].ToString());
  CHECK(bad.problems[0].ToString().find("plan.yaml:") == 0);
  CHECK(bad.problems[0].ToString().find("round-robin") != std::string::npos);

  // Sessions: 1..16, and only for the libiscsi engine.
  std::string many = std::string(text).replace(std::string(text).find("sessions_per_path: 4"), 20, "sessions_per_path: 17");
  auto too_many = LoadPlanText(many, "plan.yaml");
  REQUIRE(!too_many.ok());
  INFO(too_many.problems[0].ToString());
  CHECK(too_many.problems[0].ToString().find("plan.yaml:13:") == 0);
  CHECK(too_many.problems[0].ToString().find("sessions_per_path") != std::string::npos);
  Workload aio;
  aio.targets = {"/tmp/x"};
  aio.iscsi.sessions_per_path = 2;
  Status st = ValidateWorkload(aio);
  CHECK(st.exit_code() == kExitUsage);
  CHECK(st.message() == "sessions per path (--sessions-per-path) are the libiscsi engine's; the engine is libaio");
}

}  // namespace fb

namespace fb {

TEST_CASE("plan loader: wait_for.source must name an event source of the plan" *
          doctest::test_suite("unit")) {
  std::string plan = kGood;
  plan.replace(plan.find("  - {after: 1s, mark: settled}"),
               std::string("  - {after: 1s, mark: settled}").size(),
               "  - {after: 1s, wait_for: {kind: path_reinstated, source: sysog, timeout: 2s}}");
  auto p = Problems(plan);
  REQUIRE(p.size() == 1);
  CHECK(
      p[0] ==
      "plan.yaml:31:59: steps[3].wait_for.source: no event source \"sysog\": name a probe, injector or agent "
      "of the plan, loadgen or runner (did you mean \"syslog\"?)");
  // The probe's own name, an injector's, loadgen and runner are sources.
  for (const char* ok : {"syslog", "freeze", "loadgen", "runner"}) {
    CHECK(Problems(plan, {std::string("steps[3].wait_for.source=") + ok}).empty());
  }
}

TEST_CASE("plan loader: a fault's max_pause and all_vms_moved load and round-trip, not for the run" *
          doctest::test_suite("unit")) {
  RegisterBuiltinInjectors();
  std::string text = kGood;
  text.replace(text.find("      max_stall: 2500ms\n"), 0, "      max_pause: 400ms\n      all_vms_moved: true\n");
  LoadedPlan a = LoadPlanText(text, "plan.yaml");
  for (const auto& p : a.problems) MESSAGE(p.ToString());
  REQUIRE(a.ok());
  const Limits& l = a.plan.expect.faults.at("freeze");
  CHECK(*l.max_pause_ns == 400'000'000);
  CHECK(*l.all_vms_moved);
  LoadedPlan b = LoadPlanText(WritePlan(a.plan), "written.yaml");
  REQUIRE(b.ok());
  CHECK(*b.plan.expect.faults.at("freeze").max_pause_ns == 400'000'000);
  CHECK(*b.plan.expect.faults.at("freeze").all_vms_moved);
  std::string run = kGood;
  run.replace(run.find("  max_stall: 3s\n"), 0, "  max_pause: 1s\n");
  auto problems = Problems(run);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].find("max_pause") != std::string::npos);
  std::string bad = kGood;
  bad.replace(bad.find("      max_stall: 2500ms\n"), 0, "      all_vms_moved: maybe\n");
  problems = Problems(bad);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].find("must be true or false") != std::string::npos);
}

}  // namespace fb
