// The agent protocol in-process over pipes, then real agents (the faultbench
// binary) driven over a throwaway sshd on 127.0.0.1.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "agent/agent_client.h"
#include "agent/agent_server.h"
#include "agent/protocol.h"
#include "agent/record_log.h"
#include "agent/workload_json.h"
#include "core/clock.h"
#include "tests/support/skip.h"
#include "tests/support/sshd_fixture.h"
#include "tests/support/test_util.h"

namespace fb {

namespace {

// Completed I/Os over a journal's per-interval "all" records.
uint64_t TotalIos(const std::string& samples_path) {
  uint64_t n = 0;
  for (const auto& r : ReadJsonl(samples_path)) {
    if (r["job"] == "all") n += r["read"]["ios"].get<uint64_t>() + r["write"]["ios"].get<uint64_t>();
  }
  return n;
}

uint64_t TotalOpIos(const std::string& samples_path, const char* op) {
  uint64_t n = 0;
  for (const auto& r : ReadJsonl(samples_path)) {
    if (r["job"] == "all") n += r[op]["ios"].get<uint64_t>();
  }
  return n;
}

nlohmann::json SmallWorkload(const std::string& file, const std::string& duration) {
  return {{"target", {{"path", file}, {"create_size", "8MiB"}}},
          {"rw", "randrw"},
          {"bs", "4k"},
          {"queue_depth", 4},
          {"duration", duration},
          {"interval", "200ms"},
          {"direct", false}};
}

// Kills (SIGTERM) an agent process left running when a test fails early.
struct AgentProcessGuard {
  std::vector<int> pids;
  ~AgentProcessGuard() {
    for (int pid : pids) {
      std::ifstream cmd("/proc/" + std::to_string(pid) + "/cmdline");
      std::string text((std::istreambuf_iterator<char>(cmd)), std::istreambuf_iterator<char>());
      if (text.find("agent") != std::string::npos) kill(pid, SIGTERM);
    }
  }
};

// One line-oriented pipe end with a deadline.
class LineReader {
 public:
  explicit LineReader(int fd) : fd_(fd) {}
  nlohmann::json Next(int64_t timeout_ns = 10 * kNsPerSec) {
    int64_t deadline = MonoNs() + timeout_ns;
    for (;;) {
      size_t nl = buf_.find('\n');
      if (nl != std::string::npos) {
        std::string l = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return nlohmann::json::parse(l);
      }
      if (MonoNs() > deadline) return nullptr;
      char b[4096];
      ssize_t n = read(fd_, b, sizeof b);
      if (n > 0)
        buf_.append(b, size_t(n));
      else if (n == 0)
        return nullptr;
      else
        usleep(5000);
    }
  }

 private:
  int fd_;
  std::string buf_;
};

void WriteLine(int fd, const nlohmann::json& m) {
  std::string t = m.dump() + "\n";
  REQUIRE(write(fd, t.data(), t.size()) == ssize_t(t.size()));
}

nlohmann::json SshSettings(const SshdFixture& sshd) {
  nlohmann::json s = sshd.Settings();
  s["timeout"] = "10s";
  return s;
}

}  // namespace

TEST_CASE("agent workload json: plan keys with units, unknown keys and bad values named" *
          doctest::test_suite("unit")) {
  auto w = WorkloadFromJson(
      {{"target", "/tmp/x"}, {"bs", "8k"}, {"rw", "randwrite"}, {"duration", "3s"}, {"queue_depth", 7}});
  REQUIRE(w.ok());
  CHECK(w->targets == std::vector<std::string>{"/tmp/x"});
  CHECK(w->specs.at(0).block_size == 8192);
  CHECK(w->specs.at(0).read_fraction == 0.0);
  CHECK(w->duration_ns == 3 * kNsPerSec);
  CHECK(w->queue_depth == 7);
  auto bad = WorkloadFromJson({{"target", "/tmp/x"}, {"blocksize", "8k"}});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("workload.blocksize") != std::string::npos);
  auto bad_dur = WorkloadFromJson({{"target", "/tmp/x"}, {"duration", "3"}});
  REQUIRE_FALSE(bad_dur.ok());
  CHECK(bad_dur.status().message().find("workload.duration") != std::string::npos);
  CHECK_FALSE(WorkloadFromJson({{"bs", "4k"}}).ok());
  // The libiscsi engine's sessions per path; only for it, and 1..16.
  auto iscsi = WorkloadFromJson({{"target", "iscsi://198.18.1.2/iqn.2026-11.test.faultbench:lun/1"},
                                 {"engine", "libiscsi"},
                                 {"sessions_per_path", 4}});
  REQUIRE_MESSAGE(iscsi.ok(), iscsi.status().message());
  CHECK(iscsi->iscsi.sessions_per_path == 4);
  auto aio_sessions = WorkloadFromJson({{"target", "/tmp/x"}, {"sessions_per_path", 2}});
  REQUIRE_FALSE(aio_sessions.ok());
  CHECK(aio_sessions.status().message().find("the libiscsi engine's; the engine is libaio") != std::string::npos);
  auto too_many = WorkloadFromJson({{"target", "/tmp/x"}, {"engine", "libiscsi"}, {"sessions_per_path", 17}});
  REQUIRE_FALSE(too_many.ok());
  CHECK(too_many.status().message().find("workload.sessions_per_path") != std::string::npos);
}

