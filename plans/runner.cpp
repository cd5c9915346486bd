#include "plans/runner.h"

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
#include "injectors/guard.h"
#include "injectors/injector.h"
#include "loadgen/console_view.h"
#include "loadgen/journal_sink.h"
#include "loadgen/load_generator.h"
#include "metrics/metrics_exporter.h"
#include "plans/agent_fleet.h"
#include "plans/plan_loader.h"
#include "plans/plan_probes.h"
#include "probes/probe.h"
#include "reports/correlator.h"
#include "reports/report.h"

namespace fb {

namespace {

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
      seen_.push_back({e.mono_ns, e.kind, e.source});
    }
    uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof one);
  }
  // Whether an event of `kind` (and `source`, when given) arrived at or after `since_ns`.
  bool Seen(const std::string& kind, const std::string& source, int64_t since_ns, int64_t* at_ns) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& s : seen_) {
      if (s.mono_ns >= since_ns && s.kind == kind && (source.empty() || s.source == source)) {
        *at_ns = s.mono_ns;
        return true;
      }
    }
    return false;
  }

 private:
  struct Seen_ {
    int64_t mono_ns;
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

struct ActiveFault {
  std::string injector;
  Injector* impl = nullptr;
  int cycle = 0;
  size_t step = 0;
  int64_t lease_end_ns = 0;
  std::string guard_fault;  // its id in the guard journal
};

double RelS(int64_t ns) { return std::round(double(ns) / 1e3) / 1e6; }

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

}  // namespace

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
  std::string failure_;
};

Runner::Runner(const Plan& plan, RunOptions options)
    : impl_(std::make_unique<Impl>(plan, std::move(options))) {}
Runner::~Runner() = default;
int Runner::Run() { return impl_->Run(&run_dir_); }
void Runner::Abort() { impl_->Abort(); }

bool Runner::Impl::WaitUntil(int64_t deadline_ns) {
  while (true) {
    if (Aborted() || LoadOver()) return false;
    int64_t now = MonoNs();
    int64_t wake = deadline_ns;
    for (const auto& f : active_) wake = std::min(wake, f.lease_end_ns);
    if (now >= wake) {
      if (wake < deadline_ns) {
        ReapLeases();
        continue;
      }
      return true;
    }
    int64_t left = wake - now;
    timespec ts{time_t(left / kNsPerSec), long(left % kNsPerSec)};
    pollfd p{wake_fd_, POLLIN, 0};
    if (ppoll(&p, 1, &ts, nullptr) > 0) Drain();
  }
}

Status Runner::Impl::Inject(size_t i, int cycle) {
  const Step& s = plan_.steps[i];
  Injector* inj = injectors_.at(s.injector).get();
  // Guard: registered (fsynced) before it is applied, so the guard reverts it
  // if this process dies; Prepare() opens what the revert must not wait for.
  inj->Bind({guard_.run_id(), s.max_duration_ns});
  Status armed = inj->Prepare();
  Result<std::string> guard_fault =
      armed.ok() ? guard_.Arm({s.injector, plan_.FindInjector(s.injector)->kind, inj->where(),
                               plan_.FindInjector(s.injector)->settings, s.max_duration_ns})
                 : Result<std::string>(armed);
  if (!guard_fault.ok()) {
    Note("injector_error", Severity::kError, s.injector, guard_fault.status().message(),
         {{"injector", s.injector}, {"action", "arm"}, {"step", i}, {"cycle", cycle}});
    return guard_fault.status();
  }
  int64_t t0 = MonoNs();
  // Recorded before it is applied: an abort during Inject() still reverts it.
  active_.push_back({s.injector, inj, cycle, i, t0 + s.max_duration_ns, *guard_fault});
  Status st = inj->Inject();
  int64_t t1 = MonoNs();
  nlohmann::json attrs = {{"injector", s.injector},
                          {"kind", plan_.FindInjector(s.injector)->kind},
                          {"where", inj->where()},
                          {"step", i},
                          {"cycle", cycle},
                          {"lease_s", double(s.max_duration_ns) / 1e9},
                          {"command_ms", double(t1 - t0) / 1e6}};
  if (!st.ok()) {
    attrs["action"] = "inject";
    Note("injector_error", Severity::kError, s.injector, st.message(), attrs);
    return st;
  }
  if (FaultChecker* c = inj->checker()) {
    auto in = c->InEffect();
    attrs["verified"] = in.ok() ? nlohmann::json(*in) : nlohmann::json(in.status().message());
  }
  if (metrics_) metrics_->SetFaultActive(s.injector, true);
  Note("fault_injected", Severity::kWarning, s.injector, "injected " + s.injector + " on " + inj->where(),
       attrs, t1);
  return Status::Ok();
}

