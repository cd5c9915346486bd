// The runner's sinks (internal to plans/runner*.cpp): probe and agent events into
// the run journal, remembered for wait_for; the load's start and end.
#pragma once

#include <unistd.h>

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "agent/agent_client.h"
#include "core/clock.h"
#include "core/event.h"
#include "core/journal.h"
#include "loadgen/load_generator.h"
#include "metrics/metrics_exporter.h"

namespace fb {

// Probe events go to the journal and are remembered for wait_for.
class RunnerEventSink : public EventSink {
 public:
  RunnerEventSink(Journal* journal, int wake_fd, MetricsExporter* metrics)
      : journal_(journal), wake_fd_(wake_fd), metrics_(metrics) {}
  void Emit(Event e) override {
    if (metrics_) metrics_->CountProbeEvent(e.source, e.kind);
    Record(e);
  }
  // Into the journal and remembered for wait_for (agents' events: not probe events).
  void Record(const Event& e) {
    (void)journal_->AppendEvent(e);
    {
      std::lock_guard<std::mutex> lock(mu_);
      seen_.push_back({e.mono_ns, MonoNs(), e.kind, e.source});
    }
    uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof one);
  }
  // Whether an event of `kind` (and `source`, when given) arrived at or after
  // `since_ns`; *arrived_ns is when it arrived, *at_ns the time it carries.
  // Arrival decides, not the event's own time: an event may be dated before
  // it is known (an agent's first completion after a loss is dated by the
  // completion, which may precede the moment the loss was noticed; a remote
  // log line by its own timestamp), and a wait that began in between must
  // still see it.
  bool Seen(const std::string& kind, const std::string& source, int64_t since_ns, int64_t* arrived_ns,
            int64_t* at_ns) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& s : seen_) {
      if (s.arrived_ns >= since_ns && s.kind == kind && (source.empty() || s.source == source)) {
        *arrived_ns = s.arrived_ns;
        *at_ns = s.mono_ns;
        return true;
      }
    }
    return false;
  }

 private:
  struct Seen_ {
    int64_t mono_ns;     // the event's own time
    int64_t arrived_ns;  // when the runner learnt of it
    std::string kind, source;
  };
  Journal* journal_;
  int wake_fd_;
  MetricsExporter* metrics_;  // may be null
  std::mutex mu_;
  std::vector<Seen_> seen_;
};

// Learns when the load starts and ends.
class LoadWatch : public LoadSink {
 public:
  explicit LoadWatch(int wake_fd) : wake_fd_(wake_fd) {}
  void OnStart(const LoadStartInfo& info) override {
    start_ns.store(info.start_ns);
    Wake();
  }
  void OnFinish(const LoadSummary&) override {
    finished.store(true);
    Wake();
  }
  std::atomic<int64_t> start_ns{0};
  std::atomic<bool> finished{false};

 private:
  void Wake() {
    uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof one);
  }
  int wake_fd_;
};

// What the agents stream goes into the run journal (the contract in
// agent/README.md), their events are remembered for wait_for, and the agents'
// metrics are fed. Called on each agent's own thread.
class AgentJournalSink : public AgentRecordSink {
 public:
  AgentJournalSink(Journal* journal, RunnerEventSink* events, MetricsExporter* metrics,
                   std::function<void(const Event&)> console)
      : journal_(journal), events_(events), metrics_(metrics), console_(std::move(console)) {}
  // At setup, before any agent runs (never on the record path).
  void AddSeries(const std::string& agent, int jobs) {
    if (metrics_) series_[agent] = metrics_->AddAgent(agent, jobs);
  }
  void OnAgentSample(const std::string& agent, nlohmann::json record) override {
    if (metrics_) metrics_->OnAgentSample(series_.at(agent), record);
    (void)journal_->AppendSample(std::move(record));
  }
  void OnAgentStall(const std::string& agent, nlohmann::json record) override {
    if (metrics_) metrics_->OnAgentStall(series_.at(agent), record);
    (void)journal_->AppendStall(std::move(record));
  }
  void OnAgentEvent(const std::string&, const Event& e) override {
    events_->Record(e);
    if (e.severity >= Severity::kWarning || e.kind == "agent_back" || e.kind == "agent_first_completion")
      console_(e);
  }

 private:
  Journal* journal_;
  RunnerEventSink* events_;
  MetricsExporter* metrics_;  // may be null
  std::function<void(const Event&)> console_;
  std::map<std::string, MetricsExporter::AgentSeries*> series_;
};

}  // namespace fb
