#include "probes/remote_clock.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>

#include "core/clock.h"
#include "tests/support/test_util.h"

namespace fb {

TEST_CASE("remote clock: date +%s.%N output is parsed, a date without %N is coarse" *
          doctest::test_suite("unit")) {
  int64_t ns = 0;
  bool coarse = true;
  REQUIRE(ParseEpochSeconds("1764574476.123456789\n", &ns, &coarse));
  CHECK(ns == 1764574476123456789);
  CHECK(!coarse);
  REQUIRE(ParseEpochSeconds("1764574476.5", &ns, &coarse));
  CHECK(ns == 1764574476500000000);
  REQUIRE(ParseEpochSeconds("1764574476.N\n", &ns, &coarse));  // busybox date
  CHECK(ns == 1764574476 * kNsPerSec);
  CHECK(coarse);
  CHECK(!ParseEpochSeconds("date: invalid option\n", &ns, &coarse));
  CHECK(!ParseEpochSeconds("", &ns, &coarse));
}

TEST_CASE("remote clock: on this host the offset is about zero" * doctest::test_suite("unit")) {
  Settings s(nlohmann::json::object());
  CommandTarget local = CommandTarget::FromSettings("clock", &s);
  auto r = MeasureClockOffset(local, 3);
  REQUIRE(r.ok());
  CHECK(r->samples == 3);
  CHECK(std::abs(r->offset_ns) <= r->uncertainty_ns + kNsPerMs);
  CHECK(r->uncertainty_ns == r->rtt_ns / 2);
}

namespace {

// A stand-in `ssh` on PATH running `body` (sh) with the remote command line in $cmd.
class FakeSshOnPath {
 public:
  explicit FakeSshOnPath(const std::string& body) : old_(getenv("PATH") ? getenv("PATH") : "") {
    std::string bin = dir_.path() + "/ssh";
    std::ofstream(bin) << "#!/bin/sh\nwhile [ $# -gt 0 ] && [ \"$1\" != -- ]; do shift; done\n"
                       << "[ $# -gt 0 ] || exit 0\ncmd=\"$2\"\n"
                       << body;
    chmod(bin.c_str(), 0755);
    setenv("PATH", (dir_.path() + ":" + old_).c_str(), 1);
  }
  ~FakeSshOnPath() { setenv("PATH", old_.c_str(), 1); }

 private:
  TempDir dir_;
  std::string old_;
};

CommandTarget Remote() {
  Settings s(nlohmann::json{{"host", "198.18.0.12"}, {"timeout", "5s"}});
  return CommandTarget::FromSettings("clock", &s);
}

}  // namespace

TEST_CASE("remote clock: without a session loop each round trip is one command" *
          doctest::test_suite("unit")) {
  // A host whose shell cannot run the loop (the session gives nothing), but date works.
  FakeSshOnPath ssh("case \"$cmd\" in *while*) exit 1;; esac\nexec sh -c \"$cmd\"\n");
  auto r = MeasureClockOffset(Remote(), 3);
  REQUIRE(r.ok());
  CHECK(r->samples == 3);
  CHECK(std::abs(r->offset_ns) <= r->uncertainty_ns + kNsPerMs);
}

TEST_CASE("remote clock: a host that cannot be reached is an error naming it and ssh's message" *
          doctest::test_suite("unit")) {
  FakeSshOnPath ssh("echo 'ssh: connect to host 198.18.0.12 port 22: No route to host' >&2\nexit 255\n");
  auto r = MeasureClockOffset(Remote(), 2);
  REQUIRE(!r.ok());
  CHECK(r.status().message().find("198.18.0.12") != std::string::npos);
  CHECK(r.status().message().find("No route to host") != std::string::npos);
}

}  // namespace fb