Status Runner::Impl::RevertFault(const std::string& injector, const char* reason) {
  auto it = std::find_if(active_.begin(), active_.end(),
                         [&](const ActiveFault& f) { return f.injector == injector; });
  if (it == active_.end()) return Status::Ok();
  ActiveFault f = *it;
  int64_t t0 = MonoNs();
  Status st = f.impl->Revert();
  int64_t t1 = MonoNs();
  nlohmann::json attrs = {{"injector", f.injector},
                          {"where", f.impl->where()},
                          {"cycle", f.cycle},
                          {"reason", reason},
                          {"command_ms", double(t1 - t0) / 1e6}};
  if (!st.ok()) {
    attrs["action"] = "revert";
    Note("injector_error", Severity::kCritical, f.injector, st.message(), attrs);
    return st;
  }
  if (FaultChecker* c = f.impl->checker()) {
    auto in = c->InEffect();
    attrs["verified"] = in.ok() ? nlohmann::json(!*in) : nlohmann::json(in.status().message());
    if (in.ok() && *in) {
      Note("injector_error", Severity::kCritical, f.injector,
           "revert of " + f.injector + " ran but the fault is still in effect", attrs);
      return Status::Unavailable("revert of " + f.injector + " ran but the fault is still in effect");
    }
  }
  (void)guard_.Disarm(f.guard_fault, "reverted");  // guard: nothing left to do for it
  if (metrics_) metrics_->SetFaultActive(f.injector, false);
  active_.erase(std::find_if(active_.begin(), active_.end(),
                             [&](const ActiveFault& a) { return a.injector == injector; }));
  Note("fault_reverted", Severity::kInfo, f.injector,
       std::string("reverted ") + f.injector + " (" + reason + ")", attrs, t1);
  return Status::Ok();
}

void Runner::Impl::RevertAll(const char* reason) {
  // Newest first; a fault whose revert fails gets one more try after the others.
  for (int pass = 0; pass < 2 && !active_.empty(); ++pass) {
    std::vector<std::string> names;
    for (auto it = active_.rbegin(); it != active_.rend(); ++it) names.push_back(it->injector);
    for (const auto& n : names) (void)RevertFault(n, reason);
  }
  if (!active_.empty()) {
    failed_ = true;
    failure_ = "could not revert " + active_.front().injector + ": it may still be in effect";
  }
}

void Runner::Impl::ReapLeases() {
  int64_t now = MonoNs();
  std::vector<std::string> expired;
  for (const auto& f : active_) {
    if (f.lease_end_ns <= now) expired.push_back(f.injector);
  }
  for (const auto& n : expired) {
    Status st = RevertFault(n, "lease expired");
    if (!st.ok()) {
      // Retried at the end of the run; the lease no longer wakes us.
      for (auto& f : active_) {
        if (f.injector == n) f.lease_end_ns = INT64_MAX;
      }
    }
  }
}

