// The guard against real components: a `command` fault whose lease expires (no
// root needed), and, as root, a netfilter fault in namespaces the test made:
// SIGKILL of the process that armed it (`faultbench inject --wait`), SIGKILL of
// it and its guard then `faultbench recover`, and a lease expiry.
#include "injectors/guard.h"

#include <doctest/doctest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "core/clock.h"
#include "core/jsonl_writer.h"
#include "injectors/injector.h"
#include "tests/support/rigs.h"
#include "tests/support/skip.h"
#include "tests/support/test_util.h"

namespace fb {

namespace {

// A private state directory and this binary's children adopted, so a guard
// whose parent the test killed is reaped here (bounded) and never left behind.
struct GuardRig {
  TempDir tmp;
  ScopedEnv state{"FAULTBENCH_STATE_DIR", tmp.path() + "/state"};
  GuardRig() { prctl(PR_SET_CHILD_SUBREAPER, 1); }
  ~GuardRig() {
    auto runs = ListGuardedRuns();
    for (const auto& run : runs.ok() ? *runs : std::vector<GuardedRun>{}) {
      if (run.guard_pid > 0 && run.alive) kill(run.guard_pid, SIGKILL);
    }
    for (int i = 0; i < 200; ++i) {
      pid_t p = waitpid(-1, nullptr, WNOHANG);
      if (p <= 0) break;
    }
    prctl(PR_SET_CHILD_SUBREAPER, 0);
  }
  std::string Plan(const std::string& injectors) {
    std::string target = tmp.path() + "/disk.img";
    std::ofstream(target).close();
    std::filesystem::resize_file(target, 16 << 20);
    std::string plan = tmp.path() + "/plan.yaml";
    std::ofstream(plan)
        << "name: guard-test\ntarget: " << target
        << "\nworkload: {bs: 4k, rw: randread, queue_depth: 1, duration: 10s, interval: 100ms}\n"
        << "injectors:\n"
        << injectors << "steps:\n  - {at: 0s, phase: baseline}\n";
    return plan;
  }
};

const GuardedFault* Only(const std::vector<GuardedRun>& runs) {
  for (const auto& r : runs) {
    if (!r.faults.empty()) return &r.faults.back();
  }
  return nullptr;
}

std::string Text(const std::string& path) {
  auto r = ReadFile(path);
  return r.ok() ? *r : std::string();
}

int64_t ReapOrWait(int pid, int timeout_ms) {
  return WaitFor([&] { return waitpid(pid, nullptr, WNOHANG) == pid; }, timeout_ms, 5);
}

}  // namespace

TEST_CASE("guard: a lease that expires is reverted on time, and faults/recover see the journal" *
          doctest::test_suite("integration")) {
  GuardRig rig;
  std::string flag = rig.tmp.path() + "/fault";
  nlohmann::json settings = {
      {"inject", "touch " + flag}, {"revert", "rm -f " + flag}, {"check", "test -e " + flag}};
  GuardClient guard;
  REQUIRE(guard.Start("lease-test", FB_CLI_PATH).ok());
  auto id = guard.Arm({"flag", "command", "localhost", settings, 800 * kNsPerMs});
  REQUIRE(id.ok());
  REQUIRE(RunChecked({"touch", flag}).ok());
  auto run = ReadGuardedRun("lease-test");
  REQUIRE(run.ok());
  CHECK(run->alive);
  REQUIRE(run->faults.size() == 1);
  int64_t deadline = run->faults[0].deadline_mono_ns;
  int64_t gone = WaitFor([&] { return !std::filesystem::exists(flag); }, 3000, 1);
  REQUIRE(gone != 0);
  MESSAGE("lease 800ms (command fault): reverted " << double(gone - deadline) / 1e6
                                                   << " ms after the deadline");
  CHECK(std::abs(gone - deadline) < 200 * kNsPerMs);
  // The outcome is written right after the check confirmed it.
  CHECK(WaitFor([&] { return ReadGuardedRun("lease-test")->faults[0].state == FaultState::kReverted; }, 2000,
                5) != 0);
  // The runner's own revert afterwards is harmless, and a clean stop leaves nothing.
  CHECK(guard.Disarm(*id).ok());
  CHECK(guard.Stop().ok());
  CHECK(!std::filesystem::exists(rig.tmp.path() + "/state/lease-test.jsonl"));  // nothing left: no state
  CHECK(HealLeftovers(std::cout).value() == 0);
}

TEST_CASE("guard: a revert that cannot be confirmed is unknown, never reverted" *
          doctest::test_suite("integration")) {
  GuardRig rig;
  GuardClient guard;
  REQUIRE(guard.Start("unknown-test", FB_CLI_PATH).ok());
  // The check always says "in effect": no revert can be confirmed.
  auto id = guard.Arm({"stuck",
                       "command",
                       "localhost",
                       {{"inject", "true"}, {"revert", "true"}, {"check", "true"}},
                       60 * kNsPerSec});
  REQUIRE(id.ok());
  int64_t t0 = MonoNs();
  CHECK(guard.Stop().ok());  // the guard tries what is still active, with backoff
  auto run = ReadGuardedRun("unknown-test");
  REQUIRE(run->faults.size() == 1);
  CHECK(run->faults[0].state == FaultState::kUnknown);
  CHECK(run->faults[0].detail.find("still in effect") != std::string::npos);
  MESSAGE("5 attempts with backoff took " << (MonoNs() - t0) / kNsPerMs << " ms");
  auto healed = HealLeftovers(std::cout);
  CHECK(!healed.ok());
  CHECK(healed.status().message().find("unknown-test/stuck") != std::string::npos);
  auto listing = RunCli({"faults"});
  CHECK(listing.out.find("unknown") != std::string::npos);
}

TEST_CASE("guard: SIGKILL of the process that armed a netfilter fault: traffic flows again within 1 s" *
          doctest::test_suite("integration")) {
  if (!IsRoot() || !HaveCommand("nft")) {
    Skip("needs root and nft");
    return;
  }
  GuardRig rig;
  NetnsPair net(6);
  REQUIRE(net.ok());
  REQUIRE(WaitFor([&] { return net.Reachable(); }, 3000, 50) != 0);
  std::string plan =
      rig.Plan("  cut: {kind: netfilter, netns: " + net.a() + ", address: " + net.addr_b() + "}\n");
  std::string out = rig.tmp.path() + "/inject.out";
  const std::string table = "faultbench_manual_guard_test_cut_cut";
  {
    Background runner({FB_CLI_PATH, "inject", "cut", "--plan", plan, "--lease", "60s", "--wait"}, out);
    REQUIRE(WaitFor([&] { return Text(out).find("injected cut") != std::string::npos; }, 10000, 5));
    CHECK(NftTableExists(net.a(), table));
    CHECK(!net.Reachable());
    int64_t killed = MonoNs();
    runner.Kill();
    int64_t gone = WaitFor([&] { return !NftTableExists(net.a(), table); }, 3000, 2);
    int64_t flows = WaitFor([&] { return net.Reachable(); }, 3000, 5);
    REQUIRE(gone != 0);
    REQUIRE(flows != 0);
    MESSAGE("runner SIGKILLed: table gone after "
            << double(gone - killed) / 1e6 << " ms, traffic flows after " << double(flows - killed) / 1e6
            << " ms");
    CHECK(gone - killed < kNsPerSec);
    CHECK(flows - killed < kNsPerSec);
  }
  // The outcome is written right after the check confirmed it.
  CHECK(WaitFor(
            [&] {
              auto runs = ListGuardedRuns();
              const GuardedFault* f = runs.ok() ? Only(*runs) : nullptr;
              return f && f->state == FaultState::kReverted;
            },
            2000, 5) != 0);
}

TEST_CASE(
    "guard: SIGKILL of runner and guard leaves the fault orphaned, faultbench recover restores traffic" *
    doctest::test_suite("integration")) {
  if (!IsRoot() || !HaveCommand("nft")) {
    Skip("needs root and nft");
    return;
  }
  GuardRig rig;
  NetnsPair net(8);
  REQUIRE(net.ok());
  REQUIRE(WaitFor([&] { return net.Reachable(); }, 3000, 50) != 0);
  std::string plan =
      rig.Plan("  cut: {kind: netfilter, netns: " + net.a() + ", address: " + net.addr_b() + "}\n");
  std::string out = rig.tmp.path() + "/inject.out";
  {
    Background runner({FB_CLI_PATH, "inject", "cut", "--plan", plan, "--lease", "60s", "--wait"}, out);
    REQUIRE(WaitFor([&] { return Text(out).find("injected cut") != std::string::npos; }, 10000, 5));
    auto runs = ListGuardedRuns();
    REQUIRE(runs->size() == 1);
    int guard_pid = runs->front().guard_pid;
    REQUIRE(guard_pid > 0);
    kill(guard_pid, SIGKILL);  // the guard first, so it cannot react to the runner's death
    ReapOrWait(guard_pid, 2000);
    runner.Kill();
  }
  CHECK(!net.Reachable());
  auto listing = RunCli({"faults"});
  CHECK(listing.out.find("orphaned") != std::string::npos);
  int64_t t0 = MonoNs();
  auto recover = RunCli({"recover"});
  int64_t t1 = MonoNs();
  CHECK(recover.exit_code == 0);
  CHECK(recover.out.find("cut (netfilter on localhost netns " + net.a() + "): reverted") !=
        std::string::npos);
  CHECK(net.Reachable());
  MESSAGE("faultbench recover took " << double(t1 - t0) / 1e6 << " ms");
  CHECK(RunCli({"faults"}).out.find("orphaned") == std::string::npos);
}

TEST_CASE("guard: a netfilter lease expiry reverts on time (detached inject)" *
          doctest::test_suite("integration")) {
  if (!IsRoot() || !HaveCommand("nft")) {
    Skip("needs root and nft");
    return;
  }
  GuardRig rig;
  NetnsPair net(10);
  REQUIRE(net.ok());
  REQUIRE(WaitFor([&] { return net.Reachable(); }, 3000, 50) != 0);
  std::string plan =
      rig.Plan("  cut: {kind: netfilter, netns: " + net.a() + ", address: " + net.addr_b() + "}\n");
  const std::string table = "faultbench_manual_guard_test_cut_cut";
  auto inject = RunCli({"inject", "cut", "--plan", plan, "--lease", "1500ms"});
  REQUIRE(inject.exit_code == 0);
  CHECK(!net.Reachable());
  auto runs = ListGuardedRuns();
  const GuardedFault* f = Only(*runs);
  REQUIRE(f);
  int64_t deadline = f->deadline_mono_ns;
  int64_t gone = WaitFor([&] { return !NftTableExists(net.a(), table); }, 4000, 1);
  REQUIRE(gone != 0);
  MESSAGE("lease 1500ms (netfilter): table gone " << double(gone - deadline) / 1e6
                                                  << " ms after the deadline");
  CHECK(std::abs(gone - deadline) < 200 * kNsPerMs);
  CHECK(WaitFor([&] { return net.Reachable(); }, 2000, 5) != 0);
  // `faultbench revert` of a fault the guard already reverted: nothing left to do.
  auto revert = RunCli({"revert", "cut", "--plan", plan});
  CHECK(revert.exit_code == 0);
}

TEST_CASE("guard: faultbench inject then revert by hand" * doctest::test_suite("integration")) {
  GuardRig rig;
  std::string flag = rig.tmp.path() + "/fault";
  std::string plan = rig.Plan("  flag: {kind: command, inject: \"touch " + flag + "\", revert: \"rm -f " +
                              flag + "\", check: \"test -e " + flag + "\"}\n");
  auto inject = RunCli({"inject", "flag", "--plan", plan, "--lease", "60s"});
  REQUIRE(inject.exit_code == 0);
  CHECK(inject.out.find("injected flag on localhost, check confirms") != std::string::npos);
  CHECK(std::filesystem::exists(flag));
  auto again = RunCli({"inject", "flag", "--plan", plan, "--lease", "60s"});
  CHECK(again.exit_code == 2);
  CHECK(again.err.find("already injected") != std::string::npos);
  CHECK(RunCli({"faults"}).out.find("active") != std::string::npos);
  auto revert = RunCli({"revert", "flag", "--plan", plan});
  CHECK(revert.exit_code == 0);
  CHECK(!std::filesystem::exists(flag));
  // The detached guard sees the revert and exits.
  CHECK(WaitFor([&] { return !ReadGuardedRun("manual-guard-test-flag")->alive; }, 3000, 10) != 0);
}

}  // namespace fb
