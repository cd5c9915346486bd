// The journal reader on hand-written files: samples.jsonl read a line at a
// time, a segment at a time and on several threads, straight into samples.
#include "reports/journal_reader.h"

#include <doctest/doctest.h>

#include <fstream>

#include "tests/support/test_util.h"

namespace fb::reports {

namespace {

void WriteRun(const std::string& dir, const std::string& samples) {
  std::ofstream(dir + "/run.json") << R"({"status":"completed","load":{"interval_s":1.0}})";
  std::ofstream(dir + "/events.jsonl") << "";
  std::ofstream(dir + "/stalls.jsonl") << "";
  std::ofstream(dir + "/samples.jsonl") << samples;
}

// A compact job "all" record of interval k, as the journal writes it.
std::string AllLine(int k, const std::string& agent = "") {
  std::string a = agent.empty() ? "" : "\"agent\":\"" + agent + "\",";
  return "{" + a + "\"errors\":0,\"inflight\":1,\"interval\":" + std::to_string(k) +
         ",\"interval_s\":1.0,\"job\":\"all\",\"read\":{\"ios\":10,\"iops\":10.0,\"lat_hist\":[[1400,10]],"
         "\"lat_max_us\":300.5,\"lat_p50_us\":180.0,\"lat_p99_us\":290.0,\"lat_min_us\":100.0},"
         "\"stall\":false,\"t_utc_ns\":" +
         std::to_string(1'000'000'000'000 + int64_t(k + 1) * 1'000'000'000) +
         ",\"write\":{\"ios\":0,\"iops\":0.0}}\n";
}

}  // namespace

TEST_CASE(
    "journal reader: a sample's fields whatever their JSON types, per-job records skipped, buckets "
    "checked" *
    doctest::test_suite("unit")) {
  TempDir tmp;
  std::string text =
      // A per-job record: not read at all (not even checked).
      "{\"interval\":0,\"job\":0,\"read\":{\"ios\":999}}\n"
      // Integers written as floats, a null latency, buckets out of order, of
      // count 0 and not integers (each dropped), errors by errno, verify.
      "{\"errors\":2.0,\"inflight\":3,\"interval\":0,\"interval_s\":0.5,\"job\":\"all\",\"oldest_inflight_"
      "age_ms\":"
      "12.5,\"read\":{\"errors\":2,\"errors_by_errno\":{\"5\":2},\"ios\":7,\"iops\":14.0,\"lat_hist\":[[5,2],"
      "[3,1],"
      "[7,0],[9,\"x\"],[11,4]],\"lat_max_us\":900,\"lat_min_us\":50.0,\"lat_p50_us\":100.0,\"lat_p99_us\":"
      "null},"
      "\"stall\":true,\"ramp\":true,\"t_utc_ns\":2000000000.0,\"verify\":{\"verified_blocks\":12},\"write\":{"
      "\"ios\":"
      "1,\"iops\":2}}\n"
      // Spaces and another key order: still job "all".
      "{ \"t_utc_ns\" : 2500000000 , \"job\" : \"all\" , \"interval\" : 1 , \"agent\" : \"vm-1\" }\n";
  WriteRun(tmp.path(), text);
  auto r = ReadRunJournal(tmp.path());
  REQUIRE(r.ok());
  CHECK(r->warnings.empty());
  REQUIRE(r->agent_loads.size() == 1);
  REQUIRE(r->agent_loads.count("vm-1"));
  const AgentLoad& vm1 = r->agent_loads.at("vm-1");
  REQUIRE(vm1.intervals.size() == 1);
  CHECK(vm1.intervals[0].end_utc_ns == 2'500'000'000);
  CHECK(vm1.intervals[0].interval_ns == kNsPerSec);  // none written: the run's
  CHECK(r->agents == std::vector<std::string>{"vm-1"});
  // The controller's own sample, merged with the agent's onto the grid: find it
  // through the agent-free journal instead.
  TempDir own;
  WriteRun(own.path(), text.substr(0, text.rfind("{ \"t_utc_ns\"")));
  auto o = ReadRunJournal(own.path());
  REQUIRE(o.ok());
  REQUIRE(o->samples.size() == 1);
  const Sample& s = o->samples[0];
  CHECK(s.agent.empty());
  CHECK(s.errors == 2);
  CHECK(s.inflight == 3);
  CHECK(s.index == 0);
  CHECK(s.interval_ns == kNsPerSec / 2);
  CHECK(s.end_utc_ns == 2'000'000'000);
  CHECK(s.oldest_inflight_age_ms == 12.5);
  CHECK(s.stall);
  CHECK(s.ramp);
  CHECK_FALSE(s.drain);
  CHECK(s.verified_blocks == 12u);
  CHECK(s.read.ios == 7);
  CHECK(s.read.errors == 2);
  CHECK(s.read.iops == 14.0);
  CHECK(s.read.errors_by_errno == std::map<std::string, uint64_t>{{"5", 2}});
  CHECK(s.read.lat_hist == std::vector<std::pair<int, uint64_t>>{{5, 2}, {11, 4}});
  CHECK(s.read.max_us == 900.0);
  CHECK(s.read.min_us == 50.0);
  CHECK(s.read.p50_us == 100.0);
  CHECK_FALSE(s.read.p99_us.has_value());
  CHECK(s.write.ios == 1);
  CHECK(s.write.iops == 2.0);
  CHECK(s.write.lat_hist.empty());
}

TEST_CASE(
    "journal reader: samples over several segments keep their order; a bad line is named by its line "
    "number, a cut-short last one is a warning" *
    doctest::test_suite("unit")) {
  // ~7 MiB: more than one segment, every line read on one of the threads.
  std::string text;
  const int n = 24000;
  for (int k = 0; k < n; ++k) text += AllLine(k) + "{\"interval\":" + std::to_string(k) + ",\"job\":0}\n";
  REQUIRE(text.size() > (6u << 20));
  {
    TempDir tmp;
    WriteRun(tmp.path(), text);
    auto r = ReadRunJournal(tmp.path());
    REQUIRE(r.ok());
    REQUIRE(r->samples.size() == size_t(n));
    bool ordered = true;
    for (int k = 0; k < n; ++k) ordered = ordered && r->samples[k].index == k;
    CHECK(ordered);
    CHECK(r->samples.back().read.p99_us == 290.0);
  }
  {
    // A bad line past the first segment: an error naming its line.
    TempDir tmp;
    std::string bad = text;
    size_t at = bad.find('\n', 5u << 20) + 1;
    int line = 1 + int(std::count(bad.begin(), bad.begin() + long(at), '\n'));
    bad.insert(at, "{\"job\":\"all\",\"interval\":\n");
    WriteRun(tmp.path(), bad);
    auto r = ReadRunJournal(tmp.path());
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message() ==
          tmp.path() + "/samples.jsonl:" + std::to_string(line) + ": not a JSON record");
    CHECK(r.status().exit_code() == kExitUsage);
  }
  {
    // Cut short at the end (a crash mid-write), trailing newlines or not.
    for (const char* tail : {"{\"job\":\"all\",\"inter", "{\"job\":\"all\",\"inter\n\n"}) {
      TempDir tmp;
      WriteRun(tmp.path(), text + tail);
      auto r = ReadRunJournal(tmp.path());
      REQUIRE(r.ok());
      CHECK(r->samples.size() == size_t(n));
      REQUIRE(r->warnings.size() == 1);
      CHECK(r->warnings[0] == tmp.path() + "/samples.jsonl:" + std::to_string(2 * n + 1) +
                                  ": last line cut short (the run may have crashed); skipped");
    }
  }
}

}  // namespace fb::reports

namespace fb::reports {

TEST_CASE(
    "journal reader: samples.jsonl is strict JSON: escapes and numbers of every form read, a malformed "
    "line refused" *
    doctest::test_suite("unit")) {
  {
    TempDir tmp;
    WriteRun(
        tmp.path(),
        "{\"agent\":\"vm-\\u00e9\\\"\\/\\ud83d\\ude00\\n\",\"interval\":3,\"job\":\"all\",\"t_utc_ns\":2.5e9,"
        "\"inflight\":1e1,\"oldest_inflight_age_ms\":0.25E+1,\"errors\":184467440737095516160,\"read\":{"
        "\"ios\":"
        "4,\"lat_hist\":[[2,1],[4,-1],[6,1.5]],\"lat_min_us\":-0,\"iops\":0.5}}\n"
        // The same agent's interval 5, a second later by its time: its
        // place on the grid comes from its index (two slots later).
        "{\"agent\":\"vm-\\u00e9\\\"\\/"
        "\\ud83d\\ude00\\n\",\"interval\":5,\"job\":\"all\",\"t_utc_ns\":3.5e9}\n");
    auto r = ReadRunJournal(tmp.path());
    REQUIRE(r.ok());
    REQUIRE(r->agents.size() == 1);
    CHECK(r->agents[0] == "vm-\xc3\xa9\"/\xf0\x9f\x98\x80\n");
    // The agent's records merged onto the run's grid, one sample per slot.
    REQUIRE(r->samples.size() == 2);
    CHECK(r->samples[1].index == 2);
    const Sample& s = r->samples[0];
    CHECK(s.index == 0);
    CHECK(s.end_utc_ns == 2'500'000'000);
    CHECK(s.inflight == 10);
    CHECK(s.oldest_inflight_age_ms == 2.5);
    CHECK(s.read.lat_hist == std::vector<std::pair<int, uint64_t>>{{2, 1}});
    CHECK(s.read.min_us == 0.0);
    CHECK(s.read.iops == 0.5);
  }
  for (const char* bad :
       {"{\"job\":\"all\"} x", "{\"job\":\"all\",}", "{\"job\":\"all\",\"a\":01}",
        "{\"job\":\"all\",\"a\":\"\\x\"}", "{\"job\":\"all\",\"a\":tru}", "[1]", "5",
        "{\"job\":\"all\",\"a\":\"\\ud800\"}", "{\"job\":\"all\",\"a\":1.}", "{\"job\" \"all\"}",
        "{\"job\":\"all\",\"a\":\"tab\there\"}", "{\"job\":\"all\",\"a\":[1,]}"}) {
    CAPTURE(bad);
    TempDir tmp;
    WriteRun(tmp.path(), AllLine(0) + bad + "\n" + AllLine(1));
    auto r = ReadRunJournal(tmp.path());
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message() == tmp.path() + "/samples.jsonl:2: not a JSON record");
  }
}

}  // namespace fb::reports