// Returns false when the run must stop (abort, or an error with on_error: stop).
bool Runner::Impl::ExecuteSteps() {
  int64_t prev_ns = load_start_;
  for (int cycle = 0; cycle < plan_.repeat; ++cycle) {
    int64_t cycle_start = load_start_ + cycle * plan_.repeat_every_ns;
    for (size_t i = 0; i < plan_.steps.size(); ++i) {
      const Step& s = plan_.steps[i];
      int64_t due = s.at_ns ? cycle_start + *s.at_ns : prev_ns + s.after_ns.value_or(0);
      if (!WaitUntil(due)) return !Aborted();
      int64_t now = MonoNs();
      int64_t since_prev = prev_ns;  // wait_for counts events from the previous step on
      prev_ns = now;
      std::string what =
          std::string(StepActionName(s.action)) + (s.injector.empty() ? "" : " " + s.injector) +
          (s.mark.empty() ? "" : " \"" + s.mark + "\"") + (s.wait_kind.empty() ? "" : " " + s.wait_kind);
      nlohmann::json attrs = {{"step", i},
                              {"cycle", cycle},
                              {"action", StepActionName(s.action)},
                              {"scheduled_rel_s", RelS(due - load_start_)},
                              {"late_ms", double(now - due) / 1e6},
                              {"line", s.loc.line}};
      if (!s.injector.empty()) attrs["injector"] = s.injector;
      Note("step", Severity::kInfo, "runner", "steps[" + std::to_string(i) + "] " + what, attrs, now);
      if (!s.phase.empty()) {
        if (metrics_) metrics_->SetRunInfo(plan_.name, s.phase);
        Note("phase", Severity::kInfo, "runner", "phase " + s.phase,
             {{"phase", s.phase}, {"step", i}, {"cycle", cycle}}, now);
      }
      Status st;
      switch (s.action) {
        case StepAction::kInject:
          st = Inject(i, cycle);
          break;
        case StepAction::kRevert:
          st = RevertFault(s.injector, "step");
          break;
        case StepAction::kMark:
          Note("mark", Severity::kInfo, "runner", s.mark, {{"step", i}, {"cycle", cycle}}, now);
          break;
        case StepAction::kWaitFor: {
          int64_t at = 0;
          int64_t deadline = now + s.wait_timeout_ns;
          while (!sink_->Seen(s.wait_kind, s.wait_source, since_prev, &at) && MonoNs() < deadline &&
                 !Aborted() && !LoadOver()) {
            WaitUntil(std::min(deadline, MonoNs() + 50 * kNsPerMs));
          }
          if (Aborted()) return false;
          if (at) {
            Note("wait_done", Severity::kInfo, "runner",
                 s.wait_kind + " seen after " + FormatDuration(std::max<int64_t>(0, at - now)),
                 {{"step", i}, {"waited_ms", double(std::max<int64_t>(0, at - now)) / 1e6}});
          } else {
            Note("wait_timeout", Severity::kWarning, "runner",
                 "no " + s.wait_kind + " within " + FormatDuration(s.wait_timeout_ns), {{"step", i}});
          }
          prev_ns = at ? std::max(at, now) : MonoNs();
          break;
        }
        case StepAction::kEnd:
          RequestLoadStop();
          return true;
        case StepAction::kNone:
          break;
      }
      if (!st.ok() && plan_.on_error == OnError::kStop) {
        failed_ = true;
        failure_ = st.message();
        return false;
      }
    }
  }
  return true;
}

int Runner::Impl::ConnectAgents() {
  agent_sink_ =
      std::make_unique<AgentJournalSink>(&journal_, sink_.get(), metrics_.get(), [this](const Event& e) {
        if (opt_.quiet) return;
        fprintf(opt_.out, "%+9.3fs  %-15s %s\n", double(e.mono_ns - load_start_) / 1e9, e.kind.c_str(),
                e.message.c_str());
        fflush(opt_.out);
      });
  fleet_ = std::make_unique<AgentFleet>(plan_, &journal_.anchor(), agent_sink_.get(), wake_fd_);
  if (auto w = WorkloadFromJson(plan_.agents.front().start_workload); w.ok()) {
    agent_ramp_ns_ = w->ramp_ns;
    agent_interval_ns_ = w->interval_ns;
  }
  if (!opt_.quiet) {
    fprintf(opt_.out, "connecting %zu agent(s)\n", plan_.agents.size());
    fflush(opt_.out);
  }
  Status st = fleet_->ConnectAll();
  if (!st.ok()) {
    fprintf(stderr, "faultbench: %s\n", st.message().c_str());
    fleet_.reset();
    return kExitUsage;
  }
  fleet_ptr_.store(fleet_.get());
  return kExitOk;
}

int Runner::Impl::StartAgents() {
  Status st = fleet_->StartAll(journal_.run_id());
  if (st.ok()) return kExitOk;
  failed_ = true;
  failure_ = st.message();
  fprintf(stderr, "faultbench: %s\n", st.message().c_str());
  return kExitUsage;
}

void Runner::Impl::FinishAgents() {
  nlohmann::json results = nlohmann::json::array();
  for (const auto& a : fleet_->agents()) {
    AgentClient& c = *a->client;
    const std::string& name = a->spec->name;
    std::string host = a->spec->ssh.value("host", std::string());
    std::string status = c.finished().is_object() ? c.finished().value("status", std::string("unknown")) : "";
    nlohmann::json r = {{"name", name},
                        {"status", status.empty() ? "never finished" : status},
                        {"records", c.records()},
                        {"seq_gaps", c.seq_gaps()},
                        {"reconnects", c.reconnects()}};
    std::string why;
    if (!a->result.ok())
      why = a->result.message();
    else if (status != "completed" && !(Aborted() && status == "interrupted"))
      why = "its load ended " + status;
    if (!why.empty()) {
      r["finding"] = why;
      agent_findings_.push_back("agent " + name + " on " + host + ": " + why);
      Note("agent_unfinished", Severity::kError, name, "agent " + name + " on " + host + ": " + why,
           {{"agent", name}, {"why", why}, {"records", c.records()}});
    }
    results.push_back(r);
  }
  (void)journal_.UpdateRunInfo({{"agent_results", results}});
  if (!gen_)
    Note("load_finished", Severity::kInfo, "runner", "the agents' load finished", nlohmann::json::object());
}

