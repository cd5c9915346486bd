#include "metrics/metrics_exporter.h"

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <sstream>

#include "loadgen/load_generator.h"
#include "tests/support/test_util.h"

namespace fb {

namespace {
// The value of the sample of `name` whose labels include all of `labels`.
double Sample(const std::string& text, const std::string& name,
              const std::map<std::string, std::string>& labels) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + "{", 0) != 0) continue;
    bool all = true;
    for (const auto& [k, v] : labels) all = all && line.find(k + "=\"" + v + "\"") != std::string::npos;
    if (all) return std::stod(line.substr(line.rfind(' ') + 1));
  }
  return -1;
}
// Counts every completion the load reported, drain included (as the metrics do).
struct Totals : LoadSink {
  std::array<OpCounters, kOpCount> op;
  void OnInterval(const IntervalReport& r) override {
    for (int i = 0; i < kOpCount; ++i) op[size_t(i)].Merge(r.total->op[size_t(i)]);
  }
};
}  // namespace

TEST_CASE("The exporter serves the load's counters, histogram and live gauges" *
          doctest::test_suite("integration")) {
  TempDir tmp("/var/tmp");
  auto m = MetricsExporter::Start("127.0.0.1:0", "unit-run");
  REQUIRE(m.ok());
  int port = (*m)->port();
  REQUIRE(port > 0);

  Workload w;
  w.targets = {tmp.path() + "/t.dat"};
  w.create_size_bytes = 16 << 20;
  w.specs[0].read_fraction = 0.5;
  w.duration_ns = 1'000'000'000;
  w.interval_ns = 200'000'000;
  LoadGenerator gen(w);
  REQUIRE(gen.Prepare().ok());
  gen.AddSink((*m)->load_sink());
  Totals totals;
  gen.AddSink(&totals);
  (*m)->Watch(&gen);
  (*m)->SetRunInfo("unit-plan", "baseline");
  (*m)->SetFaultActive("cut-link", true);
  REQUIRE(gen.Run().ok());
  (*m)->Stop();

  std::string text = HttpGet("127.0.0.1", port, "/metrics").body;
  const auto& s = totals;
  double reads = Sample(text, "faultbench_io_operations_total",
                        {{"agent", "local"}, {"job", "0"}, {"op", "read"}, {"run", "unit-run"}});
  CHECK(reads == double(s.op[0].ios));
  double count = Sample(text, "faultbench_io_latency_seconds_count",
                        {{"agent", "local"}, {"job", "0"}, {"op", "read"}, {"run", "unit-run"}});
  CHECK(count == double(s.op[0].ios));
  double inf =
      Sample(text, "faultbench_io_latency_seconds_bucket",
             {{"agent", "local"}, {"job", "0"}, {"le", "+Inf"}, {"op", "read"}, {"run", "unit-run"}});
  CHECK(inf == count);
  // Buckets are cumulative and the 60 s one holds everything.
  CHECK(Sample(text, "faultbench_io_latency_seconds_bucket",
               {{"agent", "local"}, {"job", "0"}, {"le", "60"}, {"op", "read"}, {"run", "unit-run"}}) ==
        count);
  CHECK(Sample(text, "faultbench_io_latency_seconds_bucket",
               {{"agent", "local"}, {"job", "0"}, {"le", "5e-05"}, {"op", "read"}, {"run", "unit-run"}}) <=
        count);
  CHECK(Sample(text, "faultbench_io_bytes_total",
               {{"agent", "local"}, {"job", "0"}, {"op", "write"}, {"run", "unit-run"}}) ==
        double(s.op[1].bytes));
  CHECK(Sample(text, "faultbench_faults_active", {{"injector", "cut-link"}, {"run", "unit-run"}}) == 1);
  CHECK(Sample(text, "faultbench_run_info",
               {{"phase", "baseline"}, {"plan", "unit-plan"}, {"run", "unit-run"}}) == 1);
  CHECK(Sample(text, "faultbench_stall_active", {{"agent", "local"}, {"run", "unit-run"}}) == 0);
  CHECK(text.find("# TYPE faultbench_io_latency_seconds histogram") != std::string::npos);
}

TEST_CASE("A malformed or busy metrics address is bad input" * doctest::test_suite("unit")) {
  for (const char* bad : {"nonsense", "127.0.0.1:99999", "127.0.0.1:", "localhost:9464x", "300.1.1.1:9464"}) {
    auto m = MetricsExporter::Start(bad, "r");
    CHECK_MESSAGE(!m.ok(), bad);
    if (!m.ok()) CHECK(m.status().code() == Status::Code::kInvalidInput);
  }
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(listen(fd, 1) == 0);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  auto busy = MetricsExporter::Start("127.0.0.1:" + std::to_string(ntohs(a.sin_port)), "r");
  close(fd);
  REQUIRE(!busy.ok());
  CHECK(busy.status().message().find("in use") != std::string::npos);
}

}  // namespace fb

