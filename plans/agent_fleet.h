// The load agents of a plan run (plan.h: AgentSpec), one AgentClient each
// (agent/agent_client.h): connected in parallel before anything is touched,
// started in parallel on one timeline, each run to its end on its own thread.
// Every record goes to one AgentRecordSink (the runner's run journal); the
// clients keep no journal of their own. Not thread-safe except RequestStopAll(),
// Done() and the clients' completed_ios().
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "agent/agent_client.h"
#include "core/status.h"
#include "plans/plan.h"

namespace fb {

struct FleetAgent {
  const AgentSpec* spec = nullptr;
  std::unique_ptr<AgentClient> client;
  int64_t started_utc_ns = 0;  // when its load's clock started (its `going`, controller clock)
  Status result;               // of RunToEnd; set when its thread ended
  std::atomic<bool> done{false};
};

class AgentFleet {
 public:
  static constexpr int64_t kGoMarginNs = 100'000'000;
  static constexpr int64_t kGoPerAgentNs = 2'000'000;
  // `anchor` (the run journal's) and `sink` must outlive the fleet. `wake_fd`:
  // an eventfd written when an agent's run ends (-1: none).
  AgentFleet(const Plan& plan, const ClockAnchor* anchor, AgentRecordSink* sink, int wake_fd);
  ~AgentFleet();  // stops what still runs (bounded), joins the threads

  // Connects every agent (ssh, hello, clock) in parallel. The error lists every
  // refused agent with its host and why.
  Status ConnectAll();
  // Sends every agent its held `start` in parallel; returns when all answered
  // (each has prepared its load: target, journal, threads). On an error the
  // agents that did start are told to stop.
  Status StartAll(const std::string& run_id);
  // How far ahead of now GoAll's time must be for every `go` to arrive and be
  // acted on in time: kGoMarginNs, plus kGoPerAgentNs per agent (the sends
  // themselves: each wakes an agent, which on a small machine preempts the
  // sender), plus twice the slowest clock round trip.
  int64_t GoMarginNs() const;
  // Every agent's load clock starts at `at_utc_ns` (controller clock): sends
  // each its `go`, waits for every `going`. On an error every agent is told to stop.
  Status GoAll(int64_t at_utc_ns);
  // Runs each agent to its `finished` on its own thread, for at most timeout_ns.
  void RunAll(int64_t timeout_ns);
  // Any thread (also a signal handler's): every agent gets `stop`.
  void RequestStopAll();
  bool Done() const;  // every run thread has ended (true before RunAll)
  void JoinAll();

  std::vector<std::unique_ptr<FleetAgent>>& agents() { return agents_; }

 private:
  std::vector<std::unique_ptr<FleetAgent>> agents_;
  std::vector<std::thread> threads_;
  int wake_fd_;
};

// "faultbench-agent --stdio --state-dir /x" -> {"faultbench-agent", "--stdio", "--state-dir", "/x"}
std::vector<std::string> SplitCommand(const std::string& command);

}  // namespace fb
