#include "probes/remote_clock.h"

#include <doctest/doctest.h>

#include "core/clock.h"

namespace fb {

TEST_CASE("remote clock: date +%s.%N output is parsed, a date without %N is coarse") {
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

TEST_CASE("remote clock: on this host the offset is about zero") {
  Settings s(nlohmann::json::object());
  CommandTarget local = CommandTarget::FromSettings("clock", &s);
  auto r = MeasureClockOffset(local, 3);
  REQUIRE(r.ok());
  CHECK(r->samples == 3);
  CHECK(std::abs(r->offset_ns) <= r->uncertainty_ns + kNsPerMs);
  CHECK(r->uncertainty_ns == r->rtt_ns / 2);
}

}  // namespace fb
