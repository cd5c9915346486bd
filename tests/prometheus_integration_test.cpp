// faultbench's exporter scraped by a real Prometheus server (Debian's
// prometheus, loopback, 1 s scrapes, storage in a temp dir); then the queries
// of the Grafana dashboard evaluated against what it stored.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "core/clock.h"
#include "core/jsonl_writer.h"
#include "tests/support/skip.h"
#include "tests/support/test_util.h"

namespace fb {

namespace {

class PrometheusServer {
 public:
  PrometheusServer(const std::string& dir, int port, int target_port) : port_(port) {
    std::ofstream cfg(dir + "/prometheus.yml");
    cfg << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        << "scrape_configs:\n  - job_name: faultbench\n    static_configs:\n      - targets: ['127.0.0.1:"
        << target_port << "']\n";
    cfg.close();
    pid_ = fork();
    if (pid_ == 0) {
      setpgid(0, 0);
      int null = open("/dev/null", O_WRONLY);
      dup2(null, 1);
      dup2(null, 2);
      std::string c = "--config.file=" + dir + "/prometheus.yml", s = "--storage.tsdb.path=" + dir + "/data",
                  l = "--web.listen-address=127.0.0.1:" + std::to_string(port);
      execlp("prometheus", "prometheus", c.c_str(), s.c_str(), l.c_str(), "--log.level=warn", (char*)nullptr);
      _exit(127);
    }
    for (int i = 0; i < 150; ++i) {  // ready within 15 s
      try {
        if (HttpGet("127.0.0.1", port_, "/-/ready", 1000).status == 200) return;
      } catch (const std::exception&) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    throw std::runtime_error("prometheus did not become ready on port " + std::to_string(port_));
  }
  // Prometheus applies new targets only every 5 s after it is ready: wait for
  // its first scrape attempt (the exporter is not up yet, so it fails), after
  // which it scrapes every second.
  void WaitForFirstScrape() const {
    for (int i = 0; i < 200; ++i) {  // within 20 s
      try {
        auto t = nlohmann::json::parse(HttpGet("127.0.0.1", port_, "/api/v1/targets", 1000).body);
        for (const auto& a : t["data"]["activeTargets"]) {
          if (a.value("lastScrape", "").rfind("0001-", 0) != 0 && !a.value("lastScrape", "").empty()) return;
        }
      } catch (const std::exception&) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    throw std::runtime_error("prometheus on port " + std::to_string(port_) + " never tried its first scrape");
  }
  ~PrometheusServer() {
    kill(-pid_, SIGTERM);
    kill(pid_, SIGTERM);
    for (int i = 0; i < 100 && waitpid(pid_, nullptr, WNOHANG) != pid_; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, WNOHANG);
  }
  // An instant query at `time_s` (Unix seconds); returns the API's JSON.
  nlohmann::json Query(const std::string& promql, double time_s) const {
    char t[32];
    snprintf(t, sizeof t, "%.3f", time_s);
    auto r = HttpGet("127.0.0.1", port_, "/api/v1/query?query=" + UrlEncode(promql) + "&time=" + t);
    return nlohmann::json::parse(r.body);
  }

 private:
  int port_;
  pid_t pid_ = -1;
};

std::vector<std::string> DashboardExprs(const std::string& path) {
  auto j = nlohmann::json::parse(ReadFile(path).value());
  std::vector<std::string> out;
  for (const auto& p : j["panels"]) {
    for (const auto& t : p["targets"]) out.push_back(t["expr"]);
  }
  for (const auto& a : j["annotations"]["list"]) out.push_back(a["expr"]);
  return out;
}

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    out.push_back(e.path().filename().string());
  return out;
}

// The load's start in Unix seconds, from its journal (run.json load_start).
double LoadStartS(const std::string& runs_dir) {
  auto dirs = ListDir(runs_dir);
  REQUIRE(dirs.size() == 1);
  auto info = nlohmann::json::parse(ReadFile(runs_dir + "/" + dirs[0] + "/run.json").value());
  return double(info["load_start"]["t_utc_ns"].get<int64_t>()) / 1e9;
}

// One value of an instant query that must return exactly one series.
double OneValue(const nlohmann::json& r) {
  INFO(r.dump());
  REQUIRE(r["status"] == "success");
  REQUIRE(r["data"]["result"].size() == 1);
  return std::stod(r["data"]["result"][0]["value"][1].get<std::string>());
}

}  // namespace

TEST_CASE("Prometheus scrapes a run: ops grow, the histogram gives a p99, dashboard queries evaluate" *
          doctest::test_suite("integration")) {
  if (!HaveCommand("prometheus")) {
    Skip("prometheus is not installed (scripts/setup installs it)");
    return;
  }
  TempDir tmp("/var/tmp");
  int exporter_port = FreePort();
  int prom_port = FreePort();
  while (prom_port == exporter_port) prom_port = FreePort();
  PrometheusServer prom(tmp.path(), prom_port, exporter_port);
  prom.WaitForFirstScrape();

  CommandResult load =
      RunCli({"load", "--target", tmp.path() + "/t.dat", "--size", "32MiB", "--rw", "randrw", "--runtime",
              "8s", "--rate-iops", "3000", "--metrics", "127.0.0.1:" + std::to_string(exporter_port),
              "--name", "promtest", "--out", tmp.path() + "/runs"});
  INFO(load.out << load.err);
  REQUIRE(load.exit_code == 0);
  // Queries at the middle of the measured 8 s, whenever the load really started.
  double mid_s = LoadStartS(tmp.path() + "/runs") + 5.5;

  // The counter grew between scrapes during the run.
  double inc = OneValue(prom.Query("increase(faultbench_io_operations_total{op=\"read\"}[4s])", mid_s));
  CHECK(inc > 1000);  // 3000 IOPS * 70% reads over ~3-4 s

  double p99_s = OneValue(prom.Query(
      "histogram_quantile(0.99, sum by (le) (rate(faultbench_io_latency_seconds_bucket[5s])))", mid_s));
  CHECK(p99_s > 0);
  CHECK(p99_s < 1);

  // Every query of the dashboard evaluates; those for metrics a plain load
  // exports return data (faults, probe events and paths need a plan run).
  std::regex needs_plan("faults_active|probe_events|path_up");
  int with_data = 0;
  for (std::string e : DashboardExprs(std::string(FB_SOURCE_DIR) + "/dashboards/faultbench.json")) {
    std::string orig = e;
    e = std::regex_replace(e, std::regex(R"(\$__rate_interval)"), "5s");
    e = std::regex_replace(e, std::regex(R"(\$run)"), ".*");
    auto r = prom.Query(e, mid_s);
    INFO(orig);
    CHECK(r["status"] == "success");
    if (!std::regex_search(e, needs_plan) && e.find("== 1") == std::string::npos) {
      CHECK(r["data"]["result"].size() > 0);
      ++with_data;
    }
  }
  CHECK(with_data >= 10);
}

TEST_CASE(
    "Prometheus scrapes a plan run: the fault shows in faults_active, probe events and the phase are "
    "counted" *
    doctest::test_suite("integration")) {
  if (!HaveCommand("prometheus")) {
    Skip("prometheus is not installed (scripts/setup installs it)");
    return;
  }
  TempDir tmp("/var/tmp");
  int exporter_port = FreePort();
  int prom_port = FreePort();
  while (prom_port == exporter_port) prom_port = FreePort();
  PrometheusServer prom(tmp.path(), prom_port, exporter_port);
  prom.WaitForFirstScrape();

  // The fault is a marker file; a log probe follows a file the inject command
  // writes a line to, so one probe event is counted during the fault.
  std::string marker = tmp.path() + "/fault-on", log = tmp.path() + "/probe.log";
  REQUIRE(WriteFileAtomic(log, "").ok());
  std::string plan = tmp.path() + "/plan.yaml";
  REQUIRE(WriteFileAtomic(plan,
                          "name: promplan\n"
                          "target: " +
                              tmp.path() +
                              "/t.dat\n"
                              "workload: {size: 16MiB, bs: 4k, rw: randread, queue_depth: 4, rate_iops: "
                              "1000, duration: 12s}\n"
                              "injectors:\n"
                              "  marker: {kind: command, inject: 'touch " +
                              marker + " && echo PATHDOWN >> " + log +
                              "',\n"
                              "           revert: 'rm -f " +
                              marker + "', check: 'test -e " + marker +
                              "'}\n"
                              "probes:\n"
                              "  tail: {kind: log, path: " +
                              log +
                              ", unmatched: drop,\n"
                              "         rules: [{match: PATHDOWN, kind: path_failed}]}\n"
                              "steps:\n"
                              "  - {at: 0s, phase: baseline}\n"
                              "  - {at: 4s, phase: fault, inject: marker, max_duration: 10s}\n"
                              "  - {at: 8s, phase: recovery, revert: marker}\n"
                              "metrics: {listen: '127.0.0.1:" +
                              std::to_string(exporter_port) + "'}\n")
              .ok());
  CommandResult run = RunCli({"run", plan, "--out", tmp.path() + "/runs", "--quiet"});
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  double start_s = LoadStartS(tmp.path() + "/runs");

  // 1 while injected (4 s .. 8 s after load start), 0 before it was ever set
  // (no series) and 0 after the revert.
  CHECK(OneValue(prom.Query("faultbench_faults_active{injector=\"marker\"}", start_s + 6.5)) == 1);
  CHECK(OneValue(prom.Query("faultbench_faults_active{injector=\"marker\"}", start_s + 10.5)) == 0);
  CHECK(prom.Query("faultbench_faults_active{injector=\"marker\"}", start_s + 2)["data"]["result"].empty());
  CHECK(OneValue(prom.Query("faultbench_probe_events_total{probe=\"tail\",kind=\"path_failed\"}",
                            start_s + 10.5)) == 1);
  // Born at 0 when the probe started (each kind its rules can emit), so the
  // dashboard's probe-events panel sees the first event as a change.
  CHECK(OneValue(prom.Query("faultbench_probe_events_total{probe=\"tail\",kind=\"path_failed\"}",
                            start_s + 2)) == 0);
  CHECK(OneValue(prom.Query("faultbench_probe_events_total{probe=\"tail\",kind=\"probe_error\"}",
                            start_s + 2)) == 0);
  std::string panel;
  for (const std::string& e : DashboardExprs(std::string(FB_SOURCE_DIR) + "/dashboards/faultbench.json")) {
    if (e.find("changes(faultbench_probe_events_total") != std::string::npos) panel = e;
  }
  REQUIRE(!panel.empty());
  panel = std::regex_replace(panel, std::regex(R"(\$run)"), ".*");
  auto changed = prom.Query(panel, start_s + 6.5)["data"]["result"];
  INFO(panel << " -> " << changed.dump());
  REQUIRE(changed.size() == 1);
  CHECK(changed[0]["metric"]["kind"] == "path_failed");
  CHECK(OneValue(prom.Query("faultbench_run_info{phase=\"fault\"} == 1", start_s + 6.5)) == 1);
  CHECK(OneValue(prom.Query("faultbench_run_info{phase=\"recovery\"} == 1", start_s + 10.5)) == 1);
  CHECK(OneValue(prom.Query("increase(faultbench_io_operations_total{op=\"read\"}[4s])", start_s + 6)) >
        1000);
}

TEST_CASE("run --metrics with a malformed or busy address is bad input before anything is touched" *
          doctest::test_suite("integration")) {
  TempDir tmp("/var/tmp");
  std::string plan = tmp.path() + "/plan.yaml";
  REQUIRE(WriteFileAtomic(plan, "name: busy\ntarget: " + tmp.path() +
                                    "/t.dat\nworkload: {size: 4MiB, rw: randread, duration: 2s}\n")
              .ok());
  CommandResult bad = RunCli({"run", plan, "--out", tmp.path() + "/runs", "--metrics", "nonsense"});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("nonsense") != std::string::npos);
  int port = FreePort();
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(listen(fd, 1) == 0);
  CommandResult busy =
      RunCli({"run", plan, "--out", tmp.path() + "/runs", "--metrics", "127.0.0.1:" + std::to_string(port)});
  close(fd);
  CHECK(busy.exit_code == 2);
  CHECK(busy.err.find(std::to_string(port)) != std::string::npos);
  CHECK(ListDir(tmp.path() + "/runs").empty());            // no run journal was started
  CHECK(!std::filesystem::exists(tmp.path() + "/t.dat"));  // the target was not created
  bad = RunCli({"validate", plan, "--set", "metrics.listen=nohost"});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("metrics.listen") != std::string::npos);
}

}  // namespace fb
