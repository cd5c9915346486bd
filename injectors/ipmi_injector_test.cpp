// ipmi through its exact command lines, against a stand-in ipmitool on PATH;
// the password must reach it only through IPMI_PASSWORD. The lab's real BMCs
// (ipmi_sim) are in tests/lab_bmc_test.cpp.
#include "injectors/ipmi_injector.h"

#include <doctest/doctest.h>

#include "core/jsonl_writer.h"
#include "tests/support/rigs.h"
#include "tests/support/test_util.h"

namespace fb {

TEST_CASE("ipmi injector: ipmitool -I lanplus -H host -U user -E chassis power off / on, password from env" *
          doctest::test_suite("unit")) {
  TempDir tmp;
  const std::string log = tmp.path() + "/calls", off = tmp.path() + "/off";
  WriteScript(tmp.path() + "/ipmitool",
              "echo \"$* [IPMI_PASSWORD=$IPMI_PASSWORD]\" >> " + log +
                  "\n"
                  "case \"$*\" in\n"
                  "  *'power off') touch " +
                  off +
                  "; echo 'Chassis Power Control: Down/Off';;\n"
                  "  *'power on') rm -f " +
                  off +
                  "; echo 'Chassis Power Control: Up/On';;\n"
                  "  *'power status') if [ -e " +
                  off +
                  " ]; then echo 'Chassis Power is off'; else echo 'Chassis Power is on'; fi;;\n"
                  "esac\n");
  ScopedEnv path("PATH", tmp.path() + ":" + getenv("PATH"));
  ScopedEnv pass("FB_TEST_BMC_PASSWORD", "hunter2");
  Settings s(
      nlohmann::json{{"host", "198.18.9.9"}, {"user", "admin"}, {"password_env", "FB_TEST_BMC_PASSWORD"}});
  auto inj = NewIpmiInjector("power", &s);
  REQUIRE(s.problems().empty());
  CHECK(inj->where() == "bmc 198.18.9.9");
  REQUIRE(inj->Inject().ok());
  CHECK(inj->checker()->InEffect().value() == true);
  REQUIRE(inj->Revert().ok());
  CHECK(inj->checker()->InEffect().value() == false);
  CHECK(ReadFile(log).value() ==
        "-I lanplus -H 198.18.9.9 -U admin -E chassis power off [IPMI_PASSWORD=hunter2]\n"
        "-I lanplus -H 198.18.9.9 -U admin -E chassis power status [IPMI_PASSWORD=hunter2]\n"  // until off
        "-I lanplus -H 198.18.9.9 -U admin -E chassis power status [IPMI_PASSWORD=hunter2]\n"  // the check
        "-I lanplus -H 198.18.9.9 -U admin -E chassis power on [IPMI_PASSWORD=hunter2]\n"
        "-I lanplus -H 198.18.9.9 -U admin -E chassis power status [IPMI_PASSWORD=hunter2]\n"
        "-I lanplus -H 198.18.9.9 -U admin -E chassis power status [IPMI_PASSWORD=hunter2]\n");

  Settings unset(
      nlohmann::json{{"host", "198.18.9.9"}, {"user", "admin"}, {"password_env", "FB_TEST_NOT_SET"}});
  Status st = NewIpmiInjector("power", &unset)->Inject();
  CHECK(!st.ok());
  CHECK(st.message().find("environment variable FB_TEST_NOT_SET (the BMC password) is not set") !=
        std::string::npos);
  Settings bad(
      nlohmann::json{{"host", "h"}, {"user", "u"}, {"password_env", "$(reboot)"}, {"action", "cycle"}});
  NewIpmiInjector("power", &bad);
  CHECK(bad.problems().size() == 2);
}

}  // namespace fb
