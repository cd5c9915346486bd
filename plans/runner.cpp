#include "plans/runner.h"

#include "plans/runner_impl.h"

namespace fb {

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
    for (const auto& [name, probe] : probes_) metrics_->DeclareProbeEvents(name, probe->EventKinds());
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
  if (!opt_.preflight.is_null()) {
    (void)journal_.UpdateRunInfo({{"preflight", opt_.preflight}});
    bool skipped = opt_.preflight.value("skipped", false);
    std::string msg = skipped ? "preflight skipped (--skip-preflight): the platform was not checked"
                              : "preflight: " + std::to_string(opt_.preflight.value("pass", 0)) + " pass, " +
                                    std::to_string(opt_.preflight.value("warn", 0)) + " warn, " +
                                    std::to_string(opt_.preflight.value("fail", 0)) + " fail, " +
                                    std::to_string(opt_.preflight.value("unchecked", 0)) + " unchecked";
    Note("preflight", skipped ? Severity::kWarning : Severity::kInfo, "runner", msg,
         {{"skipped", skipped}, {"fail", opt_.preflight.value("fail", 0)}});
  }

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
    // The agents have prepared their loads (held starts): every load, the
    // local one too, starts its clock at one time far enough ahead for each
    // agent's `go` to arrive.
    const int64_t go_mono = fleet_ ? MonoNs() + fleet_->GoMarginNs() : 0;
    if (gen_) {
      if (go_mono) gen_->SetStartAt(go_mono);
      gen_ptr_.store(gen_.get());
      load = std::thread([this, &load_status] { load_status = gen_->Run(); });
    }
    if (fleet_) {
      start_code = GoAgents(go_mono);
      if (start_code != kExitOk) stop = true;
    }
    if (gen_) {
      while (!watch_->start_ns.load() && !watch_->finished.load()) WaitUntil(MonoNs() + 10 * kNsPerMs);
      load_start_ = watch_->start_ns.load();
    } else {
      // The load is the agents' only: its clock started at the go.
      load_start_ = go_mono;
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
    if (fleet_ && !stop) {
      nlohmann::json skews = nlohmann::json::object(), agents = nlohmann::json::array();
      int64_t start_utc = journal_.anchor().ToUtc(load_start_);
      std::vector<double> all;
      for (const auto& a : fleet_->agents()) {
        double skew_ms = double(a->started_utc_ns - start_utc) / 1e6;
        skews[a->spec->name] = skew_ms;
        all.push_back(skew_ms);
        const AgentClockOffset& c = a->client->clock();
        agents.push_back({{"name", a->spec->name},
                          {"host", a->spec->ssh.value("host", std::string())},
                          {"offset_ns", c.offset_ns},
                          {"uncertainty_ns", c.uncertainty_ns},
                          {"start_skew_ms", skew_ms},
                          {"agent_run_id", a->client->agent_run_id()},
                          {"agent_run_dir", a->client->agent_run_dir()}});
      }
      (void)journal_.UpdateRunInfo({{"agents", agents}});
      auto [lo, hi] = std::minmax_element(all.begin(), all.end());
      const double spread_ms = all.empty() ? 0 : *hi - *lo;
      char spread[64];
      snprintf(spread, sizeof spread, " (start skew %.1f ms)", spread_ms);
      Note("agents_started", Severity::kInfo, "runner",
           std::to_string(plan_.agents.size()) + " agent(s) started on the run's timeline" + spread,
           {{"start_skew_ms", skews}, {"spread_ms", spread_ms}}, load_start_);
      fleet_->RunAll(plan_.RunDurationNs() + opt_.agent_grace_ns);
      if (!opt_.quiet && (tty || opt_.live)) agent_console_ = std::thread([this] { AgentConsoleLoop(); });
    }
    if (!stop && !ExecuteSteps()) stop = true;
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
