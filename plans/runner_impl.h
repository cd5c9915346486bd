// Runner::Impl (internal to plans/runner*.cpp), split by concern:
//   runner.cpp         the run from start to finish: journal, probes, load, report
//   runner_steps.cpp   the step clock and the fault steps (inject, revert, leases)
//   runner_agents.cpp  the agent fleet: connect, start, console, finish
#pragma once

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <thread>

#include "agent/workload_json.h"
#include "core/clock.h"
#include "core/journal.h"
#include "core/units.h"
#include "injectors/fault_lifecycle.h"
#include "loadgen/console_view.h"
#include "loadgen/journal_sink.h"
#include "loadgen/load_generator.h"
#include "metrics/metrics_exporter.h"
#include "plans/agent_fleet.h"
#include "plans/plan_loader.h"
#include "plans/plan_probes.h"
#include "plans/runner.h"
#include "plans/runner_sinks.h"
#include "probes/probe.h"
#include "reports/correlator.h"
#include "reports/report.h"

namespace fb {

struct ActiveFault {
  std::string injector;
  Injector* impl = nullptr;
  int cycle = 0;
  size_t step = 0;
  int64_t lease_end_ns = 0;
  std::string guard_fault;  // its id in the guard journal
};

inline double RelS(int64_t ns) { return std::round(double(ns) / 1e3) / 1e6; }

class Runner::Impl {
 public:
  Impl(const Plan& plan, RunOptions options) : plan_(plan), opt_(std::move(options)) {}

  int Run(std::string* run_dir);
  void Abort() {
    int n = aborts_.fetch_add(1) + 1;
    uint64_t one = 1;
    if (wake_fd_ >= 0) (void)!write(wake_fd_, &one, sizeof one);
    // A second request hurries: the load stops waiting for in-flight I/O. The
    // step thread still reverts every fault before it stops the load.
    if (AgentFleet* f = fleet_ptr_.load()) f->RequestStopAll();
    LoadGenerator* gen = gen_ptr_.load();
    if (n >= 2 && gen) {
      gen->RequestStop();
      gen->RequestStop();
    }
  }

 private:
  bool Aborted() const { return aborts_.load() > 0; }
  // Every load (the local one and the agents') has ended.
  bool LoadOver() const { return (!gen_ || watch_->finished.load()) && (!fleet_ || fleet_->Done()); }
  void RequestLoadStop() {
    if (gen_) gen_->RequestStop();
    if (fleet_) fleet_->RequestStopAll();
  }
  int ConnectAgents();
  int StartAgents();
  // The held starts' go: every agent's load clock starts at go_mono_ns.
  int GoAgents(int64_t go_mono_ns);
  void FinishAgents();
  void AgentConsoleLoop();
  // Waits until `deadline_ns`, an abort, the load's end or a lease expiry.
  // Returns true when the deadline was reached.
  bool WaitUntil(int64_t deadline_ns);
  void Drain() {
    uint64_t v;
    while (read(wake_fd_, &v, sizeof v) > 0) {
    }
  }
  void Note(const std::string& kind, Severity sev, const std::string& source, const std::string& message,
            nlohmann::json attrs, int64_t t_ns = 0) {
    Event e;
    e.mono_ns = t_ns ? t_ns : MonoNs();
    e.source = source;
    e.kind = kind;
    e.severity = sev;
    e.message = message;
    e.attrs = std::move(attrs);
    (void)journal_.AppendEvent(e);
    if (!opt_.quiet) {
      fprintf(opt_.out, "%+9.3fs  %-15s %s\n", double(e.mono_ns - load_start_) / 1e9, kind.c_str(),
              message.c_str());
      fflush(opt_.out);
    }
  }
  Status Inject(size_t step_index, int cycle);
  Status RevertFault(const std::string& injector, const char* reason);
  void RevertAll(const char* reason);
  void ReapLeases();
  bool ExecuteSteps();

  const Plan& plan_;
  RunOptions opt_;
  std::atomic<int> aborts_{0};
  int wake_fd_ = -1;
  Journal journal_;
  std::unique_ptr<LoadGenerator> gen_;            // null when the load runs on agents only
  std::atomic<LoadGenerator*> gen_ptr_{nullptr};  // for Abort() from a signal handler
  std::unique_ptr<AgentJournalSink> agent_sink_;
  std::unique_ptr<AgentFleet> fleet_;            // null without agents
  std::atomic<AgentFleet*> fleet_ptr_{nullptr};  // for Abort()
  std::thread agent_console_;
  std::atomic<bool> agent_console_stop_{false};
  std::vector<std::string> agent_findings_;
  int64_t agent_ramp_ns_ = 0, agent_interval_ns_ = kNsPerSec;  // of the first agent's workload
  std::unique_ptr<LoadWatch> watch_;
  std::unique_ptr<RunnerEventSink> sink_;
  std::unique_ptr<MetricsExporter> metrics_;  // null unless metrics are on
  std::map<std::string, std::unique_ptr<Injector>> injectors_;
  GuardClient guard_;  // injectors/guard.h: reverts our faults if this process dies
  std::vector<std::pair<std::string, std::unique_ptr<Probe>>> probes_;
  std::vector<ActiveFault> active_;  // in injection order
  int64_t load_start_ = 0;
  bool failed_ = false;
  std::atomic<bool> ended_by_step_{false};  // an `end: true` step stopped the load: as planned
  std::string failure_;
};

}  // namespace fb