namespace fb {

TEST_CASE("An agent's series: its own label, counters and latency from its samples' lat_hist" *
          doctest::test_suite("integration")) {
  auto m = MetricsExporter::Start("127.0.0.1:0", "agent-run");
  REQUIRE(m.ok());
  MetricsExporter::AgentSeries* vm1 = (*m)->AddAgent("vm1", 2);
  MetricsExporter::AgentSeries* vm2 = (*m)->AddAgent("vm2", 1);
  // 3 reads of ~100 us and 1 of ~30 ms on job 1 of vm1; a write error on vm2.
  int fast = Histogram::IndexOf(100'000), slow = Histogram::IndexOf(30'000'000);
  nlohmann::json s1 = {{"job", 1},
                       {"interval_s", 1.0},
                       {"read",
                        {{"ios", 4},
                         {"bytes", 16384},
                         {"errors", 0},
                         {"lat_mean_us", 7575.0},
                         {"lat_hist", {{fast, 3}, {slow, 1}}}}},
                       {"write", {{"ios", 0}, {"bytes", 0}, {"errors", 0}}}};
  (*m)->OnAgentSample(vm1, s1);
  (*m)->OnAgentSample(vm1, {{"job", "all"},
                            {"interval_s", 1.0},
                            {"inflight", 3},
                            {"oldest_inflight_age_ms", 1500.0},
                            {"stall", true}});
  (*m)->OnAgentSample(vm2, {{"job", 0}, {"write", {{"ios", 2}, {"bytes", 8192}, {"errors", 1}}}});
  (*m)->OnAgentSample(vm2, {{"job", 7}, {"write", {{"ios", 99}}}});  // no such job: ignored
  (*m)->OnAgentStall(vm1, {{"start_utc_ns", 1}, {"end_utc_ns", 2}});
  (*m)->OnAgentStall(vm1, {{"start_utc_ns", 3}, {"end_utc_ns", nullptr}, {"open", true}});
  std::string text = HttpGet("127.0.0.1", (*m)->port(), "/metrics").body;
  auto at = [&](const std::string& name, std::map<std::string, std::string> l) {
    l["run"] = "agent-run";
    return Sample(text, name, l);
  };
  CHECK(at("faultbench_io_operations_total", {{"agent", "vm1"}, {"job", "1"}, {"op", "read"}}) == 4);
  CHECK(at("faultbench_io_operations_total", {{"agent", "vm1"}, {"job", "0"}, {"op", "read"}}) == 0);
  CHECK(at("faultbench_io_bytes_total", {{"agent", "vm1"}, {"job", "1"}, {"op", "read"}}) == 16384);
  CHECK(at("faultbench_io_latency_seconds_count", {{"agent", "vm1"}, {"job", "1"}, {"op", "read"}}) == 4);
  CHECK(at("faultbench_io_latency_seconds_bucket",
           {{"agent", "vm1"}, {"job", "1"}, {"op", "read"}, {"le", "0.0002"}}) == 3);
  CHECK(at("faultbench_io_latency_seconds_bucket",
           {{"agent", "vm1"}, {"job", "1"}, {"op", "read"}, {"le", "0.02"}}) == 3);
  CHECK(at("faultbench_io_latency_seconds_bucket",
           {{"agent", "vm1"}, {"job", "1"}, {"op", "read"}, {"le", "0.05"}}) == 4);
  CHECK(at("faultbench_io_inflight", {{"agent", "vm1"}}) == 3);
  CHECK(at("faultbench_io_oldest_inflight_seconds", {{"agent", "vm1"}}) == 1.5);
  CHECK(at("faultbench_stall_active", {{"agent", "vm1"}}) == 1);
  CHECK(at("faultbench_stall_seconds_total", {{"agent", "vm1"}}) == 1);
  CHECK(at("faultbench_stalls_total", {{"agent", "vm1"}}) == 1);  // the open one has not ended
  CHECK(at("faultbench_io_operations_total", {{"agent", "vm2"}, {"job", "0"}, {"op", "write"}}) == 2);
  CHECK(at("faultbench_io_errors_total", {{"agent", "vm2"}, {"job", "0"}, {"op", "write"}}) == 1);
  CHECK(at("faultbench_io_latency_seconds_count", {{"agent", "vm2"}, {"job", "0"}, {"op", "write"}}) == 0);
  CHECK(at("faultbench_stall_active", {{"agent", "vm2"}}) == 0);
  // The local load's series are there too, labelled local.
  CHECK(at("faultbench_stall_active", {{"agent", "local"}}) == 0);
}

}  // namespace fb

namespace fb {

TEST_CASE("Probe event counters and the libiscsi paths exist from the start, before any event" *
          doctest::test_suite("unit")) {
  auto m = MetricsExporter::Start("127.0.0.1:0", "born");
  REQUIRE(m.ok());
  (*m)->DeclareProbeEvents("mp", {"path_failed", "path_reinstated"});
  // The load starts on two portals; the second had failed its login before
  // (path_failed while the engine opened), and that is not overwritten.
  (*m)->SetPathState("198.18.0.2:3260", false);
  Workload w;
  w.jobs = 1;
  TargetInfo t;
  t.paths = {"iscsi://198.18.0.1:3260/iqn.2024-01.org.faultbench:lun/1",
             "iscsi://198.18.0.2:3260/iqn.2024-01.org.faultbench:lun/1"};
  (*m)->load_sink()->OnStart(LoadStartInfo{&w, &t, 0});
  std::string text = HttpGet("127.0.0.1", (*m)->port(), "/metrics").body;
  INFO(text);
  CHECK(Sample(text, "faultbench_probe_events_total", {{"kind", "path_failed"}, {"probe", "mp"}, {"run", "born"}}) ==
        0);
  CHECK(Sample(text, "faultbench_probe_events_total",
               {{"kind", "path_reinstated"}, {"probe", "mp"}, {"run", "born"}}) == 0);
  CHECK(Sample(text, "faultbench_path_up", {{"path", "198.18.0.1:3260"}, {"run", "born"}}) == 1);
  CHECK(Sample(text, "faultbench_path_up", {{"path", "198.18.0.2:3260"}, {"run", "born"}}) == 0);
  (*m)->CountProbeEvent("mp", "path_failed");
  text = HttpGet("127.0.0.1", (*m)->port(), "/metrics").body;
  CHECK(Sample(text, "faultbench_probe_events_total", {{"kind", "path_failed"}, {"probe", "mp"}, {"run", "born"}}) ==
        1);
}

}  // namespace fb
