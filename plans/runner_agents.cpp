// The agent fleet of a run: connect, start, the console's per-agent lines,
// finish (Runner::Impl, plans/runner_impl.h).
#include "plans/runner_impl.h"

namespace fb {

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

int Runner::Impl::GoAgents(int64_t go_mono_ns) {
  Status st = fleet_->GoAll(journal_.anchor().ToUtc(go_mono_ns));
  if (st.ok()) return kExitOk;
  failed_ = true;
  failure_ = st.message();
  fprintf(stderr, "faultbench: %s\n", st.message().c_str());
  return kExitRunFailed;
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
    // Its load's summary (I/Os, verify counts): the report's integrity section
    // adds them to the controller's own.
    if (c.finished().is_object() && c.finished().contains("summary") && c.finished()["summary"].is_object())
      r["load_summary"] = c.finished()["summary"];
    std::string why;
    if (!a->result.ok())
      why = a->result.message();
    else if (status != "completed" && !((Aborted() || ended_by_step_) && status == "interrupted"))
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

}  // namespace fb