TEST_CASE("agent protocol over pipes: hello, time, start, contiguous records, finished, resume replays" *
          doctest::test_suite("integration")) {
  signal(SIGPIPE, SIG_IGN);
  TempDir tmp;
  int to_agent[2], from_agent[2];
  REQUIRE(pipe2(to_agent, O_CLOEXEC) == 0);
  REQUIRE(pipe2(from_agent, O_CLOEXEC) == 0);
  AgentOptions o;
  o.state_dir = tmp.path() + "/state";
  int rc = -1;
  std::thread agent([&] { rc = RunAgent(to_agent[0], from_agent[1], o); });
  struct Closer {
    int* fd;
    std::thread* t;
    ~Closer() {
      if (*fd >= 0) close(*fd);
      if (t->joinable()) t->join();
    }
  } closer{&to_agent[1], &agent};
  LineReader in(from_agent[0]);

  WriteLine(to_agent[1], {{"type", "hello"}, {"protocol", 99}});
  CHECK(in.Next()["type"] == "error");
  WriteLine(to_agent[1], {{"type", "hello"}, {"protocol", kAgentProtocolVersion}});
  auto hello = in.Next();
  CHECK(hello["type"] == "hello");
  CHECK(hello["pid"] == int(getpid()));
  CHECK(hello["run_id"].is_null());
  int64_t t0 = UtcNs();
  WriteLine(to_agent[1], {{"type", "time"}, {"controller_utc_ns", t0}});
  auto time = in.Next();
  CHECK(time["controller_utc_ns"] == t0);
  CHECK(time["agent_utc_ns"].get<int64_t>() >= t0);
  WriteLine(to_agent[1],
            {{"type", "start"}, {"run_id", "pipe"}, {"workload", {{"target", "/nonexistent-dir/x"}}}});
  CHECK(in.Next()["type"] == "error");

  WriteLine(to_agent[1],
            {{"type", "start"}, {"run_id", "pipe"}, {"workload", SmallWorkload(tmp.path() + "/f", "1s")}});
  auto started = in.Next();
  REQUIRE(started["type"] == "started");
  std::string run_dir = started["run_dir"];
  std::vector<nlohmann::json> got;
  nlohmann::json finished;
  for (int i = 0; i < 10000; ++i) {
    auto m = in.Next();
    REQUIRE(m.is_object());
    if (m["type"] == "finished") {
      finished = m;
      break;
    }
    REQUIRE(m["type"] == "record");
    got.push_back(m);
  }
  REQUIRE(finished.is_object());
  CHECK(finished["status"] == "completed");
  REQUIRE(got.size() > 5);
  for (size_t i = 0; i < got.size(); ++i) CHECK(got[i]["seq"] == i);
  CHECK(finished["seq"] == got.size());
  // The records are the journal's lines, one for one.
  size_t samples = 0, stalls = 0, events = 0;
  for (const auto& r : got) {
    samples += r["stream"] == "samples";
    stalls += r["stream"] == "stalls";
    events += r["stream"] == "events";
  }
  auto journal_samples = ReadJsonl(run_dir + "/samples.jsonl");
  CHECK(samples == journal_samples.size());
  CHECK(stalls == ReadJsonl(run_dir + "/stalls.jsonl").size());
  CHECK(events == ReadJsonl(run_dir + "/events.jsonl").size());
  for (const auto& r : got) {
    if (r["stream"] != "samples") continue;
    CHECK(r["body"] == journal_samples.at(0));  // the first sample, byte for byte the journal's
    break;
  }

  WriteLine(to_agent[1], {{"type", "resume"}, {"from_seq", 3}});
  auto again = in.Next();
  CHECK(again["seq"] == 3);
  CHECK(again["body"] == got[3]["body"]);
  close(to_agent[1]);
  to_agent[1] = -1;
  agent.join();
  CHECK(rc == kExitOk);
  close(to_agent[0]);
  close(from_agent[0]);
  close(from_agent[1]);
}

