// A plan's agents run by the Runner over real throwaway sshds on 127.0.0.1
// (tests/support/sshd_fixture.h): the run journal holds every agent record once, its
// totals are the agents' own, the metrics carry the agent label, and an agent
// whose connection is killed mid-run is lost, back and completing again.
#include <dirent.h>
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "agent/record_log.h"
#include "core/clock.h"
#include "loadgen/histogram.h"
#include "plans/plan_loader.h"
#include "plans/runner.h"
#include "reports/correlator.h"
#include "tests/support/skip.h"
#include "tests/support/sshd_fixture.h"
#include "tests/support/test_util.h"

namespace fb {

namespace {

nlohmann::json ReadJson(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

// I/Os of the "all" samples of `agent` ("" = every record: an agent's own journal).
uint64_t TotalIos(const std::vector<nlohmann::json>& samples, const std::string& agent) {
  uint64_t n = 0;
  for (const auto& r : samples) {
    if (r["job"] != "all" || (!agent.empty() && r.value("agent", "") != agent)) continue;
    n += r["read"]["ios"].get<uint64_t>() + r["write"]["ios"].get<uint64_t>();
  }
  return n;
}

std::string AgentYaml(const std::string& name, const SshdFixture& sshd, const std::string& dir) {
  return "  - {name: " + name + ", host: 127.0.0.1, ssh_port: " + std::to_string(sshd.port()) +
         ", identity_file: " + sshd.identity_file() + ", known_hosts: " + sshd.known_hosts() +
         ", state_dir: " + dir + "/state-" + name + ", target: {path: " + dir + "/file-" + name +
         ", create_size: 8MiB}, share: 0.25}\n";
}

std::string PlanHead(const std::string& name, const std::string& duration) {
  return "name: " + name +
         "\n"
         "workload: {bs: 4k, rw: randrw, queue_depth: 2, duration: " +
         duration +
         ", interval: 250ms, direct: false, rate_iops: 800}\n"
         "agent_defaults: {user: root, command: " FB_CLI_PATH
         " agent --stdio, clock_every: 1s}\n"
         "agents:\n";
}

// A plan that must load; the Runner keeps a reference: keep it alive.
Plan LoadOk(const std::string& text, const std::string& label) {
  LoadedPlan loaded = LoadPlanText(text, label);
  REQUIRE_MESSAGE(loaded.ok(), loaded.ToStatus().message());
  return loaded.plan;
}

// In-process runs: quiet, the journal in `tmp`, the guard run by the CLI.
RunOptions QuietRun(const TempDir& tmp) {
  RunOptions o;
  o.out_dir = tmp.path() + "/runs";
  o.quiet = true;
  o.guard_exe = FB_CLI_PATH;
  return o;
}

// The pid of this process's ssh child whose command line holds `needle`.
int FindSshChild(const std::string& needle) {
  DIR* d = opendir("/proc");
  if (!d) return -1;
  int found = -1;
  while (dirent* e = readdir(d)) {
    int pid = atoi(e->d_name);
    if (pid <= 0) continue;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    std::getline(stat, line);
    size_t paren = line.rfind(')');
    if (paren == std::string::npos) continue;
    int ppid = 0;
    char state = 0;
    if (sscanf(line.c_str() + paren + 1, " %c %d", &state, &ppid) != 2 || ppid != getpid()) continue;
    std::ifstream cmd("/proc/" + std::to_string(pid) + "/cmdline");
    std::string text((std::istreambuf_iterator<char>(cmd)), std::istreambuf_iterator<char>());
    if (text.rfind("ssh", 0) == 0 && text.find(needle) != std::string::npos) found = pid;
  }
  closedir(d);
  return found;
}

}  // namespace

TEST_CASE(
    "runner agents: four agents on two hosts, one run journal, totals and seq per agent, agent metrics" *
    doctest::test_suite("integration")) {
  if (!SshdFixture::Available()) {
    Skip("needs root and /usr/sbin/sshd");
    return;
  }
  SshdFixture host1, host2;
  TempDir tmp;
  int port = FreePort();
  std::string text = PlanHead("four-agents", "3s") + AgentYaml("a1", host1, tmp.path()) +
                     AgentYaml("a2", host1, tmp.path()) + AgentYaml("a3", host2, tmp.path()) +
                     AgentYaml("a4", host2, tmp.path()) +
                     "metrics: {listen: 127.0.0.1:" + std::to_string(port) + "}\n";
  Plan plan = LoadOk(text, "four-agents.yaml");
  RunOptions o = QuietRun(tmp);
  Runner runner(plan, o);
  int64_t t0 = MonoNs();
  int code = runner.Run();
  MESSAGE("four agents: run took " << double(MonoNs() - t0) / 1e9 << " s");
  CHECK(code == 0);
  const std::string dir = runner.run_dir();
  REQUIRE_FALSE(dir.empty());

  // The exporter outlives Run(): every agent has its own series.
  HttpResponse m = HttpGet("127.0.0.1", port, "/metrics");
  std::set<std::string> labels;
  for (size_t at = m.body.find("faultbench_io_operations_total{"); at != std::string::npos;
       at = m.body.find("faultbench_io_operations_total{", at + 1)) {
    size_t a = m.body.find("agent=\"", at);
    size_t end = m.body.find('}', at);
    if (a == std::string::npos || a > end) continue;
    labels.insert(m.body.substr(a + 7, m.body.find('"', a + 7) - a - 7));
  }
  CHECK(labels == std::set<std::string>{"a1", "a2", "a3", "a4"});

  nlohmann::json info = ReadJson(dir + "/run.json");
  REQUIRE(info["agents"].size() == 4);
  auto samples = ReadJsonl(dir + "/samples.jsonl");
  auto stalls = ReadJsonl(dir + "/stalls.jsonl");
  auto events = ReadJsonl(dir + "/events.jsonl");
  uint64_t total = 0;
  for (const auto& a : info["agents"]) {
    std::string name = a["name"];
    CAPTURE(name);
    CHECK(a["host"] == "127.0.0.1");
    CHECK(a["uncertainty_ns"].get<int64_t>() > 0);
    // Held starts, one go: each load clock starts at the run's load start,
    // and its first I/O completes right after it.
    CHECK(std::abs(a["start_skew_ms"].get<double>()) < 1.0);
    int64_t first = INT64_MAX;
    for (const auto& r : samples) {
      if (r["agent"] == name && r.contains("first_completion_utc_ns") &&
          r["first_completion_utc_ns"].is_number())
        first = std::min(first, r["first_completion_utc_ns"].get<int64_t>());
    }
    const int64_t load_start = info["load_start"]["t_utc_ns"];
    CHECK(first - load_start > -a["uncertainty_ns"].get<int64_t>() - kNsPerMs);
    CHECK(first - load_start < 100 * kNsPerMs);
    std::string agent_dir = a["agent_run_dir"];
    uint64_t own = TotalIos(ReadJsonl(agent_dir + "/samples.jsonl"), "");
    CHECK(own > 0);
    CHECK(TotalIos(samples, name) == own);
    total += own;
    // Every record the agent logged is in the run journal once.
    std::vector<uint64_t> want, got;
    for (const auto& r : ReadJsonl(agent_dir + "/" + kRecordLogFile)) {
      std::string stream = r["stream"];
      if (stream == "samples" || stream == "stalls" || stream == "events") want.push_back(r["seq"]);
    }
    for (const auto* file : {&samples, &stalls}) {
      for (const auto& r : *file) {
        if (r.value("agent", "") == name) got.push_back(r["agent_seq"]);
      }
    }
    int clocks = 0;
    for (const auto& e : events) {
      if (!e["attrs"].is_object() || e["attrs"].value("agent", "") != name) continue;
      if (e["attrs"].contains("agent_seq")) got.push_back(e["attrs"]["agent_seq"]);
      if (e["kind"] == "agent_clock") {
        ++clocks;
        CHECK(e["source"] == name);
        for (const char* k : {"offset_ns", "uncertainty_ns", "rtt_ns", "rounds"})
          CHECK(e["attrs"].contains(k));
      }
    }
    std::sort(got.begin(), got.end());
    CHECK(got == want);
    for (size_t i = 0; i < want.size(); ++i) CHECK(want[i] == i);  // gapless
    CHECK(clocks >= 2);  // at connect and every clock_every (1 s) of a 3 s run
  }
  CHECK(TotalIos(samples, "") == total);  // nothing else in the journal
  MESSAGE("four agents: " << total << " I/Os in the run journal");

  // The report's total p99 is that of every agent's latencies together: one
  // histogram built here from the agents' own journals (their lat_hist
  // buckets), not from the run journal and not an average of the agents' p99s.
  auto analysis = reports::AnalyzeRun(dir);
  REQUIRE_MESSAGE(analysis.ok(), analysis.status().message());
  REQUIRE(analysis->agents.size() == 4);
  for (const char* op : {"read", "write"}) {
    CAPTURE(op);
    Histogram all;
    double mean_of_p99 = 0;
    for (const auto& a : analysis->agents) {
      Histogram own;
      for (const auto& ai : info["agents"]) {
        if (ai["name"] != a.name) continue;
        for (const auto& r : ReadJsonl(ai["agent_run_dir"].get<std::string>() + "/samples.jsonl")) {
          if (r["job"] != "all" || r.value("ramp", false) || r.value("drain", false) ||
              !r[op].contains("lat_hist"))
            continue;
          for (const auto& b : r[op]["lat_hist"]) {
            int index = b[0];
            own.AddBucket(index, b[1], Histogram::BucketLow(index), Histogram::BucketHigh(index));
            all.AddBucket(index, b[1], Histogram::BucketLow(index), Histogram::BucketHigh(index));
          }
        }
      }
      mean_of_p99 += double(own.Percentile(0.99)) / 1e3 / 4;
    }
    const auto& lat = std::string(op) == "read" ? analysis->agents_total.read : analysis->agents_total.write;
    REQUIRE(lat.p99_us);
    double want = double(all.Percentile(0.99)) / 1e3;
    MESSAGE("merged " << std::string(op) << " p99 " << *lat.p99_us << " us, from the agents' own histograms "
                      << want << " us, mean of the agents' p99 " << mean_of_p99 << " us");
    // Within the histogram's resolution (1/256 of the value; the report
    // narrows the edge buckets to the exact min and max).
    CHECK(std::abs(*lat.p99_us - want) <= want / 256 + 1);
    CHECK(lat.ios == all.count());
  }
  bool started = false;
  for (const auto& e : events) started = started || e["kind"] == "agents_started";
  CHECK(started);
  CHECK(info["load_start"]["t_utc_ns"].get<int64_t>() > 0);
  // The plan as run keeps its agents, without secrets.
  LoadedPlan as_run = LoadPlanFile(dir + "/plan.yaml");
  CHECK_MESSAGE(as_run.ok(), as_run.ToStatus().message());
  CHECK(as_run.plan.agents.size() == 4);
}

TEST_CASE(
    "runner agents: an agent's ssh killed mid-run is lost, back and completes again, the run completes" *
    doctest::test_suite("integration")) {
  if (!SshdFixture::Available()) {
    Skip("needs root and /usr/sbin/sshd");
    return;
  }
  SshdFixture host;
  TempDir tmp;
  // The waits end with the load at the latest; the kill comes after a2's first
  // second of samples, so the loss and the return fall well inside the 8 s.
  std::string text = PlanHead("agent-loss", "8s") + AgentYaml("a1", host, tmp.path()) +
                     AgentYaml("a2", host, tmp.path()) +
                     "steps:\n"
                     "  - {at: 0s, wait_for: {kind: agent_lost, source: a2, timeout: 8s}}\n"
                     "  - {after: 0s, mark: a2 lost}\n"
                     "  - {after: 0s, wait_for: {kind: agent_first_completion, source: a2, timeout: 8s}}\n";
  Plan plan = LoadOk(text, "agent-loss.yaml");
  RunOptions o = QuietRun(tmp);
  Runner runner(plan, o);
  int code = -1;
  std::thread run([&] { code = runner.Run(); });
  struct Joiner {
    std::thread* t;
    Runner* r;
    ~Joiner() {
      if (t->joinable()) {
        r->Abort();
        t->join();
      }
    }
  } joiner{&run, &runner};
  // a2's ssh client: its command line names a2's state dir.
  int ssh = -1;
  for (int i = 0; i < 100 && ssh < 0; ++i) {
    SleepUntilMono(MonoNs() + 50 * kNsPerMs);
    if (!runner.run_dir().empty()) ssh = FindSshChild(tmp.path() + "/state-a2");
  }
  REQUIRE(ssh > 0);
  // Kill once a2 has journalled a second of samples (4 of 250 ms): the
  // downtime is then measured between completions on both sides of the loss.
  auto a2_samples = [&] {
    int n = 0;
    for (const auto& r : ReadJsonl(runner.run_dir() + "/samples.jsonl"))
      n += r.value("agent", "") == "a2" && r["job"] == "all";
    return n;
  };
  REQUIRE(WaitFor([&] { return a2_samples() >= 4; }, 6000, 20) > 0);
  int64_t killed_utc = UtcNs();
  kill(ssh, SIGKILL);
  run.join();
  CHECK(code == 0);
  auto events = ReadJsonl(runner.run_dir() + "/events.jsonl");
  int lost = 0, back = 0, first = 0, waits = 0;
  for (const auto& e : events) {
    if (e["kind"] == "wait_done") ++waits;
    if (e["source"] != "a2") continue;
    const auto& a = e["attrs"];
    if (e["kind"] == "agent_lost") {
      ++lost;
      CHECK(a["why"].is_string());
      CHECK(a["last_completion_utc_ns"].get<int64_t>() > 0);
      CHECK(a["last_completion_utc_ns"].get<int64_t>() <= killed_utc + 300 * kNsPerMs);
    }
    if (e["kind"] == "agent_back") {
      ++back;
      CHECK(lost == 1);
      CHECK(a["down_ms"].get<double>() > 0);
      CHECK(a.contains("first_completion_utc_ns"));
    }
    if (e["kind"] == "agent_first_completion") {
      ++first;
      CHECK(back == 1);
      CHECK(a["first_completion_utc_ns"].get<int64_t>() > a["last_completion_utc_ns"].get<int64_t>());
      CHECK(a["downtime_ms"].get<double>() > 0);
      MESSAGE("a2: connection down, I/O completing again "
              << a["downtime_ms"].get<double>() << " ms after the last completion before the loss");
    }
  }
  CHECK(lost == 1);
  CHECK(back == 1);
  CHECK(first == 1);
  // Both waits end by their event, also the second, whose event is dated by
  // a2's first completion after the loss: before the loss was noticed.
  CHECK(waits == 2);
  // The downtime is timed by the completions inside the samples, not by their
  // ends: each lies inside its sample's interval (controller timeline), the
  // last before the loss and the first after it are a2 samples' own fields,
  // and the agent's load never stopped, so the gap is far below one interval.
  nlohmann::json info = ReadJson(runner.run_dir() + "/run.json");
  auto samples = ReadJsonl(runner.run_dir() + "/samples.jsonl");
  int64_t lost_last = 0, first_after = 0;
  double downtime_ms = -1;
  for (const auto& e : events) {
    if (e["source"] != "a2") continue;
    if (e["kind"] == "agent_lost") lost_last = e["attrs"]["last_completion_utc_ns"].get<int64_t>();
    if (e["kind"] == "agent_first_completion") {
      first_after = e["attrs"]["first_completion_utc_ns"].get<int64_t>();
      downtime_ms = e["attrs"]["downtime_ms"].get<double>();
    }
  }
  int with_times = 0;
  bool lost_last_found = false, first_after_found = false;
  for (const auto& s : samples) {
    if (s.value("agent", "") != "a2" || s["job"] != "all" || !s.contains("first_completion_utc_ns")) continue;
    ++with_times;
    int64_t end = s["t_utc_ns"].get<int64_t>();
    int64_t start =
        end - int64_t(std::llround(s["interval_s"].get<double>() * 1e9)) - kNsPerMs;  // ms-rounded
    int64_t f = s["first_completion_utc_ns"].get<int64_t>(), l = s["last_completion_utc_ns"].get<int64_t>();
    CHECK(f >= start);
    CHECK(f <= l);
    CHECK(l <= end);
    CHECK(s["agent_first_completion_utc_ns"].get<int64_t>() - f == s["agent_t_utc_ns"].get<int64_t>() - end);
    lost_last_found = lost_last_found || l == lost_last;
    first_after_found = first_after_found || f == first_after;
  }
  CHECK(with_times >= 10);
  CHECK(lost_last_found);
  CHECK(first_after_found);
  CHECK(downtime_ms > 0);
  CHECK(downtime_ms < 200);  // the interval is 250 ms: the old resolution gave 250
  MESSAGE("a2: downtime " << downtime_ms << " ms from " << with_times << " samples with completion times");
  // Nothing lost on the way: a2's totals are its own journal's.
  for (const auto& a : info["agents"]) {
    CHECK(TotalIos(samples, a["name"]) ==
          TotalIos(ReadJsonl(a["agent_run_dir"].get<std::string>() + "/samples.jsonl"), ""));
  }
}

TEST_CASE("runner agents: a refused agent is exit 2 before anything is touched, its host named" *
          doctest::test_suite("integration")) {
  if (!SshdFixture::Available()) {
    Skip("needs root and /usr/sbin/sshd");
    return;
  }
  SshdFixture host;
  TempDir tmp;
  std::string refused = "  - {name: gone, host: 127.0.0.1, ssh_port: " + std::to_string(FreePort()) +
                        ", identity_file: " + host.identity_file() + ", known_hosts: " + host.known_hosts() +
                        ", target: " + tmp.path() + "/file-gone}\n";
  Plan plan = LoadOk(PlanHead("refused", "2s") + AgentYaml("a1", host, tmp.path()) + refused, "refused.yaml");
  RunOptions o = QuietRun(tmp);
  const std::string err_path = tmp.path() + "/stderr.txt";
  FILE* f = fopen(err_path.c_str(), "w+");
  REQUIRE(f);
  int saved = dup(2);
  dup2(fileno(f), 2);
  int code = Runner(plan, o).Run();
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  fclose(f);
  CHECK(code == 2);
  std::ifstream in(err_path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(text.find("agent gone on 127.0.0.1") != std::string::npos);
  CHECK(text.find("agent a1") == std::string::npos);  // the reachable one is not blamed
  // Nothing was started: no run directory, no target, no run in the good agent's state dir.
  CHECK_FALSE(std::filesystem::exists(o.out_dir));
  CHECK_FALSE(std::filesystem::exists(tmp.path() + "/file-a1"));
  CHECK((!std::filesystem::exists(tmp.path() + "/state-a1") ||
         std::filesystem::is_empty(tmp.path() + "/state-a1")));
}

TEST_CASE("runner agents: expectations apply to agent records, the console shows per-agent IOPS" *
          doctest::test_suite("integration")) {
  if (!SshdFixture::Available()) {
    Skip("needs root and /usr/sbin/sshd");
    return;
  }
  SshdFixture host;
  TempDir tmp;
  // No I/O takes under 1 us: the latency limit fails on the agents' samples alone.
  Plan plan = LoadOk(PlanHead("agent-expect", "2s") + AgentYaml("a1", host, tmp.path()) +
                         AgentYaml("a2", host, tmp.path()) + "expect: {max_latency: 1us, io_errors: 0}\n",
                     "agent-expect.yaml");
  RunOptions o = QuietRun(tmp);
  o.quiet = false;
  o.live = true;
  const std::string out_path = tmp.path() + "/console.txt";
  o.out = fopen(out_path.c_str(), "w+");
  REQUIRE(o.out);
  Runner runner(plan, o);
  int code = runner.Run();
  fclose(o.out);
  CHECK(code == 1);
  nlohmann::json info = ReadJson(runner.run_dir() + "/run.json");
  int checked = 0;
  for (const auto& v : info["expectations"]) {
    if (v["check"] == "max_latency") {
      ++checked;
      CHECK(v["pass"] == false);
    }
    if (v["check"] == "io_errors") {
      ++checked;
      CHECK(v["pass"] == true);
    }
  }
  CHECK(checked == 2);
  std::ifstream in(out_path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(text.find("agents ") != std::string::npos);
  CHECK(text.find(" IOPS |  a1 ") != std::string::npos);
  CHECK(text.find("  a2 ") != std::string::npos);
}

TEST_CASE("runner agents: an abort stops every agent, bounded, the run is aborted" *
          doctest::test_suite("integration")) {
  if (!SshdFixture::Available()) {
    Skip("needs root and /usr/sbin/sshd");
    return;
  }
  SshdFixture host;
  TempDir tmp;
  Plan plan = LoadOk(
      PlanHead("agent-abort", "30s") + AgentYaml("a1", host, tmp.path()) + AgentYaml("a2", host, tmp.path()),
      "agent-abort.yaml");
  Runner runner(plan, QuietRun(tmp));
  int code = -1;
  std::thread run([&] { code = runner.Run(); });
  for (int i = 0; i < 100 && runner.run_dir().empty(); ++i) SleepUntilMono(MonoNs() + 50 * kNsPerMs);
  SleepUntilMono(MonoNs() + 1500 * kNsPerMs);
  int64_t abort_at = MonoNs();
  runner.Abort();  // as SIGTERM does
  run.join();
  double took_s = double(MonoNs() - abort_at) / 1e9;
  MESSAGE("abort: the run ended " << took_s << " s after Abort()");
  CHECK(code == 3);
  CHECK(took_s < 15);  // not the 30 s of the load
  nlohmann::json info = ReadJson(runner.run_dir() + "/run.json");
  CHECK(info["status"] == "aborted");
  REQUIRE(info["agent_results"].size() == 2);
  for (const auto& r : info["agent_results"]) {
    CHECK(r["status"] == "interrupted");  // each got `stop` and answered `finished`
    CHECK_FALSE(r.contains("finding"));
  }
  // Each agent's own run ended early too.
  for (const auto& a : info["agents"]) {
    auto samples = ReadJsonl(a["agent_run_dir"].get<std::string>() + "/samples.jsonl");
    REQUIRE_FALSE(samples.empty());
    CHECK(samples.back()["t_rel_s"].get<double>() < 20);
  }
}

TEST_CASE("runner agents: an agent that never comes back is a finding in the summary, not a crash" *
          doctest::test_suite("integration")) {
  if (!SshdFixture::Available()) {
    Skip("needs root and /usr/sbin/sshd");
    return;
  }
  SshdFixture stays;
  auto goes = std::make_unique<SshdFixture>();
  TempDir tmp;
  Plan plan = LoadOk(
      PlanHead("agent-gone", "2s") + AgentYaml("a1", stays, tmp.path()) + AgentYaml("a2", *goes, tmp.path()),
      "agent-gone.yaml");
  RunOptions o = QuietRun(tmp);
  o.agent_grace_ns = 3 * kNsPerSec;
  const std::string out_path = tmp.path() + "/console.txt";
  o.out = fopen(out_path.c_str(), "w+");
  REQUIRE(o.out);
  Runner runner(plan, o);
  int code = -1;
  std::thread run([&] { code = runner.Run(); });
  for (int i = 0; i < 100 && runner.run_dir().empty(); ++i) SleepUntilMono(MonoNs() + 50 * kNsPerMs);
  SleepUntilMono(MonoNs() + 1000 * kNsPerMs);
  goes.reset();  // a2's host is gone: sshd and its sessions (the agent with them)
  run.join();
  fclose(o.out);
  CHECK(code == 1);
  nlohmann::json info = ReadJson(runner.run_dir() + "/run.json");
  CHECK(info["status"] == "completed");
  for (const auto& r : info["agent_results"]) {
    if (r["name"] == "a1") {
      CHECK(r["status"] == "completed");
      CHECK_FALSE(r.contains("finding"));
    } else {
      CHECK(r["status"] == "never finished");
      CHECK(r["finding"].is_string());
    }
  }
  int unfinished = 0;
  for (const auto& e : ReadJsonl(runner.run_dir() + "/events.jsonl")) {
    if (e["kind"] == "agent_unfinished") {
      ++unfinished;
      CHECK(e["source"] == "a2");
    }
  }
  CHECK(unfinished == 1);
  std::ifstream in(runner.run_dir() + "/summary.txt");
  std::string summary((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(summary.find("Agent findings:\n  agent a2 on 127.0.0.1: ") != std::string::npos);
}

TEST_CASE("runner agents: a local load and an agent on one timeline, the longer load decides the end" *
          doctest::test_suite("integration")) {
  if (!SshdFixture::Available()) {
    Skip("needs root and /usr/sbin/sshd");
    return;
  }
  SshdFixture host;
  TempDir tmp;
  // The local load runs 1 s, the agent 3 s: the run ends with the agent.
  std::string agent = AgentYaml("a1", host, tmp.path());
  agent.insert(agent.rfind('}'), ", workload: {duration: 3s}");
  Plan plan =
      LoadOk("target: {path: " + tmp.path() + "/local, create_size: 8MiB}\n" + PlanHead("mixed", "1s") +
                 agent + "steps:\n  - {at: 2s, mark: after the local load}\n",
             "mixed.yaml");
  REQUIRE(plan.has_local_load());
  CHECK(plan.RunDurationNs() == 3 * kNsPerSec);
  Runner runner(plan, QuietRun(tmp));
  CHECK(runner.Run() == 0);
  auto samples = ReadJsonl(runner.run_dir() + "/samples.jsonl");
  uint64_t local = 0;
  for (const auto& r : samples) {
    if (r["job"] == "all" && !r.contains("agent"))
      local += r["read"]["ios"].get<uint64_t>() + r["write"]["ios"].get<uint64_t>();
  }
  CHECK(local > 0);
  nlohmann::json info = ReadJson(runner.run_dir() + "/run.json");
  CHECK(TotalIos(samples, "a1") ==
        TotalIos(ReadJsonl(info["agents"][0]["agent_run_dir"].get<std::string>() + "/samples.jsonl"), ""));
  bool marked = false;
  for (const auto& e : ReadJsonl(runner.run_dir() + "/events.jsonl")) marked = marked || e["kind"] == "mark";
  CHECK(marked);  // a step after the local load ended still ran: the agent's load was on
}

}  // namespace fb

namespace fb {

TEST_CASE("runner agents: an end step stops the agents' load as planned, no finding, exit 0" *
          doctest::test_suite("integration")) {
  if (!SshdFixture::Available()) {
    Skip("needs root and /usr/sbin/sshd");
    return;
  }
  SshdFixture sshd;
  TempDir tmp;
  // 30 s of load, ended by the plan after 1 s: the agent's load ends "interrupted", as planned.
  Plan plan = LoadOk(PlanHead("agent-end", "30s") + AgentYaml("a1", sshd, tmp.path()) +
                         "steps:\n  - {at: 0s, phase: baseline}\n  - {at: 1s, end: true}\n",
                     "agent-end.yaml");
  Runner runner(plan, QuietRun(tmp));
  int64_t t0 = MonoNs();
  int code = runner.Run();
  CHECK(MonoNs() - t0 < 20 * kNsPerSec);
  CHECK(code == 0);
  nlohmann::json info = ReadJson(runner.run_dir() + "/run.json");
  REQUIRE(info["agent_results"].size() == 1);
  CHECK(info["agent_results"][0]["status"] == "interrupted");
  CHECK_FALSE(info["agent_results"][0].contains("finding"));
  for (const auto& e : ReadJsonl(runner.run_dir() + "/events.jsonl")) CHECK(e["kind"] != "agent_unfinished");
}

}  // namespace fb
