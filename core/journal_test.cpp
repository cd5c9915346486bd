#include "core/journal.h"

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "tests/support/test_util.h"

namespace fb {

TEST_CASE("Journal creates the run directory and appends records as they happen" *
          doctest::test_suite("unit")) {
  TempDir tmp;
  ClockAnchor anchor = ClockAnchor::Take();
  Journal j;
  REQUIRE(j.Create(tmp.path() + "/runs", "my plan/1", anchor).ok());
  CHECK(j.run_id().rfind("my-plan-1-", 0) == 0);

  Event e;
  e.mono_ns = anchor.mono_ns + 1'500'000'000;
  e.source = "runner";
  e.kind = "mark";
  e.message = "hello";
  REQUIRE(j.AppendEvent(e).ok());
  // Visible before the journal is closed: nothing is buffered in the process.
  auto text = ReadFile(j.PathOf("events.jsonl"));
  REQUIRE(text.ok());
  auto rec = nlohmann::json::parse(text.value());
  CHECK(rec["kind"] == "mark");
  CHECK(rec["t_rel_s"].get<double>() == doctest::Approx(1.5));
  CHECK(rec["t_utc_ns"].get<int64_t>() == anchor.utc_ns + 1'500'000'000);

  REQUIRE(j.UpdateRunInfo({{"status", "done"}}).ok());
  auto info = nlohmann::json::parse(ReadFile(j.PathOf("run.json")).value());
  CHECK(info["status"] == "done");
  CHECK(info["anchor"]["utc_ns"].get<int64_t>() == anchor.utc_ns);

  // A second run in the same second gets its own directory.
  Journal j2;
  REQUIRE(j2.Create(tmp.path() + "/runs", "my plan/1", anchor).ok());
  CHECK(j2.dir() != j.dir());
}

TEST_CASE("FormatUtcIso" * doctest::test_suite("unit")) {
  CHECK(FormatUtcIso(0) == "1970-01-01T00:00:00.000000000Z");
  CHECK(FormatUtcIso(1'500'000'000, 3) == "1970-01-01T00:00:01.500Z");
  CHECK(FormatUtcCompact(86400LL * 1'000'000'000) == "19700102T000000Z");
}

}  // namespace fb
