// The agents section and the merged-histogram percentiles, from hand-made
// journals: 4 agents on 2 hosts with known raw latencies (a different
// distribution each), one agent lost while its host was fenced.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <random>

#include "core/jsonl_writer.h"
#include "reports/correlator.h"
#include "reports/report.h"
#include "tests/support/journal_fixture.h"
#include "tests/support/skip.h"
#include "tests/support/test_util.h"

namespace fb::reports {

namespace {

using testing::At;

struct AgentSpec {
  const char* name;
  const char* host;
  int per_interval;  // I/Os per 1 s interval: its IOPS
  double offset_ms;  // where its intervals end on the controller's timeline
};
constexpr AgentSpec kAgents[] = {
    {"a1", "h1", 300, 0}, {"a2", "h1", 100, 120}, {"a3", "h2", 200, 250}, {"a4", "h2", 250, 40}};
constexpr int kIntervals = 10;

// Agent i's latency for draw k, in ns: a1 uniform 100-300 us, a2 uniform 1-3 ms,
// a3 mostly 150-250 us with 5% of 20-50 ms, a4 exponential with mean 500 us.
uint64_t Draw(int agent, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0, 1);
  double x = u(rng);
  switch (agent) {
    case 0:
      return uint64_t(100'000 + x * 200'000);
    case 1:
      return uint64_t(1'000'000 + x * 2'000'000);
    case 2:
      return u(rng) < 0.05 ? uint64_t(20'000'000 + x * 30'000'000) : uint64_t(150'000 + x * 100'000);
    default:
      return uint64_t(-std::log(1 - x) * 500'000) + 1000;
  }
}

struct Raw {
  Histogram all_reads, all_writes;
  Histogram reads[4];
};

// The 4-agent journal; `raw` receives every latency it holds.
void WriteAgentsJournal(const std::string& dir, Raw* raw) {
  testing::JournalFixture j(dir);
  j.Run(1.0);
  nlohmann::json agents = nlohmann::json::array();
  for (const auto& a : kAgents)
    agents.push_back({{"name", a.name}, {"host", a.host}, {"offset_ns", 0}, {"uncertainty_ns", 0}});
  j.RunInfo("agents", agents);
  std::mt19937_64 rng(20261201);
  for (int i = 0; i < 4; ++i) {
    for (int k = 0; k < kIntervals; ++k) {
      std::vector<uint64_t> reads, writes;
      for (int n = 0; n < kAgents[i].per_interval; ++n) {
        uint64_t v = Draw(i, rng);
        if (n % 5 == 4) {
          writes.push_back(v * 2);
          raw->all_writes.Record(v * 2);
        } else {
          reads.push_back(v);
          raw->all_reads.Record(v);
          raw->reads[i].Record(v);
        }
      }
      j.AgentSample(kAgents[i].name, k, (k + 1) * 1000.0 + kAgents[i].offset_ms, reads, writes,
                    i == 1 && k == 3 ? 2 : 0);
    }
  }
  j.Event(0, "loadgen", "load_started");
  for (const auto& a : kAgents)
    j.AgentEvent(0, a.name, a.name, "agent_clock", {{"offset_ns", 1'500'000}, {"uncertainty_ns", 200'000}});
  j.AgentEvent(8000, "a3", "a3", "agent_clock", {{"offset_ns", 1'400'000}, {"uncertainty_ns", 900'000}});
  // a3 (host h2) loses its connection while h2 is fenced and its VM restarted.
  j.Event(1000, "xapi", "host_down", {{"host", "h2"}}, "h2 down (too early to matter)");
  j.AgentStall("a3", 4800, 8150);
  j.AgentEvent(5000, "a3", "a3", "agent_lost",
               {{"last_completion_utc_ns", At(4800)}, {"why", "ssh: connection reset"}});
  j.Event(5200, "xapi", "host_down", {{"host", "h2"}}, "h2 stopped heartbeating");
  j.Event(6000, "xapi", "log", {}, "unrelated line");
  j.Event(6500, "xapi", "host_fenced", {{"host", "h2"}});
  j.Event(7200, "xapi", "vm_started", {{"vm", "vm-a3"}, {"host", "h1"}});
  j.AgentEvent(7900, "a3", "agent", "agent_restarted");
  j.AgentEvent(8000, "a3", "a3", "agent_back", {{"first_completion_utc_ns", 0}, {"down_ms", 3000.0}});
  j.AgentEvent(
      8300, "a3", "a3", "agent_first_completion",
      {{"first_completion_utc_ns", At(8150)}, {"last_completion_utc_ns", At(4800)}, {"downtime_ms", 3350.0}});
  j.Event(30000, "xapi", "host_up", {{"host", "h2"}}, "h2 back (long after)");
  j.Event(10300, "loadgen", "load_finished");
  j.Flush();
}

Analysis AnalyzeOk(const std::string& dir) {
  auto a = AnalyzeRun(dir);
  REQUIRE(a.ok());
  return std::move(*a);
}

// The 4-agent journal, analyzed.
Analysis AnalyzeAgents(const std::string& dir, Raw* raw) {
  WriteAgentsJournal(dir, raw);
  Analysis a = AnalyzeOk(dir);
  REQUIRE(a.agents.size() == 4);
  return a;
}

}  // namespace

TEST_CASE("agents report: total percentiles from every agent's merged histograms, IOPS summed" *
          doctest::test_suite("unit")) {
  TempDir tmp;
  Raw raw;
  Analysis a = AnalyzeAgents(tmp.path(), &raw);
  const AgentView& t = a.agents_total;

  double expect_p99 = double(raw.all_reads.Percentile(0.99)) / 1e3;
  REQUIRE(t.read.p99_us);
  CHECK_FALSE(t.read.approximate);
  CHECK(*t.read.p99_us == expect_p99);
  CHECK(*t.read.p50_us == double(raw.all_reads.Percentile(0.50)) / 1e3);
  CHECK(*t.read.max_us == double(raw.all_reads.max()) / 1e3);
  CHECK(*t.write.p99_us == double(raw.all_writes.Percentile(0.99)) / 1e3);
  CHECK(t.read.ios == raw.all_reads.count());
  // Each agent's own p99 from its own merged histograms.
  double mean_p99 = 0;
  for (int i = 0; i < 4; ++i) {
    CAPTURE(i);
    CHECK(a.agents[size_t(i)].name == kAgents[i].name);
    CHECK(a.agents[size_t(i)].host == kAgents[i].host);
    REQUIRE(a.agents[size_t(i)].read.p99_us);
    CHECK(*a.agents[size_t(i)].read.p99_us == double(raw.reads[i].Percentile(0.99)) / 1e3);
    mean_p99 += *a.agents[size_t(i)].read.p99_us / 4;
  }
  // Averaging the agents' p99s would be far off: the test would see it.
  CAPTURE(mean_p99);
  CAPTURE(expect_p99);
  CHECK(std::abs(mean_p99 - expect_p99) > 0.2 * expect_p99);

  double sum = 0;
  for (const auto& v : a.agents) sum += v.iops;
  CHECK(t.iops == doctest::Approx(sum));
  CHECK(t.iops == doctest::Approx(300 + 100 + 200 + 250));
  CHECK(a.agents[1].errors == 2);
  CHECK(t.errors == 2);
  CHECK(a.agents[2].stalls == 1);
  CHECK(t.stalls == 1);

  // The run's own series: one merged interval per slot, its percentiles merged too.
  CHECK(a.journal.samples.size() == size_t(kIntervals));
  REQUIRE(a.read_latency.p99_us);
  CHECK(*a.read_latency.p99_us == expect_p99);
  CHECK_FALSE(a.latency_approximate);
  CHECK(a.journal.samples.front().iops() == doctest::Approx(850));
}

TEST_CASE("agents report: clock offset and downtime with the HA events around it" *
          doctest::test_suite("unit")) {
  TempDir tmp;
  Raw raw;
  Analysis a = AnalyzeAgents(tmp.path(), &raw);
  const AgentView& a3 = a.agents[2];
  REQUIRE(a3.offset_ns);
  CHECK(*a3.offset_ns == 1'500'000);
  CHECK(*a3.uncertainty_ns == 200'000);
  CHECK(*a3.max_uncertainty_ns == 900'000);
  CHECK(a3.clock_measurements == 2);
  CHECK(a.agents[0].clock_measurements == 1);
  CHECK(a.agents[0].downtimes.empty());
  REQUIRE(a3.downtimes.size() == 1);
  const AgentDowntime& d = a3.downtimes[0];
  CHECK(d.ended_by == "agent_first_completion");
  CHECK(d.why == "ssh: connection reset");
  CHECK(d.last_completion_utc_ns == At(4800));
  CHECK(d.first_completion_utc_ns == At(8150));
  REQUIRE(d.downtime_ms);
  CHECK(*d.downtime_ms == doctest::Approx(3350));
  std::vector<std::string> kinds;
  for (const auto& e : d.nearby) kinds.push_back(e.kind);
  CHECK(kinds == std::vector<std::string>{"host_down", "host_fenced", "vm_started", "agent_restarted"});

  std::string summary = FormatSummary(a, false);
  INFO(summary);
  CHECK(summary.find("Agents (") != std::string::npos);
  CHECK(summary.find(
            "a3 down: lost +5.000s (ssh: connection reset); last completion +4.800s, first after +8.150s: "
            "3350.000 ms") != std::string::npos);
  CHECK(summary.find("host_fenced") != std::string::npos);
  CHECK(summary.find("+1.500 ms +/-0.200 (max 0.900)") != std::string::npos);
  std::string html = FormatHtml(a);
  CHECK(html.find("<h2>Agents</h2>") != std::string::npos);
  CHECK(html.find("Agent downtimes") != std::string::npos);
  nlohmann::json r = ReportToJson(a);
  REQUIRE(r.contains("agents"));
  CHECK(r["agents"]["agents"].size() == 4);
  CHECK(r["agents"]["total"]["iops"].get<double>() == doctest::Approx(850));
  CHECK(r["agents"]["agents"][2]["downtimes"][0]["events"].size() == 4);
}

TEST_CASE("agents report: an agent back without a first completion keeps agent_back's downtime" *
          doctest::test_suite("unit")) {
  TempDir tmp;
  testing::JournalFixture j(tmp.path());
  j.Run(1.0);
  for (int k = 0; k < 5; ++k) j.AgentSample("solo", k, (k + 1) * 1000.0, {200'000, 300'000});
  j.AgentEvent(2500, "solo", "solo", "agent_lost",
               {{"last_completion_utc_ns", At(2000)}, {"why", "timeout"}});
  j.Event(2600, "xapi", "master_changed");
  j.AgentEvent(4000, "solo", "solo", "agent_back", {{"first_completion_utc_ns", 0}, {"down_ms", 1500.0}});
  j.Flush();
  Analysis a = AnalyzeOk(tmp.path());
  REQUIRE(a.agents.size() == 1);
  REQUIRE(a.agents[0].downtimes.size() == 1);
  const AgentDowntime& d = a.agents[0].downtimes[0];
  CHECK(d.ended_by == "agent_back");
  CHECK_FALSE(d.first_completion_utc_ns);
  CHECK(d.downtime_ms == 1500.0);
  REQUIRE(d.nearby.size() == 1);
  CHECK(d.nearby[0].kind == "master_changed");
}

TEST_CASE("agents report: report.json with the agents section validates against report.schema.json" *
          doctest::test_suite("integration")) {
  const char* python = "/usr/bin/python3";
  auto have = RunCommand({python, "-c", "import jsonschema"});
  if (!have.ok() || !have->success()) {
    Skip("python3-jsonschema is not installed");
    return;
  }
  TempDir tmp;
  Raw raw;
  WriteAgentsJournal(tmp.path(), &raw);
  Analysis a = AnalyzeOk(tmp.path());
  std::ofstream(tmp.path() + "/report.json") << ReportToJson(a).dump(2);
  auto v =
      RunCommand({python, "-c",
                  "import json, sys, jsonschema\n"
                  "doc = json.load(open(sys.argv[2]))\n"
                  "jsonschema.Draft202012Validator(json.load(open(sys.argv[1]))).validate(doc)\n"
                  "assert doc['agents']['total']['name'] == 'total'\n",
                  std::string(FB_SOURCE_DIR) + "/reports/report.schema.json", tmp.path() + "/report.json"});
  REQUIRE(v.ok());
  INFO(v->err);
  CHECK(v->exit_code == 0);
}

TEST_CASE(
    "agents report: a journal without lat_hist still reports, its percentiles marked approximate, no agents "
    "section" *
    doctest::test_suite("unit")) {
  TempDir tmp;
  testing::WriteCutJournal(tmp.path());
  Analysis a = AnalyzeOk(tmp.path());
  CHECK(a.agents.empty());
  CHECK(a.latency_approximate);
  CHECK(a.baseline.latency.approximate);
  REQUIRE(a.baseline.latency.p99_us);
  CHECK(*a.baseline.latency.p99_us == doctest::Approx(500));  // the median interval's, as before
  REQUIRE(a.faults.size() == 1);
  CHECK(a.faults[0].p99_approximate);
  REQUIRE(a.faults[0].p99_us);
  CHECK(*a.faults[0].p99_us == doctest::Approx(1911000));  // the worst interval's, as before
  std::string summary = FormatSummary(a, false);
  CHECK(summary.find("approx.") != std::string::npos);
  CHECK(summary.find("no lat_hist") != std::string::npos);
  CHECK(summary.find("Agents") == std::string::npos);
  CHECK(FormatHtml(a).find("<h2>Agents</h2>") == std::string::npos);
  CHECK_FALSE(ReportToJson(a).contains("agents"));
  CHECK(ReportToJson(a)["latency"]["from_histograms"] == false);
}

TEST_CASE(
    "merged percentiles: a fault window's p99 comes from its intervals' merged histograms, not the worst "
    "interval" *
    doctest::test_suite("unit")) {
  TempDir tmp;
  testing::JournalFixture j(tmp.path());
  j.Run(1.0);
  Histogram impact;
  for (int k = 0; k < 10; ++k) {
    std::vector<uint64_t> reads(100, 100'000);
    if (k == 5) reads.assign(100, 1'000'000);
    if (k == 6) {
      reads.assign(98, 200'000);
      reads.insert(reads.end(), 2, 50'000'000);
    }
    if (k >= 5 && k <= 7) {
      for (uint64_t v : reads) impact.Record(v);
    }
    j.AgentSample("", k, (k + 1) * 1000.0, reads);
  }
  j.Event(0, "loadgen", "load_started");
  j.Event(5000, "cut", "fault_injected", {{"injector", "cut"}});
  j.Event(7000, "cut", "fault_reverted", {{"injector", "cut"}});
  j.Event(10000, "loadgen", "load_finished");
  j.Flush();
  Analysis a = AnalyzeOk(tmp.path());
  CHECK(a.agents.empty());
  CHECK_FALSE(a.latency_approximate);
  REQUIRE(a.faults.size() == 1);
  const FaultWindow& f = a.faults[0];
  CHECK_FALSE(f.p99_approximate);
  REQUIRE(f.p99_us);
  CHECK(*f.p99_us == double(impact.Percentile(0.99)) / 1e3);
  CHECK(*f.p99_us < 2000);  // the worst interval's p99 is 50 ms
  CHECK(*f.max_latency_us == 50'000);
  REQUIRE(a.baseline.latency.p99_us);
  CHECK(*a.baseline.latency.p99_us == 100);
}

}  // namespace fb::reports