void Runner::Impl::AgentConsoleLoop() {
  std::vector<uint64_t> prev(fleet_->agents().size(), 0);
  int64_t prev_ns = MonoNs();
  while (!agent_console_stop_.load() && !fleet_->Done()) {
    SleepUntilMono(prev_ns + kNsPerSec);
    int64_t now = MonoNs();
    double s = double(now - prev_ns) / 1e9, total = 0;
    std::string per;
    for (size_t i = 0; i < prev.size(); ++i) {
      uint64_t n = fleet_->agents()[i]->client->completed_ios();
      double iops = double(n - prev[i]) / s;
      prev[i] = n;
      total += iops;
      char buf[96];
      snprintf(buf, sizeof buf, "  %s %.0f", fleet_->agents()[i]->spec->name.c_str(), iops);
      per += buf;
    }
    prev_ns = now;
    fprintf(opt_.out, "%+9.3fs  agents %8.0f IOPS |%s\n", double(now - load_start_) / 1e9, total,
            per.c_str());
    fflush(opt_.out);
  }
}

int Runner::Impl::Run(std::string* run_dir) {
  RegisterBuiltinInjectors();
  RegisterBuiltinProbes();
  for (const auto& spec : plan_.injectors) {
    Settings s(spec.settings);
    auto inj = InjectorRegistry::Global().Create(spec.kind, spec.name, &s);
    if (!inj) {
      fprintf(stderr, "faultbench: injector %s cannot be built%s\n", spec.name.c_str(),
              s.problems().empty() ? "" : (": " + s.problems()[0].message).c_str());
      return kExitUsage;
    }
    injectors_[spec.name] = std::move(inj);
  }
  auto probes = BuildPlanProbes(plan_);
  if (!probes.ok()) {
    fprintf(stderr, "faultbench: %s\n", probes.status().message().c_str());
    return kExitUsage;
  }
  for (auto& p : *probes) probes_.emplace_back(p.name, std::move(p.probe));
  // Metrics: bound before anything is touched, so a busy address is bad input.
  ClockAnchor anchor = ClockAnchor::Take();
  const std::string& listen = opt_.metrics_listen.empty() ? plan_.metrics_listen : opt_.metrics_listen;
  if (!listen.empty()) {
    auto m = MetricsExporter::Start(listen, SanitizeName(plan_.name) + "-" + FormatUtcCompact(anchor.utc_ns));
    if (!m.ok()) {
      fprintf(stderr, "faultbench: %s\n", m.status().message().c_str());
      return m.status().exit_code();
    }
    metrics_ = std::move(*m);
    metrics_->SetRunInfo(plan_.name, "start");
  }
  Status st;
  if (plan_.has_local_load()) {
    gen_ = std::make_unique<LoadGenerator>(plan_.workload);
    st = gen_->Prepare();
    if (!st.ok()) {
      fprintf(stderr, "faultbench: %s\n", st.message().c_str());
      return st.exit_code();
    }
  }
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) return kExitRunFailed;
  sink_ = std::make_unique<RunnerEventSink>(&journal_, wake_fd_, metrics_.get());
  watch_ = std::make_unique<LoadWatch>(wake_fd_);
  // Agents: every one reachable before anything is touched (a refused one is exit 2).
  if (!plan_.agents.empty()) {
    if (int c = ConnectAgents(); c != kExitOk) return c;
  }
  // Guard: revert what dead runs left behind, and say so, before anything starts.
  {
    std::ostringstream log;
    auto healed = HealLeftovers(log);
    if (!log.str().empty()) fprintf(opt_.out, "guard: leftovers of dead runs:\n%s", log.str().c_str());
    if (!healed.ok()) {
      fprintf(stderr, "faultbench: %s; see faultbench faults\n", healed.status().message().c_str());
      return kExitRunFailed;
    }
    if (*healed > 0) fprintf(opt_.out, "guard: reverted %d leftover fault(s) of dead runs\n", *healed);
  }
  st = journal_.Create(opt_.out_dir, plan_.name, anchor);
  if (!st.ok()) {
    fprintf(stderr, "faultbench: cannot create the run journal: %s\n", st.message().c_str());
    return kExitRunFailed;
  }
  st = guard_.Start(GuardRunId(journal_.dir().substr(journal_.dir().find_last_of('/') + 1)), opt_.guard_exe);
  if (!st.ok()) {
    fprintf(stderr, "faultbench: cannot start the guard: %s\n", st.message().c_str());
    (void)journal_.UpdateRunInfo({{"status", "failed"}, {"failure", st.message()}});
    journal_.Close();
    return kExitRunFailed;
  }
  *run_dir = journal_.dir();
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  (void)journal_.UpdateRunInfo({{"command", "run"},
                                {"name", plan_.name},
                                {"plan_file", plan_.file},
                                {"host", host},
                                {"faultbench_version", "0.1.0"}});
  (void)WriteFileAtomic(journal_.PathOf("plan.yaml"), WritePlan(plan_));

  JournalSink journal_sink(&journal_);
  bool tty = isatty(fileno(opt_.out));
  ConsoleView console(opt_.out, !opt_.quiet && (tty || opt_.live), tty);
  if (gen_) {
    gen_->AddSink(&journal_sink);
    gen_->AddSink(watch_.get());
    if (!opt_.quiet) gen_->AddSink(&console);
    if (metrics_) {
      gen_->AddSink(metrics_->load_sink());
      metrics_->Watch(gen_.get());
    }
  }
  if (fleet_) {
    for (const auto& a : plan_.agents) {
      agent_sink_->AddSeries(a.name, a.start_workload.value("jobs", 1));
    }
  }

  bool stop = false;
  for (auto& [name, probe] : probes_) {
    Status ps = probe->Start(sink_.get());
    if (!ps.ok()) {
      Note("probe_error", Severity::kError, name, ps.message(), {{"probe", name}});
      if (plan_.on_error == OnError::kStop) {
        failed_ = true;
        failure_ = ps.message();
        stop = true;
      }
    }
  }
  Status load_status;
  std::thread load;
  int start_code = kExitOk;
  if (!stop && !Aborted() && fleet_) {
    start_code = StartAgents();
    if (start_code != kExitOk) stop = true;
  }
  if (!stop && !Aborted()) {
    if (gen_) {
      gen_ptr_.store(gen_.get());
      load = std::thread([this, &load_status] { load_status = gen_->Run(); });
      while (!watch_->start_ns.load() && !watch_->finished.load()) WaitUntil(MonoNs() + 10 * kNsPerMs);
      load_start_ = watch_->start_ns.load();
    } else {
      // The load is the agents' only: it started when the last of them did.
      load_start_ = MonoNs();
      nlohmann::json info = {{"load",
                              {{"engine", "agents"},
                               {"duration_s", double(plan_.RunDurationNs()) / 1e9},
                               {"ramp_s", double(agent_ramp_ns_) / 1e9},
                               {"interval_s", double(agent_interval_ns_) / 1e9}}}};
      journal_.Stamp(load_start_, &info["load_start"]);
      (void)journal_.UpdateRunInfo(info);
      Note("load_started", Severity::kInfo, "runner",
           "load started on " + std::to_string(plan_.agents.size()) + " agent(s)",
           {{"agents", plan_.agents.size()}}, load_start_);
    }
    if (fleet_) {
      nlohmann::json skews = nlohmann::json::object(), agents = nlohmann::json::array();
      int64_t start_utc = journal_.anchor().ToUtc(load_start_);
      for (const auto& a : fleet_->agents()) {
        double skew_ms = double(a->started_utc_ns - start_utc) / 1e6;
        skews[a->spec->name] = skew_ms;
        const ClockOffset& c = a->client->clock();
        agents.push_back({{"name", a->spec->name},
                          {"host", a->spec->ssh.value("host", std::string())},
                          {"offset_ns", c.offset_ns},
                          {"uncertainty_ns", c.uncertainty_ns},
                          {"start_skew_ms", skew_ms},
                          {"agent_run_id", a->client->agent_run_id()},
                          {"agent_run_dir", a->client->agent_run_dir()}});
      }
      (void)journal_.UpdateRunInfo({{"agents", agents}});
      Note("agents_started", Severity::kInfo, "runner",
           std::to_string(plan_.agents.size()) + " agent(s) started on the run's timeline",
           {{"start_skew_ms", skews}}, load_start_);
      fleet_->RunAll(plan_.RunDurationNs() + opt_.agent_grace_ns);
      if (!opt_.quiet && (tty || opt_.live)) agent_console_ = std::thread([this] { AgentConsoleLoop(); });
    }
    if (!ExecuteSteps()) stop = true;
    // Let the load run to its end (leases still expire on time).
    while (!stop && !Aborted() && !LoadOver()) WaitUntil(INT64_MAX);
  }
  // Faults first, then the load: I/O held by a fault must be released before
  // the load is told to stop.
  RevertAll(Aborted() ? "abort" : failed_ ? "error" : "end of run");
  if (load.joinable()) {
    gen_->RequestStop();
    if (aborts_.load() >= 2) gen_->RequestStop();
    load.join();
  }
  gen_ptr_.store(nullptr);
  if (fleet_) {
    if (stop || Aborted()) fleet_->RequestStopAll();
    fleet_->JoinAll();  // bounded: the run's timeout, stop_timeout after a stop
    agent_console_stop_ = true;
    if (agent_console_.joinable()) agent_console_.join();
    FinishAgents();
  }
  RevertAll("end of run");
  // Guard: what is still active (a revert that failed) is retried by the guard.
  if (Status gs = guard_.Stop(); !gs.ok()) Note("guard_error", Severity::kError, "guard", gs.message(), {});
  for (auto& [name, probe] : probes_) probe->Stop();
  if (metrics_) {
    metrics_->Stop();
    metrics_->SetRunInfo(plan_.name, "end");
    if (!plan_.metrics_push.empty()) {
      if (Status ps = metrics_->Push(plan_.metrics_push); !ps.ok()) {
        Note("metrics_error", Severity::kWarning, "metrics", ps.message(), {{"push", plan_.metrics_push}});
      }
    }
  }
  if (!load_status.ok()) {
    failed_ = true;
    failure_ = load_status.message();
  }
  std::string status = Aborted() ? "aborted" : failed_ ? "failed" : "completed";
  nlohmann::json end = {{"status", status}, {"end_utc", FormatUtcIso(UtcNs())}};
  if (!failure_.empty()) end["failure"] = failure_;
  (void)journal_.UpdateRunInfo(end);

  int code = start_code != kExitOk ? start_code : status == "completed" ? kExitOk : kExitRunFailed;
  // The final evaluation and every report come from the journal alone (reports/).
  auto analysis = reports::AnalyzeRun(journal_.dir());
  if (!analysis.ok()) {
    fprintf(stderr, "faultbench: %s\n", analysis.status().message().c_str());
    code = kExitRunFailed;
  } else {
    const std::vector<reports::Verdict>& verdicts = analysis->verdicts;
    bool pass =
        std::all_of(verdicts.begin(), verdicts.end(), [](const reports::Verdict& v) { return v.pass; });
    if (code == kExitOk && (!pass || !agent_findings_.empty())) code = kExitExpectationFailed;
    nlohmann::json vj = nlohmann::json::array();
    for (const auto& v : verdicts) {
      vj.push_back({{"scope", v.scope},
                    {"check", v.check},
                    {"limit", v.limit},
                    {"measured", v.measured},
                    {"pass", v.pass}});
    }
    (void)journal_.UpdateRunInfo({{"expectations", vj},
                                  {"verdict", status != "completed" ? status
                                              : pass                ? "pass"
                                                                    : "fail"}});
    Status ws = reports::WriteReports(*analysis, journal_.dir(), *reports::ParseFormats("all"));
    if (!ws.ok()) fprintf(stderr, "faultbench: %s\n", ws.message().c_str());
    std::string summary = reports::FormatSummary(*analysis, isatty(fileno(opt_.out)));
    if (!agent_findings_.empty()) {
      // An agent that never came back is a finding of the run, not a crash.
      std::string f = "\nAgent findings:\n";
      for (const auto& line : agent_findings_) f += "  " + line + "\n";
      summary += f;
      std::ofstream(journal_.PathOf("summary.txt"), std::ios::app) << f;
    }
    fprintf(opt_.out, "\n%sjournal: %s\n", summary.c_str(), journal_.dir().c_str());
  }
  journal_.Close();
  close(wake_fd_);
  wake_fd_ = -1;
  return code;
}

}  // namespace fb
