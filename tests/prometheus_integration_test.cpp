// faultbench's exporter scraped by a real Prometheus server (Debian's
// prometheus, loopback, 1 s scrapes, storage in a temp dir); then the queries
// of the Grafana dashboard evaluated against what it stored.
#include <doctest/doctest.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/jsonl_writer.h"
#include "tests/test_util.h"

namespace fb {

namespace {

class PrometheusServer {
 public:
  PrometheusServer(const std::string& dir, int port, int target_port) : port_(port) {
    std::ofstream cfg(dir + "/prometheus.yml");
    cfg << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        << "scrape_configs:\n  - job_name: faultbench\n    static_configs:\n      - targets: ['127.0.0.1:" << target_port
        << "']\n";
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

}  // namespace

TEST_CASE("Prometheus scrapes a run: ops grow, the histogram gives a p99, dashboard queries evaluate") {
  if (!HaveCommand("prometheus")) {
    MESSAGE("skipped: prometheus is not installed (scripts/setup installs it)");
    return;
  }
  TempDir tmp("/var/tmp");
  int exporter_port = FreePort();
  int prom_port = FreePort();
  while (prom_port == exporter_port) prom_port = FreePort();
  PrometheusServer prom(tmp.path(), prom_port, exporter_port);

  CommandResult load;
  double start_s = double(UtcNs()) / 1e9;
  std::thread runner([&] {
    load = RunCli({"load", "--target", tmp.path() + "/t.dat", "--size", "32MiB", "--rw", "randrw", "--runtime", "8s",
                   "--rate-iops", "3000", "--metrics", "127.0.0.1:" + std::to_string(exporter_port), "--name", "promtest",
                   "--out", tmp.path() + "/runs"});
  });
  runner.join();
  INFO(load.out << load.err);
  REQUIRE(load.exit_code == 0);
  double mid_s = start_s + 6.5;

  // The counter grew between two scrapes during the run.
  auto grew = prom.Query("increase(faultbench_io_operations_total{op=\"read\"}[3s])", mid_s);
  REQUIRE(grew["status"] == "success");
  REQUIRE(grew["data"]["result"].size() == 1);
  double inc = std::stod(grew["data"]["result"][0]["value"][1].get<std::string>());
  CHECK(inc > 1000);  // 3000 IOPS * 70% reads over ~2-3 s

  auto p99 = prom.Query("histogram_quantile(0.99, sum by (le) (rate(faultbench_io_latency_seconds_bucket[5s])))", mid_s);
  REQUIRE(p99["data"]["result"].size() == 1);
  double p99_s = std::stod(p99["data"]["result"][0]["value"][1].get<std::string>());
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

}  // namespace fb
