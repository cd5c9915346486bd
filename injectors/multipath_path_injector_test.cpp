// multipath_path through its exact command lines, against a stand-in multipathd
// on PATH (no device-mapper here).
#include "injectors/multipath_path_injector.h"

#include <doctest/doctest.h>

#include "core/jsonl_writer.h"
#include "tests/support/rigs.h"
#include "tests/support/test_util.h"

namespace fb {

TEST_CASE("multipath_path injector: fail path / reinstate path, check from show paths format \"%d %t\"" *
          doctest::test_suite("unit")) {
  TempDir tmp;
  const std::string log = tmp.path() + "/calls", failed = tmp.path() + "/failed";
  WriteScript(tmp.path() + "/multipathd", "printf '%s|' \"$@\" >> " + log + "; echo >> " + log +
                                              "\n"
                                              "case \"$1 $2\" in\n"
                                              "  'show paths') echo 'dev dm_st'; echo \"sdb active\"\n"
                                              "    if [ -e " +
                                              failed +
                                              " ]; then echo 'sdc failed'; else echo 'sdc active'; fi;;\n"
                                              "  'fail path') touch " +
                                              failed +
                                              "; echo ok;;\n"
                                              "  'reinstate path') rm -f " +
                                              failed +
                                              "; echo ok;;\n"
                                              "esac\n");
  ScopedEnv path("PATH", tmp.path() + ":" + getenv("PATH"));
  Settings s(nlohmann::json{{"path", "sdc"}});
  auto inj = NewMultipathPathInjector("path-b", &s);
  REQUIRE(s.problems().empty());
  CHECK(inj->checker()->InEffect().value() == false);
  REQUIRE(inj->Inject().ok());
  CHECK(inj->checker()->InEffect().value() == true);
  REQUIRE(inj->Revert().ok());
  CHECK(inj->checker()->InEffect().value() == false);
  // One argument per word, and the format string as one argument.
  CHECK(ReadFile(log).value() ==
        "show|paths|format|%d %t|\n"
        "fail|path|sdc|\n"
        "show|paths|format|%d %t|\n"
        "reinstate|path|sdc|\n"
        "show|paths|format|%d %t|\n");
  WriteScript(tmp.path() + "/multipathd", "echo fail\n");
  Status st = inj->Inject();
  CHECK(!st.ok());
  CHECK(st.message().find("inject `multipathd fail path sdc`: multipathd answered \"fail\"") !=
        std::string::npos);
}

}  // namespace fb
