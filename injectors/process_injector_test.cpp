// process against a real process (sleep): SIGSTOP/SIGCONT by pid file and by
// exact name, SIGKILL with a restart command.
#include "injectors/process_injector.h"

#include <doctest/doctest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>

#include "tests/support/rigs.h"
#include "tests/support/test_util.h"

namespace fb {

namespace {
char State(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string s;
  std::getline(in, s);
  size_t p = s.rfind(')');
  return p == std::string::npos ? '?' : s[p + 2];
}
}  // namespace

TEST_CASE("process injector: SIGSTOP / SIGCONT by pid file and by exact name" * doctest::test_suite("unit")) {
  TempDir tmp;
  // A uniquely named copy of sleep, so `name` matches only ours.
  std::string exe = tmp.path() + "/fbsleep" + std::to_string(getpid() % 100000);
  std::filesystem::copy_file("/bin/sleep", exe);
  std::filesystem::permissions(exe, std::filesystem::perms::owner_all);
  Background proc({exe, "60"});
  std::string pid_file = tmp.path() + "/daemon.pid";
  std::ofstream(pid_file) << proc.pid() << "\n";
  REQUIRE(WaitFor([&] { return State(proc.pid()) == 'S'; }, 2000) != 0);

  Settings s(nlohmann::json{{"pid_file", pid_file}});
  auto inj = NewProcessInjector("freeze", &s);
  REQUIRE(s.problems().empty());
  CHECK(inj->checker()->InEffect().value() == false);
  REQUIRE(inj->Inject().ok());
  CHECK(WaitFor([&] { return State(proc.pid()) == 'T'; }, 2000) != 0);
  CHECK(inj->checker()->InEffect().value() == true);
  REQUIRE(inj->Revert().ok());
  CHECK(WaitFor([&] { return State(proc.pid()) != 'T'; }, 2000) != 0);
  CHECK(inj->checker()->InEffect().value() == false);

  Settings n(nlohmann::json{{"name", std::filesystem::path(exe).filename().string()}});
  auto by_name = NewProcessInjector("freeze-by-name", &n);
  REQUIRE(n.problems().empty());
  REQUIRE(by_name->Inject().ok());
  CHECK(WaitFor([&] { return State(proc.pid()) == 'T'; }, 2000) != 0);
  REQUIRE(by_name->Revert().ok());
  CHECK(WaitFor([&] { return State(proc.pid()) != 'T'; }, 2000) != 0);

  Settings gone(nlohmann::json{{"name", "fb-no-such-process"}});
  Status st = NewProcessInjector("ghost", &gone)->Inject();
  CHECK(!st.ok());
  CHECK(st.message().find(
            "injector ghost on localhost: inject: no running process for process fb-no-such-process") !=
        std::string::npos);
}

TEST_CASE("process injector: SIGKILL, then the restart command brings it back" *
          doctest::test_suite("unit")) {
  TempDir tmp;
  std::string pid_file = tmp.path() + "/daemon.pid";
  Background first({"sleep", "60"});
  std::ofstream(pid_file) << first.pid() << "\n";
  Settings s(nlohmann::json{{"pid_file", pid_file},
                            {"action", "kill"},
                            {"restart", "sleep 60 >/dev/null 2>&1 & echo $! > " + pid_file}});
  auto inj = NewProcessInjector("crash", &s);
  REQUIRE(s.problems().empty());
  REQUIRE(inj->Inject().ok());
  first.Kill();  // reap it (it is our child)
  CHECK(inj->checker()->InEffect().value() == true);
  REQUIRE(inj->Revert().ok());
  int pid = 0;
  std::ifstream(pid_file) >> pid;
  CHECK(pid > 0);
  CHECK(pid != first.pid());
  CHECK(inj->checker()->InEffect().value() == false);
  if (pid > 0) kill(pid, SIGKILL);

  Settings bad(nlohmann::json{{"pid_file", "x"}, {"name", "y"}, {"action", "kill"}});
  NewProcessInjector("bad", &bad);
  CHECK(bad.problems().size() == 2);  // two targets; kill without restart
}

}  // namespace fb
