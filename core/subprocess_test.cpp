#include "core/subprocess.h"

#include <doctest/doctest.h>

#include "core/clock.h"

namespace fb {

TEST_CASE("RunCommand captures output and exit status") {
  auto r = RunCommand({"sh", "-c", "echo out; echo err >&2; exit 3"});
  REQUIRE(r.ok());
  CHECK(r->exit_code == 3);
  CHECK(r->out == "out\n");
  CHECK(r->err == "err\n");
  CHECK(r->Describe() == "exit 3: err");
}

TEST_CASE("RunCommand feeds stdin") {
  auto r = RunCommand({"cat"}, {.timeout_ns = 5 * kNsPerSec, .stdin_text = "abc"});
  REQUIRE(r.ok());
  CHECK(r->out == "abc");
}

TEST_CASE("RunCommand kills the whole process group on timeout") {
  int64_t t0 = MonoNs();
  auto r = RunShell("sleep 30 & sleep 30", {.timeout_ns = 200 * kNsPerMs});
  REQUIRE(r.ok());
  CHECK(r->timed_out);
  CHECK(MonoNs() - t0 < 5 * kNsPerSec);
}

TEST_CASE("RunCommand names a missing program") {
  auto r = RunCommand({"no-such-program-fb"});
  CHECK(!r.ok());
  CHECK(r.status().message().find("no-such-program-fb") != std::string::npos);
  auto c = RunChecked({"false"});
  CHECK(!c.ok());
  CHECK(c.status().message().find("false: exit 1") != std::string::npos);
}

}  // namespace fb
