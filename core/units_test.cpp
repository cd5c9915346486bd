#include "core/units.h"

#include <doctest/doctest.h>

namespace fb {

TEST_CASE("ParseSize accepts the forms users write" * doctest::test_suite("unit")) {
  CHECK(ParseSize("4k").value() == 4096);
  CHECK(ParseSize("4K").value() == 4096);
  CHECK(ParseSize("64KiB").value() == 65536);
  CHECK(ParseSize("1.5GiB").value() == 1610612736ULL);
  CHECK(ParseSize("512").value() == 512);
  CHECK(ParseSize("512B").value() == 512);
  CHECK(ParseSize("10GiB").value() == 10737418240ULL);
  CHECK(ParseSize("1MB").value() == 1000000);
  CHECK(ParseSize("2T").value() == 2199023255552ULL);
  CHECK(ParseSize(" 8m ").value() == 8388608);
}

TEST_CASE("ParseSize rejects bad input and quotes it" * doctest::test_suite("unit")) {
  for (const char* bad : {"4kk", "-1k", "10 parsecs", "", "k", "1.k", "0.3k", "4 k", "1e3", "99999999T"}) {
    auto r = ParseSize(bad);
    CHECK_MESSAGE(!r.ok(), bad);
    if (!r.ok()) {
      CHECK(r.status().message().find(std::string("\"") + bad + "\"") != std::string::npos);
      CHECK(r.status().code() == Status::Code::kInvalidInput);
    }
  }
}

TEST_CASE("ParseDuration accepts the forms users write" * doctest::test_suite("unit")) {
  CHECK(ParseDuration("250ms").value() == 250'000'000);
  CHECK(ParseDuration("90s").value() == 90'000'000'000);
  CHECK(ParseDuration("2m").value() == 120'000'000'000);
  CHECK(ParseDuration("1h").value() == 3'600'000'000'000);
  CHECK(ParseDuration("1m30s").value() == 90'000'000'000);
  CHECK(ParseDuration("1.5s").value() == 1'500'000'000);
  CHECK(ParseDuration("500us").value() == 500'000);
  CHECK(ParseDuration("10ms").value() == 10'000'000);
  CHECK(ParseDuration("0s").value() == 0);
}

TEST_CASE("ParseDuration rejects bad input and quotes it" * doctest::test_suite("unit")) {
  for (const char* bad : {"-1s", "10 parsecs", "10", "s", "5sec", "1.s", "", "3 s", "10parsecs"}) {
    auto r = ParseDuration(bad);
    CHECK_MESSAGE(!r.ok(), bad);
    if (!r.ok()) CHECK(r.status().message().find(std::string("\"") + bad + "\"") != std::string::npos);
  }
}

TEST_CASE("ParsePercent" * doctest::test_suite("unit")) {
  CHECK(ParsePercent("70").value() == doctest::Approx(0.7));
  CHECK(ParsePercent("70%").value() == doctest::Approx(0.7));
  CHECK(ParsePercent("0").value() == 0.0);
  CHECK(!ParsePercent("101").ok());
  CHECK(!ParsePercent("-5").ok());
  CHECK(!ParsePercent("abc").ok());
}

TEST_CASE("Format sizes and durations" * doctest::test_suite("unit")) {
  CHECK(FormatSize(4096) == "4KiB");
  CHECK(FormatSize(1610612736ULL) == "1.50GiB");
  CHECK(FormatSize(3ULL << 30) == "3GiB");
  CHECK(FormatSize(1000) == "1000B");
  CHECK(FormatSize(1500000) == "1.43MiB");
  CHECK(FormatDuration(250'000'000) == "250ms");
  CHECK(FormatDuration(1'911'000'000) == "1.911s");
  CHECK(FormatDuration(150'000'000'000) == "2m30s");
  CHECK(FormatDuration(15'000) == "15us");
}

}  // namespace fb