// One agent session over pipes, run on its own thread (RunAgent), for the
// tests that speak the protocol by hand.
struct PipeAgent {
  int to_agent[2] = {-1, -1}, from_agent[2] = {-1, -1};
  std::thread thread;
  std::unique_ptr<LineReader> in;
  explicit PipeAgent(const std::string& state_dir) {
    REQUIRE(pipe2(to_agent, O_CLOEXEC) == 0);
    REQUIRE(pipe2(from_agent, O_CLOEXEC) == 0);
    fcntl(from_agent[0], F_SETFL, O_NONBLOCK);  // LineReader's timeout
    AgentOptions o;
    o.state_dir = state_dir;
    thread = std::thread([this, o] { (void)RunAgent(to_agent[0], from_agent[1], o); });
    in = std::make_unique<LineReader>(from_agent[0]);
  }
  ~PipeAgent() {
    if (to_agent[1] >= 0) close(to_agent[1]);
    if (thread.joinable()) thread.join();
    for (int fd : {to_agent[0], from_agent[0], from_agent[1]}) close(fd);
  }
  void Send(const nlohmann::json& m) { WriteLine(to_agent[1], m); }
  // The next message that is not a record (records are counted).
  nlohmann::json NextReply(int* records = nullptr) {
    for (int i = 0; i < 100000; ++i) {
      auto m = in->Next();
      if (!m.is_object() || m["type"] != "record") return m;
      if (records) ++*records;
    }
    return nullptr;
  }
};

