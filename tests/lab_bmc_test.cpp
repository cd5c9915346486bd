// The lab pool's BMCs (lab/bmc.h): OpenIPMI's ipmi_sim, a real IPMI v2.0 BMC,
// switches a lab host's power under the real ipmitool through the `ipmi`
// injector; the same machine's Redfish service under the `redfish` injector
// and under Debian's redfishtool, a Redfish client of its own.
#include <doctest/doctest.h>
#include <unistd.h>

#include "core/jsonl_writer.h"
#include "core/subprocess.h"
#include "injectors/fault_lifecycle.h"
#include "lab/bmc.h"
#include "lab/pool.h"
#include "tests/support/lab_fixture.h"
#include "tests/support/rigs.h"
#include "tests/support/skip.h"
#include "tests/support/test_util.h"

namespace fb::labtest {

namespace {

std::unique_ptr<Injector> Build(const std::string& kind, const nlohmann::json& settings) {
  auto inj = BuildInjector(FaultSpec{"power", kind, "", settings, 60 * kNsPerSec});
  REQUIRE_MESSAGE(inj.ok(), inj.status().message());
  (*inj)->Bind({"lab-bmc-test", 60 * kNsPerSec});
  return std::move(*inj);
}

}  // namespace

TEST_CASE("lab BMCs: ipmitool through ipmi_sim and Redfish (injector and redfishtool) switch a pool host's power" *
          doctest::test_suite("integration")) {
  if (!CanRunLab()) return;
  if (!lab::HaveBmcTools()) {
    Skip("ipmi_sim or ipmitool is not installed (scripts/setup installs openipmi and ipmitool)");
    return;
  }
  lab::LabOptions o;
  o.lun_size_bytes = 64ull << 20;
  o.faultbench_path = FB_CLI_PATH;
  o.pool_hosts = 2;
  o.pool_vms = 1;
  LabSession session(o);
  REQUIRE_MESSAGE(session.error().empty(), session.error());
  REQUIRE(session.info().has_pool);
  const std::string sd = session.info().state_dir;
  auto pw = ReadFile(lab::PoolBmcPasswordFile(sd));
  REQUIRE(pw.ok());
  std::string password = pw->substr(0, pw->find('\n'));
  ScopedEnv env("FB_TEST_LAB_BMC_PASSWORD", password);

  // IPMI: the injector's real ipmitool, the host powered off and on by its BMC.
  auto ipmi = Build("ipmi", {{"host", lab::PoolBmcAddr(2)},
                             {"user", lab::kBmcUser},
                             {"password_env", "FB_TEST_LAB_BMC_PASSWORD"},
                             {"cipher_suite", "3"},
                             {"settle", "10s"}});
  CHECK(*ipmi->checker()->InEffect() == false);
  Status s = ipmi->Inject();
  REQUIRE_MESSAGE(s.ok(), s.message());
  CHECK(lab::HostPoweredOff(sd, 2));
  CHECK(*ipmi->checker()->InEffect() == true);
  CHECK_FALSE(lab::HostPoweredOff(sd, 1));
  s = ipmi->Revert();
  REQUIRE_MESSAGE(s.ok(), s.message());
  CHECK(*ipmi->checker()->InEffect() == false);
  // The BMC says on once its power process runs; that process then powers the
  // lab host on: wait for that, as a real host boots after its BMC says on.
  CHECK(WaitFor([&] { return !lab::HostPoweredOff(sd, 2); }, 5000));
  // A wrong password is the BMC's refusal, named.
  ScopedEnv wrong("FB_TEST_LAB_BMC_WRONG", "not-the-password");
  auto bad = Build("ipmi", {{"host", lab::PoolBmcAddr(2)},
                            {"user", lab::kBmcUser},
                            {"password_env", "FB_TEST_LAB_BMC_WRONG"},
                            {"cipher_suite", "3"}});
  s = bad->Inject();
  CHECK(!s.ok());
  CHECK(s.message().find("Unable to establish IPMI v2 / RMCP+ session") != std::string::npos);
  CHECK_FALSE(lab::HostPoweredOff(sd, 2));

  // Redfish: the same machine, a session per operation.
  auto redfish = Build("redfish", {{"url", "http://" + lab::PoolBmcAddr(2)},
                                   {"user", lab::kBmcUser},
                                   {"password_env", "FB_TEST_LAB_BMC_PASSWORD"},
                                   {"settle", "10s"}});
  s = redfish->Inject();
  REQUIRE_MESSAGE(s.ok(), s.message());
  CHECK(lab::HostPoweredOff(sd, 2));
  CHECK(*redfish->checker()->InEffect() == true);
  // IPMI sees what Redfish did: one machine.
  auto status = lab::BmcIpmi(sd, 2, "status");
  REQUIRE(status.ok());
  CHECK(status->find("Chassis Power is off") != std::string::npos);
  s = redfish->Revert();
  REQUIRE_MESSAGE(s.ok(), s.message());
  CHECK(WaitFor([&] { return !lab::HostPoweredOff(sd, 2); }, 5000));
  auto badrf = Build("redfish", {{"url", "http://" + lab::PoolBmcAddr(2)},
                                 {"user", lab::kBmcUser},
                                 {"password_env", "FB_TEST_LAB_BMC_WRONG"}});
  s = badrf->Inject();
  CHECK(!s.ok());
  CHECK(s.message().find("401") != std::string::npos);
  CHECK(s.message().find("ResourceAtUriUnauthorized") != std::string::npos);

  // A host powered off by other means: its BMC says off.
  REQUIRE(lab::PowerOffHost(sd, 1).ok());
  CHECK(WaitFor([&] {
    auto st = lab::BmcIpmi(sd, 1, "status");
    return st.ok() && st->find("Chassis Power is off") != std::string::npos;
  }, 5000));
  REQUIRE(lab::BmcIpmi(sd, 1, "on").ok());
  CHECK(WaitFor([&] { return !lab::HostPoweredOff(sd, 1); }, 5000));

  // Debian's redfishtool reads the system and resets it.
  if (HaveCommand("redfishtool")) {
    std::vector<std::string> base = {"redfishtool", "-r", lab::PoolBmcAddr(2) + ":80", "-S", "Never",
                                     "-u", lab::kBmcUser, "-p", password};
    std::vector<std::string> get = base;
    get.insert(get.end(), {"Systems", "-I", "1"});
    auto r = RunCommand(get, {.timeout_ns = 30 * kNsPerSec});
    REQUIRE(r.ok());
    INFO(r->out << r->err);
    CHECK(r->exit_code == 0);
    CHECK(r->out.find("\"PowerState\": \"On\"") != std::string::npos);
    std::vector<std::string> off = base;
    off.insert(off.end(), {"-A", "Session", "Systems", "-I", "1", "reset", "ForceOff"});
    r = RunCommand(off, {.timeout_ns = 30 * kNsPerSec});
    REQUIRE(r.ok());
    CHECK(r->exit_code == 0);
    CHECK(WaitFor([&] { return lab::HostPoweredOff(sd, 2); }, 5000));
  }
}

}  // namespace fb::labtest
