// The fault lifecycle on a real `command` fault (a flag file): build errors,
// inject and revert with their checks, and the guard journal it leaves.
#include "injectors/fault_lifecycle.h"

#include <doctest/doctest.h>

#include <filesystem>

#include "core/clock.h"
#include "tests/support/rigs.h"
#include "tests/support/test_util.h"

namespace fb {

namespace {

FaultSpec FlagFault(const std::string& flag, const std::string& revert) {
  return {"flag",
          "command",
          "",
          {{"inject", "touch " + flag}, {"revert", revert}, {"check", "test -e " + flag}},
          0};
}

}  // namespace

TEST_CASE("fault lifecycle: a spec that cannot be built names the injector, its kind and why" *
          doctest::test_suite("unit")) {
  auto unknown = BuildInjector({"cut", "netfiltre", "", nlohmann::json::object(), 0});
  REQUIRE(!unknown.ok());
  CHECK(unknown.status().message().find("cut (netfiltre)") != std::string::npos);
  CHECK(unknown.status().message().find("did you mean \"netfilter\"") != std::string::npos);
  CHECK(unknown.status().exit_code() == kExitUsage);

  auto bad = BuildInjector(
      {"flag", "command", "", {{"inject", "true"}, {"revert", "true"}, {"timeout", "soon"}}, 0});
  REQUIRE(!bad.ok());
  CHECK(bad.status().message().find("flag (command)") != std::string::npos);
  CHECK(bad.status().message().find("timeout") != std::string::npos);
}

TEST_CASE(
    "fault lifecycle: inject and revert report the check, a revert that leaves the fault is not confirmed" *
    doctest::test_suite("unit")) {
  TempDir tmp;
  std::string flag = tmp.path() + "/fault";

  auto inj = BuildInjector(FlagFault(flag, "rm -f " + flag));
  REQUIRE(inj.ok());
  Applied applied = ApplyFault(**inj);
  REQUIRE(applied.status.ok());
  CHECK(std::filesystem::exists(flag));
  CHECK(applied.check.kind == CheckResult::Kind::kInEffect);
  CHECK(applied.check.Json() == true);
  CHECK(applied.end_mono_ns >= applied.start_mono_ns);
  Reverted reverted = RevertFault(**inj);
  CHECK(reverted.confirmed());
  CHECK(!reverted.still_in_effect());
  CHECK(reverted.Detail() == "reverted, check confirms");
  CHECK(!std::filesystem::exists(flag));

  // A revert that runs but leaves the flag: never confirmed.
  auto stuck = BuildInjector(FlagFault(flag, "true"));
  REQUIRE(stuck.ok());
  REQUIRE(ApplyFault(**stuck).status.ok());
  Reverted left = RevertFault(**stuck);
  CHECK(left.status.ok());
  CHECK(!left.confirmed());
  CHECK(left.still_in_effect());
  CHECK(left.Detail().find("still in effect") != std::string::npos);

  // A revert that fails: its error, and no check is run.
  auto failing = BuildInjector(FlagFault(flag, "echo no route >&2; exit 3"));
  REQUIRE(failing.ok());
  Reverted failed = RevertFault(**failing);
  CHECK(!failed.status.ok());
  CHECK(!failed.confirmed());
  CHECK(failed.check.kind == CheckResult::Kind::kNoCheck);
  CHECK(failed.Detail().find("no route") != std::string::npos);

  // Without a check line the revert's success is all there is.
  auto unchecked = BuildInjector({"flag", "command", "", {{"inject", "true"}, {"revert", "true"}}, 0});
  REQUIRE(unchecked.ok());
  Reverted plain = RevertFault(**unchecked);
  CHECK(plain.confirmed());
  CHECK(plain.Detail() == "revert succeeded (this kind has no check)");
}

TEST_CASE("fault lifecycle: armed under the guard before it is applied, disarmed as what the check said" *
          doctest::test_suite("integration")) {
  TempDir tmp;
  ScopedEnv state("FAULTBENCH_STATE_DIR", tmp.path() + "/state");
  std::string flag = tmp.path() + "/fault";
  FaultSpec spec = FlagFault(flag, "rm -f " + flag);
  auto inj = BuildInjector(spec);
  REQUIRE(inj.ok());
  GuardClient guard;
  REQUIRE(guard.Start("lifecycle-test", FB_CLI_PATH).ok());
  auto id = ArmFault(**inj, guard, spec, {"lifecycle-test", 60 * kNsPerSec});
  REQUIRE(id.ok());
  auto armed = ReadGuardedRun("lifecycle-test");
  REQUIRE(armed.ok());
  REQUIRE(armed->faults.size() == 1);
  CHECK(armed->faults[0].spec.where == "localhost");
  CHECK(armed->faults[0].spec.lease_ns == 60 * kNsPerSec);
  CHECK(armed->faults[0].state == FaultState::kActive);
  CHECK(!std::filesystem::exists(flag));  // armed, not yet applied

  REQUIRE(ApplyFault(**inj).status.ok());
  Reverted reverted = RevertFault(**inj);
  REQUIRE(reverted.confirmed());
  REQUIRE(DisarmFault(guard, *id, reverted).ok());
  auto after = ReadGuardedRun("lifecycle-test");
  REQUIRE(after.ok());
  CHECK(after->faults[0].state == FaultState::kReverted);
  CHECK(guard.Stop().ok());
}

}  // namespace fb
