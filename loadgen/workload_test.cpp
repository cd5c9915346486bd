#include "loadgen/workload.h"

#include <doctest/doctest.h>

namespace fb {

TEST_CASE("ParseAccessSpec reads IOmeter-style specs" * doctest::test_suite("unit")) {
  auto s = ParseAccessSpec("60:4k:70:100");
  REQUIRE(s.ok());
  CHECK(s->weight == 60);
  CHECK(s->block_size == 4096);
  CHECK(s->read_fraction == doctest::Approx(0.7));
  CHECK(s->random_fraction == doctest::Approx(1.0));
  CHECK(s->alignment == 0);
  auto t = ParseAccessSpec("40:64k:0:0:4k");
  REQUIRE(t.ok());
  CHECK(t->alignment == 4096);
  for (const char* bad :
       {"60:4k:70", "x:4k:70:100", "1:4kk:70:100", "1:4k:170:100", "1:4k:70:100:0", "1:0:50:50"}) {
    CHECK_MESSAGE(!ParseAccessSpec(bad).ok(), bad);
  }
}

TEST_CASE("ApplyFioRw" * doctest::test_suite("unit")) {
  AccessSpec s;
  REQUIRE(ApplyFioRw("randrw", 0.7, &s).ok());
  CHECK(s.read_fraction == doctest::Approx(0.7));
  CHECK(s.random_fraction == 1.0);
  REQUIRE(ApplyFioRw("write", 0.7, &s).ok());
  CHECK(s.read_fraction == 0.0);
  CHECK(s.random_fraction == 0.0);
  CHECK(!ApplyFioRw("randomread", 0.7, &s).ok());
}

TEST_CASE("ValidateWorkload and ValidateAgainstTarget catch impossible loads" * doctest::test_suite("unit")) {
  Workload w;
  w.targets = {"/tmp/x"};
  CHECK(ValidateWorkload(w).ok());
  w.queue_depth = 0;
  CHECK(!ValidateWorkload(w).ok());
  w.queue_depth = 32;
  w.interval_ns = 1'000'000;
  CHECK(ValidateWorkload(w).message().find("10ms") != std::string::npos);
  w.interval_ns = 1'000'000'000;
  w.ramp_ns = w.duration_ns;
  CHECK(!ValidateWorkload(w).ok());
  w.ramp_ns = 0;

  CHECK(ValidateAgainstTarget(w, 1 << 20, 512, "/dev/x").ok());
  w.specs[0].block_size = 2 << 20;
  CHECK(ValidateAgainstTarget(w, 1 << 20, 512, "/dev/x").message().find("larger than the region") !=
        std::string::npos);
  w.specs[0].block_size = 1000;
  CHECK(ValidateAgainstTarget(w, 1 << 20, 512, "/dev/x").message().find("O_DIRECT") != std::string::npos);
  w.specs[0].block_size = 4096;
  w.offset_bytes = 2 << 20;
  CHECK(ValidateAgainstTarget(w, 1 << 20, 512, "/dev/x").message().find("beyond the end") !=
        std::string::npos);
  w.offset_bytes = 0;
  w.size_bytes = 2 << 20;
  CHECK(ValidateAgainstTarget(w, 1 << 20, 512, "/dev/x").message().find("beyond the end") !=
        std::string::npos);
}

}  // namespace fb
