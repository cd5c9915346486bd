#include "plans/agent_fleet.h"

#include <unistd.h>

#include <algorithm>
#include <sstream>

#include "core/clock.h"

namespace fb {

std::vector<std::string> SplitCommand(const std::string& command) {
  std::vector<std::string> argv;
  std::istringstream in(command);
  for (std::string word; in >> word;) argv.push_back(word);
  return argv;
}

AgentFleet::AgentFleet(const Plan& plan, const ClockAnchor* anchor, AgentRecordSink* sink, int wake_fd)
    : wake_fd_(wake_fd) {
  for (const auto& spec : plan.agents) {
    AgentClientOptions o;
    o.name = spec.name;
    o.ssh = spec.ssh;
    o.transport = spec.transport;
    o.address = spec.ssh.value("host", std::string());
    o.port = spec.port;
    o.token_file = spec.token_file;
    o.agent_argv = SplitCommand(spec.command);
    o.state_dir = spec.state_dir;
    o.clock_every_ns = spec.clock_every_ns;
    o.sink = sink;
    o.own_journal = false;  // the run journal holds every agent's records
    o.anchor = anchor;
    auto a = std::make_unique<FleetAgent>();
    a->spec = &spec;
    a->client = std::make_unique<AgentClient>(std::move(o));
    a->done = true;  // nothing runs before RunAll
    agents_.push_back(std::move(a));
  }
}

AgentFleet::~AgentFleet() {
  RequestStopAll();
  JoinAll();
}

Status AgentFleet::ConnectAll() {
  std::vector<Status> results(agents_.size());
  std::vector<std::thread> t;
  for (size_t i = 0; i < agents_.size(); ++i) {
    t.emplace_back([this, i, &results] { results[i] = agents_[i]->client->Connect(); });
  }
  for (auto& th : t) th.join();
  std::string refused;
  for (size_t i = 0; i < agents_.size(); ++i) {
    if (results[i].ok()) continue;
    const AgentSpec& s = *agents_[i]->spec;
    std::string msg = results[i].message();
    // AgentClient names the agent and its host; say so when it did not.
    std::string host = s.ssh.value("host", std::string());
    if (msg.find(host) == std::string::npos) msg = "agent " + s.name + " on " + host + ": " + msg;
    refused += (refused.empty() ? "" : "\n") + msg;
  }
  if (!refused.empty())
    return Status::InvalidInput("refused before the load (nothing was started):\n" + refused);
  return Status::Ok();
}

Status AgentFleet::StartAll(const std::string& run_id) {
  std::vector<Status> results(agents_.size());
  std::vector<std::thread> t;
  for (size_t i = 0; i < agents_.size(); ++i) {
    t.emplace_back([this, i, &results, &run_id] {
      FleetAgent& a = *agents_[i];
      results[i] = a.client->Start(run_id, a.spec->start_workload, /*hold=*/true);
    });
  }
  for (auto& th : t) th.join();
  std::string refused;
  for (size_t i = 0; i < agents_.size(); ++i) {
    if (!results[i].ok()) refused += (refused.empty() ? "" : "\n") + results[i].message();
  }
  if (refused.empty()) return Status::Ok();
  // The started ones stop; their records up to `finished` are not collected.
  for (size_t i = 0; i < agents_.size(); ++i) {
    if (results[i].ok()) (void)agents_[i]->client->Stop();
  }
  return Status::InvalidInput("an agent refused its start:\n" + refused);
}

int64_t AgentFleet::GoMarginNs() const {
  int64_t rtt = 0;
  for (const auto& a : agents_) rtt = std::max(rtt, a->client->clock().rtt_ns);
  return kGoMarginNs + kGoPerAgentNs * int64_t(agents_.size()) + 2 * rtt;
}

Status AgentFleet::GoAll(int64_t at_utc_ns) {
  // Every `go` first, from here (a few microseconds each, far inside the
  // margin), then one thread per agent awaits its answer.
  std::vector<Status> results(agents_.size());
  for (size_t i = 0; i < agents_.size(); ++i) results[i] = agents_[i]->client->SendGo(at_utc_ns);
  std::vector<std::thread> t;
  for (size_t i = 0; i < agents_.size(); ++i) {
    if (!results[i].ok()) continue;
    t.emplace_back([this, i, &results] {
      FleetAgent& a = *agents_[i];
      results[i] = a.client->AwaitGoing();
      a.started_utc_ns = a.client->load_start_utc_ns();
    });
  }
  for (auto& th : t) th.join();
  std::string refused;
  for (size_t i = 0; i < agents_.size(); ++i) {
    if (!results[i].ok()) refused += (refused.empty() ? "" : "\n") + results[i].message();
  }
  if (refused.empty()) return Status::Ok();
  for (auto& a : agents_) (void)a->client->Stop();
  return Status::InvalidInput("an agent did not start its load:\n" + refused);
}

void AgentFleet::RunAll(int64_t timeout_ns) {
  for (auto& ap : agents_) {
    FleetAgent* a = ap.get();
    a->done = false;
    threads_.emplace_back([this, a, timeout_ns] {
      a->result = a->client->RunToEnd(timeout_ns);
      a->done = true;
      uint64_t one = 1;
      if (wake_fd_ >= 0) (void)!write(wake_fd_, &one, sizeof one);
    });
  }
}

void AgentFleet::RequestStopAll() {
  for (auto& a : agents_) a->client->RequestStop();
}

bool AgentFleet::Done() const {
  for (const auto& a : agents_) {
    if (!a->done.load()) return false;
  }
  return true;
}

void AgentFleet::JoinAll() {
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

}  // namespace fb