TEST_CASE(
    "agent protocol: a held start prepares without I/O, its load clock starts at the go's time, a stop "
    "before the go ends it unstarted" *
    doctest::test_suite("integration")) {
  signal(SIGPIPE, SIG_IGN);
  TempDir tmp;
  {
    PipeAgent agent(tmp.path() + "/state");
    agent.Send({{"type", "hello"}, {"protocol", kAgentProtocolVersion}});
    REQUIRE(agent.NextReply()["type"] == "hello");
    agent.Send({{"type", "go"}, {"at_utc_ns", UtcNs()}});
    auto no_run = agent.NextReply();
    CHECK(no_run["type"] == "error");
    CHECK(no_run["message"] == "go: no run");
    agent.Send({{"type", "start"},
                {"run_id", "held"},
                {"hold", true},
                {"workload", SmallWorkload(tmp.path() + "/f", "1s")}});
    auto started = agent.NextReply();
    REQUIRE(started["type"] == "started");
    CHECK(started["held"] == true);
    std::string run_dir = started["run_dir"];
    // Held: the load is prepared (its journal exists) but issues nothing. No
    // event can end this wait early: it is the time a go could come in.
    int records = 0;
    auto early = agent.in->Next(300 * kNsPerMs);
    while (early.is_object() && early["type"] == "record") {
      ++records;
      CHECK(early["stream"] != "samples");
      early = agent.in->Next(300 * kNsPerMs);
    }
    CHECK(early.is_null());
    CHECK(ReadJsonl(run_dir + "/samples.jsonl").empty());
    const int64_t at = UtcNs() + 200 * kNsPerMs;
    agent.Send({{"type", "go"}, {"at_utc_ns", at}});
    auto going = agent.NextReply(&records);
    REQUIRE(going["type"] == "going");
    CHECK(going["load_start_utc_ns"].get<int64_t>() == at);  // through the same clock anchor both ways
    agent.Send({{"type", "go"}, {"at_utc_ns", at}});
    CHECK(agent.NextReply(&records)["message"] == "go: no held start waits for it");
    auto finished = agent.NextReply(&records);
    REQUIRE(finished["type"] == "finished");
    CHECK(finished["status"] == "completed");
    // Nothing completed before the go's time, and the load ran.
    auto samples = ReadJsonl(run_dir + "/samples.jsonl");
    REQUIRE_FALSE(samples.empty());
    int64_t first = INT64_MAX;
    for (const auto& r : samples) {
      if (r.contains("first_completion_utc_ns") && r["first_completion_utc_ns"].is_number())
        first = std::min(first, r["first_completion_utc_ns"].get<int64_t>());
    }
    CHECK(first >= at);
    CHECK(first < at + 100 * kNsPerMs);
    CHECK(TotalIos(run_dir + "/samples.jsonl") > 0);
  }
  {
    PipeAgent agent(tmp.path() + "/state2");
    agent.Send({{"type", "hello"}, {"protocol", kAgentProtocolVersion}});
    REQUIRE(agent.NextReply()["type"] == "hello");
    agent.Send({{"type", "start"},
                {"run_id", "held"},
                {"hold", true},
                {"workload", SmallWorkload(tmp.path() + "/g", "30s")}});
    auto started = agent.NextReply();
    REQUIRE(started["type"] == "started");
    agent.Send({{"type", "stop"}});
    auto finished = agent.NextReply();
    REQUIRE(finished["type"] == "finished");
    CHECK(finished["status"] == "interrupted");
    CHECK(finished["summary"]["read"]["ios"] == 0);
    CHECK(finished["summary"]["write"]["ios"] == 0);
    bool not_started = false;
    for (const auto& e : ReadJsonl(started["run_dir"].get<std::string>() + "/events.jsonl")) {
      if (e["kind"] == "load_not_started") {
        not_started = true;
        CHECK(e["attrs"]["why"] == "a stop came first");
      }
    }
    CHECK(not_started);
    agent.Send({{"type", "go"}, {"at_utc_ns", UtcNs()}});
    CHECK(agent.NextReply()["message"] == "go: no held start waits for it");
  }
}

TEST_CASE("agent over ssh: two agents, controller totals equal the agents' journals, clock offset measured" *
          doctest::test_suite("integration")) {
  if (!SshdFixture::Available()) {
    Skip("needs root and /usr/sbin/sshd");
    return;
  }
  SshdFixture sshd;
  TempDir tmp;
  AgentProcessGuard guard;
  std::vector<std::unique_ptr<AgentClient>> clients;
  for (int i = 0; i < 2; ++i) {
    AgentClientOptions o;
    o.name = "a" + std::to_string(i);
    o.ssh = SshSettings(sshd);
    o.agent_argv = {FB_CLI_PATH, "agent", "--stdio"};
    o.state_dir = tmp.path() + "/state" + std::to_string(i);
    o.journal_dir = tmp.path() + "/controller";
    clients.push_back(std::make_unique<AgentClient>(o));
    Status s = clients.back()->Connect();
    REQUIRE_MESSAGE(s.ok(), s.message());
    guard.pids.push_back(clients.back()->agent_pid());
    // Same machine, same clock: the offset is within its own uncertainty (plus slack).
    CHECK(std::llabs(clients.back()->clock().offset_ns) <=
          clients.back()->clock().uncertainty_ns + 2 * kNsPerMs);
    CHECK(clients.back()->clock().rtt_ns > 0);
    s = clients.back()->Start("two", SmallWorkload(tmp.path() + "/file" + std::to_string(i), "2s"));
    REQUIRE_MESSAGE(s.ok(), s.message());
  }
  Status results[2];
  std::thread t0([&] { results[0] = clients[0]->RunToEnd(25 * kNsPerSec); });
  std::thread t1([&] { results[1] = clients[1]->RunToEnd(25 * kNsPerSec); });
  t0.join();
  t1.join();
  uint64_t agents_total = 0, controller_total = 0;
  for (int i = 0; i < 2; ++i) {
    REQUIRE_MESSAGE(results[i].ok(), results[i].message());
    AgentClient& c = *clients[i];
    CHECK(c.finished()["status"] == "completed");
    CHECK(c.seq_gaps() == 0);
    CHECK(c.reconnects() == 0);
    CHECK(c.records() == ReadJsonl(c.agent_run_dir() + "/" + kRecordLogFile).size());
    for (const char* op : {"read", "write"}) {
      CHECK(TotalOpIos(c.journal_dir() + "/samples.jsonl", op) ==
            TotalOpIos(c.agent_run_dir() + "/samples.jsonl", op));
    }
    uint64_t agent_ios = TotalIos(c.agent_run_dir() + "/samples.jsonl");
    CHECK(agent_ios > 0);
    agents_total += agent_ios;
    controller_total += TotalIos(c.journal_dir() + "/samples.jsonl");
    // Each controller record keeps the agent's own time.
    auto rec = ReadJsonl(c.journal_dir() + "/samples.jsonl").at(0);
    CHECK(rec["agent"] == (i ? "a1" : "a0"));
    CHECK(rec["t_utc_ns"].get<int64_t>() == rec["agent_t_utc_ns"].get<int64_t>() - c.clock().offset_ns);
  }
  CHECK(controller_total == agents_total);
  MESSAGE("two agents: " << agents_total << " I/Os in total");
}

