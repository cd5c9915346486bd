// AgentClient's sink and clock over a throwaway sshd: records reach the sink
// once each without a journal of the client's own, and the clock is measured
// again every clock_every during the run.
#include "agent/agent_client.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "core/clock.h"
#include "core/jsonl_writer.h"
#include "core/version.h"
#include "loadgen/ack_log.h"
#include "tests/support/skip.h"
#include "tests/support/sshd_fixture.h"
#include "tests/support/test_util.h"

namespace fb {

namespace {

class CollectingSink : public AgentRecordSink {
 public:
  void OnAgentSample(const std::string& agent, nlohmann::json r) override {
    Add("samples", agent, std::move(r));
  }
  void OnAgentStall(const std::string& agent, nlohmann::json r) override {
    Add("stalls", agent, std::move(r));
  }
  void OnAgentEvent(const std::string& agent, const Event& e) override {
    std::lock_guard<std::mutex> lock(mu);
    CHECK(agent == name);
    events.push_back(e);
  }
  void Add(const std::string& stream, const std::string& agent, nlohmann::json r) {
    std::lock_guard<std::mutex> lock(mu);
    CHECK(r["agent"] == agent);
    records[stream].push_back(std::move(r));
  }
  std::string name = "clocked";
  std::mutex mu;
  std::map<std::string, std::vector<nlohmann::json>> records;
  std::vector<Event> events;
};

}  // namespace

TEST_CASE("agent client: clock re-measured every clock_every, agent_clock events, records to the sink only" *
          doctest::test_suite("integration")) {
  if (!SshdFixture::Available()) {
    Skip("needs root and /usr/sbin/sshd");
    return;
  }
  SshdFixture sshd;
  TempDir tmp;
  CollectingSink sink;
  ClockAnchor anchor = ClockAnchor::Take();
  AgentClientOptions o;
  o.name = "clocked";
  o.ssh = sshd.Settings();
  o.agent_argv = {FB_CLI_PATH, "agent", "--stdio"};
  o.state_dir = tmp.path() + "/state";
  o.journal_dir = tmp.path() + "/controller";
  o.own_journal = false;
  o.sink = &sink;
  o.anchor = &anchor;
  o.clock_every_ns = 400 * kNsPerMs;
  AgentClient c(o);
  Status s = c.Connect();
  REQUIRE_MESSAGE(s.ok(), s.message());
  s = c.Start("clocked", {{"target", {{"path", tmp.path() + "/file"}, {"create_size", "4MiB"}}},
                          {"rw", "randread"},
                          {"queue_depth", 1},
                          {"rate_iops", 200},
                          {"duration", "2s"},
                          {"interval", "250ms"},
                          {"direct", false}});
  REQUIRE_MESSAGE(s.ok(), s.message());
  int64_t run_start = MonoNs();
  s = c.RunToEnd(25 * kNsPerSec);
  REQUIRE_MESSAGE(s.ok(), s.message());
  double run_s = double(MonoNs() - run_start) / 1e9;
  CHECK(c.finished()["status"] == "completed");

  std::vector<const Event*> clocks;
  for (const auto& e : sink.events) {
    if (e.kind == "agent_clock") clocks.push_back(&e);
  }
  // One at connect, then one per clock_every of the run (the machine is busy: allow half).
  int want = 1 + int(run_s / 0.4);
  MESSAGE("agent_clock: " << clocks.size() << " measurements over a " << run_s << " s run (about " << want
                          << " due)");
  CHECK(int(clocks.size()) >= 1 + want / 2);
  CHECK(int(clocks.size()) <= want + 1);
  for (size_t i = 0; i < clocks.size(); ++i) {
    const Event& e = *clocks[i];
    CHECK(e.source == "clocked");
    CHECK(e.attrs["agent"] == "clocked");
    CHECK(e.attrs["rounds"] == o.time_rounds);
    CHECK(e.attrs["rtt_ns"].get<int64_t>() > 0);
    CHECK(e.attrs["uncertainty_ns"].get<int64_t>() == e.attrs["rtt_ns"].get<int64_t>() / 2);
    // Same machine: the offset is within its uncertainty (plus slack).
    CHECK(std::llabs(e.attrs["offset_ns"].get<int64_t>()) <=
          e.attrs["uncertainty_ns"].get<int64_t>() + 2 * kNsPerMs);
    if (i > 0) CHECK(e.mono_ns >= clocks[i - 1]->mono_ns + 300 * kNsPerMs);
  }
  CHECK(c.clock_history().size() == clocks.size());
  // Records on the given timeline, and no journal of the client's own.
  REQUIRE_FALSE(sink.records["samples"].empty());
  const auto& first = sink.records["samples"].front();
  // Each record is moved by the offset measured last before it arrived.
  for (const auto& r : sink.records["samples"]) {
    int64_t moved = r["agent_t_utc_ns"].get<int64_t>() - r["t_utc_ns"].get<int64_t>();
    bool known = false;
    for (const auto& m : c.clock_history()) known = known || m["offset_ns"].get<int64_t>() == moved;
    CHECK(known);
  }
  CHECK(first["t_rel_s"].get<double>() > 0);
  CHECK(c.records() == sink.records["samples"].size() + sink.records["stalls"].size() + [&] {
    size_t n = 0;
    for (const auto& e : sink.events) n += e.attrs.contains("agent_seq");
    return n;
  }() + 1);  // + finished
  CHECK(c.journal_dir().empty());
}

TEST_CASE("agent client: a restarted agent's disk is checked against the writes acknowledged before it died" *
          doctest::test_suite("integration")) {
  if (!SshdFixture::Available()) {
    Skip("needs root and /usr/sbin/sshd");
    return;
  }
  signal(SIGPIPE, SIG_IGN);
  SshdFixture sshd;
  TempDir tmp;
  CollectingSink sink;
  sink.name = "vm";
  ClockAnchor anchor = ClockAnchor::Take();
  AgentClientOptions o;
  o.name = "vm";
  o.ssh = sshd.Settings();
  o.agent_argv = {FB_CLI_PATH, "agent", "--stdio"};
  o.state_dir = tmp.path() + "/state";
  o.own_journal = false;
  o.sink = &sink;
  o.anchor = &anchor;
  o.reconnect_initial_ns = 100 * kNsPerMs;
  o.reconnect_max_ns = 400 * kNsPerMs;
  std::string file = tmp.path() + "/disk";
  AgentClient c(o);
  Status s = c.Connect();
  REQUIRE_MESSAGE(s.ok(), s.message());
  s = c.Start("vm", {{"target", {{"path", file}, {"create_size", "8MiB"}}},
                     {"rw", "randrw"},
                     {"rwmixread", 50},
                     {"bs", "4k"},
                     {"queue_depth", 2},
                     {"rate_iops", 300},
                     {"duration", "5s"},
                     {"interval", "200ms"},
                     {"direct", false},
                     {"verify", true}});
  REQUIRE_MESSAGE(s.ok(), s.message());
  Status run_status;
  std::thread controller([&] { run_status = c.RunToEnd(40 * kNsPerSec); });
  struct Joiner {
    std::thread* t;
    ~Joiner() {
      if (t->joinable()) t->join();
    }
  } joiner{&controller};
  SleepUntilMono(MonoNs() + 1500 * kNsPerMs);
  REQUIRE(c.agent_pid() > 0);
  REQUIRE(kill(c.agent_pid(), SIGKILL) == 0);  // the VM dies
  SleepUntilMono(MonoNs() + 200 * kNsPerMs);
  // Two blocks acknowledged well before the crash (so the controller has
  // their acks) are lost behind the agent's back.
  auto log = ReadAckLog(c.agent_run_dir() + "/acks.bin");
  REQUIRE_MESSAGE(log.ok(), log.status().message());
  std::set<uint64_t> zeroed;
  for (const auto& [offset, e] : log->last) {
    if (e.ack_ms < 1000 && zeroed.size() < 2) zeroed.insert(offset);
  }
  REQUIRE(zeroed.size() == 2);
  int fd = open(file.c_str(), O_WRONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  std::vector<char> zeros(4096, 0);
  for (uint64_t off : zeroed) REQUIRE(pwrite(fd, zeros.data(), zeros.size(), off_t(off)) == 4096);
  close(fd);
  // The VM boots again: the unit's agent --boot continues the run.
  auto boot = RunCli({"agent", "--boot", "--state-dir", o.state_dir}, 30 * kNsPerSec);
  CHECK_MESSAGE(boot.success(), boot.err);
  controller.join();
  REQUIRE_MESSAGE(run_status.ok(), run_status.message());

  std::lock_guard<std::mutex> lock(sink.mu);
  const Event* checked = nullptr;
  std::set<uint64_t> found;
  bool restarted = false, sent = false;
  for (const auto& e : sink.events) {
    if (e.kind == "agent_restarted") restarted = true;
    if (e.kind == "agent_disk_check") {
      sent = true;
      CHECK(restarted);
      CHECK(e.attrs["blocks"].get<uint64_t>() > 50);
    }
    if (e.kind == "agent_disk_checked") checked = &e;
    if (e.kind == "lost_write") {
      CHECK(e.attrs["after_restart"] == true);
      CHECK(e.attrs["acked_utc_ns"].get<int64_t>() > 0);
      found.insert(e.attrs["offset"].get<uint64_t>());
    }
  }
  CHECK(restarted);
  CHECK(sent);
  REQUIRE(checked);
  // Both zeroed blocks, unless the resumed load wrote one of them again before
  // the check read it (a newer generation is not a lost write).
  CHECK(checked->attrs["bad"].get<uint64_t>() >= 1);
  CHECK(checked->attrs["bad"].get<uint64_t>() == found.size());
  for (uint64_t off : found) CHECK(zeroed.count(off) == 1);
  MESSAGE("disk check after restart: " << checked->attrs.dump());
}

}  // namespace fb

namespace fb {

TEST_CASE("agent client: an agent of another faultbench version is refused in one line naming both versions" *
          doctest::test_suite("integration")) {
  if (!SshdFixture::Available()) {
    Skip("needs root and /usr/sbin/sshd");
    return;
  }
  SshdFixture sshd;
  TempDir tmp;
  // Stand-in agents that answer the hello as an older build would, then wait.
  auto agent = [&](const std::string& name, const std::string& hello) {
    std::string path = tmp.path() + "/" + name;
    REQUIRE(WriteFileAtomic(path, "#!/bin/sh\nread line\necho '" + hello + "'\nsleep 5\n").ok());
    REQUIRE(chmod(path.c_str(), 0755) == 0);
    AgentClientOptions o;
    o.name = name;
    o.ssh = sshd.Settings();
    o.agent_argv = {path};
    o.state_dir = tmp.path() + "/state";
    o.journal_dir = tmp.path() + "/controller-" + name;
    o.own_journal = false;
    AgentClient c(o);
    return c.Connect();
  };
  Status old = agent("old", R"({"type":"hello","protocol":1,"version":"0.0.9","pid":1})");
  REQUIRE_FALSE(old.ok());
  CHECK(old.message().find("agent old on ") != std::string::npos);
  CHECK(old.message().find(std::string(" runs faultbench 0.0.9, this controller ") + kVersion +
                           ": install faultbench-agent " + kVersion + " there (faultbench deploy PLAN)") !=
        std::string::npos);
  Status none = agent("none", R"({"type":"hello","protocol":1,"pid":1})");
  REQUIRE_FALSE(none.ok());
  CHECK(none.message().find("runs faultbench older than 0.1.0 (no version in its hello)") != std::string::npos);
  // The real agent of this build answers with this build's version.
  AgentClientOptions o;
  o.name = "same";
  o.ssh = sshd.Settings();
  o.agent_argv = {FB_CLI_PATH, "agent", "--stdio"};
  o.state_dir = tmp.path() + "/state";
  o.journal_dir = tmp.path() + "/controller-same";
  o.own_journal = false;
  AgentClient same(o);
  Status s = same.Connect();
  REQUIRE_MESSAGE(s.ok(), s.message());
  CHECK(same.agent_version() == kVersion);
}

}  // namespace fb
