// AgentClient's sink and clock over a throwaway sshd: records reach the sink
// once each without a journal of the client's own, and the clock is measured
// again every clock_every during the run.
#include "agent/agent_client.h"

#include <doctest/doctest.h>

#include <map>
#include <mutex>

#include "core/clock.h"
#include "tests/sshd_fixture.h"
#include "tests/test_util.h"

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
    CHECK(agent == "clocked");
    events.push_back(e);
  }
  void Add(const std::string& stream, const std::string& agent, nlohmann::json r) {
    std::lock_guard<std::mutex> lock(mu);
    CHECK(r["agent"] == agent);
    records[stream].push_back(std::move(r));
  }
  std::mutex mu;
  std::map<std::string, std::vector<nlohmann::json>> records;
  std::vector<Event> events;
};

}  // namespace

TEST_CASE("agent client: clock re-measured every clock_every, agent_clock events, records to the sink only") {
  if (!SshdFixture::Available()) {
    MESSAGE("skipped: needs root and /usr/sbin/sshd");
    return;
  }
  SshdFixture sshd;
  TempDir tmp;
  CollectingSink sink;
  ClockAnchor anchor = ClockAnchor::Take();
  AgentClientOptions o;
  o.name = "clocked";
  o.ssh = {{"host", "127.0.0.1"},
           {"user", "root"},
           {"ssh_port", std::to_string(sshd.port())},
           {"identity_file", sshd.identity_file()},
           {"known_hosts", sshd.known_hosts()}};
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

}  // namespace fb
