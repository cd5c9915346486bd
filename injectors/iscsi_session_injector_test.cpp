// iscsi_session through its exact command lines, against a stand-in iscsiadm on
// PATH that records its arguments and keeps a session table (the kernel
// initiator cannot act on these machines).
#include "injectors/iscsi_session_injector.h"

#include <doctest/doctest.h>

#include "core/jsonl_writer.h"
#include "tests/support/rigs.h"
#include "tests/support/test_util.h"

namespace fb {

TEST_CASE("iscsi_session injector: iscsiadm -m node -T IQN -p IP:PORT -u / -l, check from -m session" *
          doctest::test_suite("unit")) {
  TempDir tmp;
  const std::string log = tmp.path() + "/calls", state = tmp.path() + "/logged_in";
  WriteScript(
      tmp.path() + "/iscsiadm",
      "echo \"$*\" >> " + log +
          "\n"
          "case \"$*\" in\n"
          "  '-m session') if [ -e " +
          state +
          " ]; then\n"
          "      echo 'tcp: [3] 198.18.0.1:3260,1 iqn.2003-01.org.example:lun1 (non-flash)'; exit 0; fi\n"
          "    echo 'iscsiadm: No active sessions.' >&2; exit 21;;\n"
          "  *' -u') rm -f " +
          state +
          "\n"
          "    echo 'Logout of [sid: 3, target: iqn.2003-01.org.example:lun1, portal: 198.18.0.1,3260] "
          "successful.';;\n"
          "  *' -l') touch " +
          state +
          "\n"
          "    echo 'Login to [iface: default, target: iqn.2003-01.org.example:lun1, portal: "
          "198.18.0.1,3260] successful.';;\n"
          "esac\n");
  ScopedEnv path("PATH", tmp.path() + ":" + getenv("PATH"));
  RunChecked({"touch", state});
  Settings s(nlohmann::json{{"target", "iqn.2003-01.org.example:lun1"}, {"portal", "198.18.0.1:3260"}});
  auto inj = NewIscsiSessionInjector("path-a", &s);
  REQUIRE(s.problems().empty());
  CHECK(inj->checker()->InEffect().value() == false);
  REQUIRE(inj->Inject().ok());
  CHECK(inj->checker()->InEffect().value() == true);
  REQUIRE(inj->Revert().ok());
  CHECK(inj->checker()->InEffect().value() == false);
  CHECK(ReadFile(log).value() ==
        "-m session\n"
        "-m node -T iqn.2003-01.org.example:lun1 -p 198.18.0.1:3260 -u\n"
        "-m session\n"
        "-m node -T iqn.2003-01.org.example:lun1 -p 198.18.0.1:3260 -l\n"
        "-m session\n");

  WriteScript(tmp.path() + "/iscsiadm", "echo 'iscsiadm: No records found' >&2; exit 21\n");
  Status st = inj->Inject();
  CHECK(!st.ok());
  CHECK(st.message().find(
            "injector path-a on localhost: inject `iscsiadm -m node -T iqn.2003-01.org.example:lun1 -p "
            "198.18.0.1:3260 -u`: exit 21: iscsiadm: No records found") != std::string::npos);
}

}  // namespace fb