TEST_CASE(
    "agent over ssh: the controller's connection is killed mid-run, the load goes on, resume gets every "
    "record" *
    doctest::test_suite("integration")) {
  if (!SshdFixture::Available()) {
    Skip("needs root and /usr/sbin/sshd");
    return;
  }
  SshdFixture sshd;
  TempDir tmp;
  AgentProcessGuard guard;
  AgentClientOptions o;
  o.name = "lossy";
  o.ssh = SshSettings(sshd);
  o.agent_argv = {FB_CLI_PATH, "agent", "--stdio"};
  o.state_dir = tmp.path() + "/state";
  o.journal_dir = tmp.path() + "/controller";
  o.reconnect_initial_ns = 500 * kNsPerMs;
  AgentClient c(o);
  Status s = c.Connect();
  REQUIRE_MESSAGE(s.ok(), s.message());
  guard.pids.push_back(c.agent_pid());
  s = c.Start("lossy", SmallWorkload(tmp.path() + "/file", "4s"));
  REQUIRE_MESSAGE(s.ok(), s.message());
  Status result;
  std::thread run([&] { result = c.RunToEnd(25 * kNsPerSec); });
  SleepUntilMono(MonoNs() + 1200 * kNsPerMs);
  pid_t ssh = c.ssh_pid();
  REQUIRE(ssh > 0);
  kill(ssh, SIGKILL);
  int64_t killed_utc = UtcNs();
  run.join();
  REQUIRE_MESSAGE(result.ok(), result.message());
  CHECK(c.reconnects() == 1);
  CHECK(c.seq_gaps() == 0);
  CHECK(c.finished()["status"] == "completed");
  auto agent_records = ReadJsonl(c.agent_run_dir() + "/" + kRecordLogFile);
  CHECK(c.records() == agent_records.size());
  CHECK(TotalIos(c.journal_dir() + "/samples.jsonl") == TotalIos(c.agent_run_dir() + "/samples.jsonl"));
  // The agent's load went on while nobody listened: intervals after the kill.
  bool after_kill = false;
  for (const auto& r : ReadJsonl(c.agent_run_dir() + "/samples.jsonl")) {
    if (r["job"] == "all" && r["t_utc_ns"].get<int64_t>() > killed_utc + 300 * kNsPerMs) after_kill = true;
  }
  CHECK(after_kill);
  int lost = 0, back = 0;
  for (const auto& e : ReadJsonl(c.journal_dir() + "/events.jsonl")) {
    if (e["kind"] == "agent_lost") {
      ++lost;
      CHECK(e["attrs"]["last_completion_utc_ns"].is_number_integer());
    }
    if (e["kind"] == "agent_back") {
      ++back;
      CHECK(lost == 1);  // after the loss
      MESSAGE("connection down " << e["attrs"]["down_ms"].get<double>() << " ms");
    }
  }
  CHECK(lost == 1);
  CHECK(back == 1);
}

}  // namespace fb
