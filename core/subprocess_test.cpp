#include "core/subprocess.h"

#include <doctest/doctest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <thread>

#include "core/clock.h"

namespace fb {

TEST_CASE("RunCommand captures output and exit status" * doctest::test_suite("unit")) {
  auto r = RunCommand({"sh", "-c", "echo out; echo err >&2; exit 3"});
  REQUIRE(r.ok());
  CHECK(r->exit_code == 3);
  CHECK(r->out == "out\n");
  CHECK(r->err == "err\n");
  CHECK(r->Describe() == "exit 3: err");
}

TEST_CASE("RunCommand feeds stdin" * doctest::test_suite("unit")) {
  auto r = RunCommand({"cat"}, {.timeout_ns = 5 * kNsPerSec, .stdin_text = "abc"});
  REQUIRE(r.ok());
  CHECK(r->out == "abc");
}

TEST_CASE("RunCommand kills the whole process group on timeout" * doctest::test_suite("unit")) {
  int64_t t0 = MonoNs();
  auto r = RunShell("sleep 30 & sleep 30", {.timeout_ns = 200 * kNsPerMs});
  REQUIRE(r.ok());
  CHECK(r->timed_out);
  CHECK(MonoNs() - t0 < 5 * kNsPerSec);
}

TEST_CASE("RunCommand names a missing program" * doctest::test_suite("unit")) {
  auto r = RunCommand({"no-such-program-fb"});
  CHECK(!r.ok());
  CHECK(r.status().message().find("no-such-program-fb") != std::string::npos);
  auto c = RunChecked({"false"});
  CHECK(!c.ok());
  CHECK(c.status().message().find("false: exit 1") != std::string::npos);
}

}  // namespace fb

namespace fb {

TEST_CASE("RunCommand stops the whole process group when its stop fd becomes readable" *
          doctest::test_suite("unit")) {
  int stop = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  REQUIRE(stop >= 0);
  // Once while the child still writes output, once after it closed its stdout.
  for (const char* line : {"sleep 30 & sleep 30", "exec >/dev/null 2>&1; sleep 30"}) {
    int64_t t0 = MonoNs();
    std::thread stopper([&] {
      SleepUntilMono(t0 + 200 * kNsPerMs);
      uint64_t one = 1;
      CHECK(write(stop, &one, sizeof one) == sizeof one);
    });
    auto r = RunShell(line, {.timeout_ns = 20 * kNsPerSec, .stop_fd = stop});
    stopper.join();
    REQUIRE(r.ok());
    CHECK(r->stopped);
    CHECK(!r->timed_out);
    CHECK(!r->success());
    CHECK(r->Describe().rfind("stopped after", 0) == 0);
    int64_t took = MonoNs() - t0;
    CHECK(took >= 200 * kNsPerMs);
    CHECK(took < 3 * kNsPerSec);
    uint64_t v;
    (void)!read(stop, &v, sizeof v);
  }
  close(stop);
}

}  // namespace fb
