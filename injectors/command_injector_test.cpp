#include "injectors/command_injector.h"

#include <doctest/doctest.h>

#include <filesystem>

#include "tests/support/test_util.h"

namespace fb {

TEST_CASE("command injector: inject, check, revert act through the shell" * doctest::test_suite("unit")) {
  RegisterBuiltinInjectors();
  TempDir tmp;
  std::string flag = tmp.path() + "/fault";
  Settings s(nlohmann::json{{"kind", "command"},
                            {"inject", "touch " + flag},
                            {"revert", "rm " + flag},
                            {"check", "test -e " + flag},
                            {"timeout", "5s"}});
  auto inj = InjectorRegistry::Global().Create("command", "flag", &s);
  REQUIRE(inj);
  REQUIRE(inj->checker());
  CHECK(inj->checker()->InEffect().value() == false);
  REQUIRE(inj->Inject().ok());
  CHECK(std::filesystem::exists(flag));
  CHECK(inj->checker()->InEffect().value() == true);
  REQUIRE(inj->Revert().ok());
  CHECK(inj->checker()->InEffect().value() == false);
  // A failing revert names the injector, the host, the command and its stderr.
  Status st = inj->Revert();
  CHECK(!st.ok());
  CHECK(st.message().find("injector flag on localhost: revert `rm " + flag + "`") != std::string::npos);
  CHECK(st.message().find("No such file") != std::string::npos);
}

TEST_CASE("command injector: a command that hangs is killed at the timeout" * doctest::test_suite("unit")) {
  Settings s(nlohmann::json{{"inject", "sleep 10"}, {"revert", "true"}, {"timeout", "200ms"}});
  auto inj = NewCommandInjector("slow", &s);
  REQUIRE(s.problems().empty());
  Status st = inj->Inject();
  CHECK(!st.ok());
  CHECK(st.message().find("timed out") != std::string::npos);
}

TEST_CASE("command injector: settings problems are all reported with their keys" *
          doctest::test_suite("unit")) {
  RegisterBuiltinInjectors();
  Settings s(
      nlohmann::json{{"kind", "command"}, {"inject", "true"}, {"timeout", "5 parsecs"}, {"revrt", "x"}});
  auto inj = InjectorRegistry::Global().Create("command", "bad", &s);
  CHECK(!inj);
  REQUIRE(s.problems().size() == 3);
  CHECK(s.problems()[0].message == "missing required setting \"revert\"");
  CHECK(s.problems()[1].key == "timeout");
  CHECK(s.problems()[2].key == "revrt");
  CHECK(s.problems()[2].message.find("did you mean \"revert\"") != std::string::npos);
  Settings k(nlohmann::json::object());
  CHECK(!InjectorRegistry::Global().Create("comand", "x", &k));
  CHECK(k.problems()[0].message.find("did you mean \"command\"") != std::string::npos);
}

}  // namespace fb
