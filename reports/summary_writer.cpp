// summary.txt: the verdict first, then the baseline, each fault (impact, stalls
// with their bracketing events, recovery) and the expectations. Short lines,
// columns aligned; ANSI colour only when the caller says the output is a tty.
#include <cstdio>

#include "core/units.h"
#include "reports/correlator.h"
#include "reports/report.h"

namespace fb::reports {

namespace {

std::string Fmt(const char* f, auto... args) {
  char buf[512];
  snprintf(buf, sizeof buf, f, args...);
  return buf;
}

std::string MsText(const std::optional<double>& ms) {
  return ms ? FormatDuration(int64_t(*ms * 1e6)) : std::string("-");
}

std::string Off(double ms) { return Fmt("%+.3fs", ms / 1e3); }

std::string UsText(const std::optional<double>& us) { return us ? Fmt("%.3f", *us / 1e3) : std::string("-"); }

// "p50 / p99 / max 0.400 / 1.800 / 28.000 ms", marked when approximate (no lat_hist).
std::string LatText(const Latency& l) {
  if (!l.ios) return "no I/O";
  return UsText(l.p50_us) + " / " + UsText(l.p99_us) + " / " + UsText(l.max_us) + " ms" +
         (l.approximate ? " (approx.)" : "");
}

// One stall's line: when (offsets from `from_ns`), how long, which job, and
// the events that explain it (or that none does), and its budget.
std::string StallLine(const StallView& v, int64_t from_ns, const char* red, const char* off) {
  std::string why = !v.started_by && !v.ended_by
                        ? std::string(kUnexplained)
                        : "started by " + ExplainText(v.started_by, v.stall.start_utc_ns, "start", from_ns) +
                              "; ended by " + ExplainText(v.ended_by, v.stall.end_utc_ns, "end", from_ns);
  std::string pieces = v.stall.pieces.empty()
                           ? ""
                           : Fmt(" (one episode of %zu gaps, %llu completions between them)", v.stall.pieces.size(),
                                 (unsigned long long)v.stall.trickle_completions);
  return Fmt("  %sstall%s %s .. %s  %9.3f ms%s  %sjob %d, %llu in flight; %s%s%s\n", v.over_budget ? red : "", off,
             Off(v.start_offset_ms).c_str(), Off(v.end_offset_ms).c_str(), double(v.stall.length_ns()) / 1e6,
             pieces.c_str(), v.stall.agent.empty() ? "" : (v.stall.agent + " ").c_str(), v.stall.job,
             (unsigned long long)v.stall.inflight, why.c_str(), v.budget_note.empty() ? "" : "; ",
             v.budget_note.c_str());
}

std::string AgentsText(const Analysis& a) {
  if (a.agents.empty()) return "";
  const int64_t t0 = a.journal.load_start_utc_ns;
  std::string s = "\nAgents (latency p50 / p99 / max from merged histograms):\n";
  s += Fmt("  %-12s %-10s %-34s %5s %10s  %-30s %-30s %6s %6s\n", "agent", "host", "clock offset", "clock",
           "IOPS", "read", "write", "stalls", "errors");
  auto row = [&](const AgentView& v) {
    std::string clock = v.offset_ns ? Fmt("%+.3f ms +/-%.3f (max %.3f)", double(*v.offset_ns) / 1e6,
                                          double(v.uncertainty_ns.value_or(0)) / 1e6,
                                          double(v.max_uncertainty_ns.value_or(0)) / 1e6)
                                    : std::string(v.name == "total" ? "" : "-");
    s += Fmt("  %-12s %-10s %-34s %5s %10.0f  %-30s %-30s %6zu %6llu\n", v.name.c_str(),
             v.host.empty() ? "-" : v.host.c_str(), clock.c_str(),
             v.name == "total" ? "" : std::to_string(v.clock_measurements).c_str(), v.iops,
             LatText(v.read).c_str(), LatText(v.write).c_str(), v.stalls, (unsigned long long)v.errors);
  };
  for (const auto& v : a.agents) row(v);
  row(a.agents_total);
  for (const auto& v : a.agents) {
    for (const auto& d : v.downtimes) {
      auto at = [&](const std::optional<int64_t>& t) {
        return t ? Fmt("+%.3fs", double(*t - t0) / 1e9) : std::string("?");
      };
      s += Fmt("  %s down: lost %s (%s); last completion %s, first after %s: %s%s\n", v.name.c_str(),
               Fmt("+%.3fs", double(d.lost_utc_ns - t0) / 1e9).c_str(),
               d.why.empty() ? "no reason" : d.why.c_str(), at(d.last_completion_utc_ns).c_str(),
               at(d.first_completion_utc_ns).c_str(),
               d.downtime_ms ? Fmt("%.3f ms", *d.downtime_ms).c_str() : "not back",
               d.ended_by == "agent_back" ? " (agent_back: no first completion seen)" : "");
      for (const auto& e : d.nearby) {
        s += Fmt("      %+10.3fs  %-16s %-12s %s\n", double(e.t_utc_ns - t0) / 1e9, e.kind.c_str(),
                 e.source.c_str(), e.message.c_str());
      }
    }
  }
  return s;
}


}  // namespace

std::string MasterChangeText(const OperationView& op) {
  std::string s;
  if (op.master_ready_ms)
    s = "the new master " + (op.new_master.empty() ? std::string("?") : op.new_master) + " answered " +
        FormatDuration(int64_t(*op.master_ready_ms * 1e6)) + " after the task";
  else if (!op.new_master.empty())
    s = "new master " + op.new_master;
  s += s.empty() ? "" : "; ";
  if (!op.xapi_unavailable_ms)
    s += "no xapi probe watched the pool";
  else if (*op.xapi_unavailable_ms <= 0)
    s += "the xapi probe was never blind";
  else
    s += "the xapi probe was blind " + FormatDuration(int64_t(*op.xapi_unavailable_ms * 1e6));
  bool paused = false;
  for (const auto& [load, ms] : op.pause_ms) paused = paused || ms > 0;
  return s + (paused ? "" : "; no load paused");
}

std::string OperationText(const OperationView& op) {
  std::string s;
  for (const auto& t : op.tasks) {
    s += Fmt("  %-22s %s %s: %s%s\n", ("task (" + t.step + ")").c_str(), t.method.c_str(), t.about.c_str(),
             t.status.empty() ? "never ended" : t.status.c_str(),
             t.duration_ms ? (" in " + FormatDuration(int64_t(*t.duration_ms * 1e6))).c_str() : "");
    if (!t.error.empty()) s += Fmt("  %-22s %s\n", "", t.error.c_str());
  }
  std::string pauses;
  for (const auto& [load, ms] : op.pause_ms)
    pauses += (pauses.empty() ? "" : ", ") + load + " " + (ms > 0 ? FormatDuration(int64_t(ms * 1e6)) : "none");
  if (!pauses.empty()) s += Fmt("  %-22s %s\n", "pause", pauses.c_str());
  for (const auto& m : op.moved) s += Fmt("  %-22s %s\n", "moved", m.c_str());
  if (!op.host_vms.empty()) {
    s += Fmt("  %-22s %zu of %zu VMs of %s%s\n", "moved off", op.host_vms.size() - op.not_moved.size(),
             op.host_vms.size(), op.host.c_str(), op.saw_moves ? "" : " (no xapi probe: moves not seen)");
  }
  if (op.action == "designate_master") s += Fmt("  %-22s %s\n", "XAPI unavailable", MasterChangeText(op).c_str());
  return s;
}

std::string ReadBackText(const Integrity& in) {
  if (in.final_pass_complete) return ", read-back after the run complete";
  if (in.read_back_missing.empty()) return ", no read-back after the run";
  std::string who;
  for (const auto& m : in.read_back_missing) who += (who.empty() ? "" : ", ") + m;
  return ", read-back after the run not done for " + who;
}

std::string FormatSummary(const Analysis& a, bool color) {
  const char* red = color ? "\033[31m" : "";
  const char* green = color ? "\033[32m" : "";
  const char* bold = color ? "\033[1m" : "";
  const char* off = color ? "\033[0m" : "";
  const RunJournal& j = a.journal;
  std::string s;
  bool good = a.verdict == "pass";
  s += Fmt("%sVerdict: %s%s%s  (%s, %s, %zu expectation(s))\n", bold, good ? green : red,
           a.verdict == "pass"   ? "PASS"
           : a.verdict == "fail" ? "FAIL"
                                 : ("RUN " + a.verdict).c_str(),
           off, a.run_name.c_str(), j.status.empty() ? "no status" : j.status.c_str(), a.verdicts.size());
  s += Fmt("Load:     %.3fs, %zu intervals of %s, %zu stall(s)\n",
           double(j.load_end_utc_ns - j.load_start_utc_ns) / 1e9, j.samples.size(),
           FormatDuration(j.interval_ns).c_str(), j.stalls.size());
  const Baseline& b = a.baseline;
  s += Fmt("Baseline: %s, %d intervals: %.0f IOPS (sd %.0f), p99 %.3f ms%s (sd %.3f), max %.3f ms\n",
           b.source.c_str(), b.total.iops.n, b.total.iops.mean, b.total.iops.stddev,
           b.latency.p99_us.value_or(0) / 1e3, b.latency.approximate ? " (approx.)" : "",
           b.total.p99_us.stddev / 1e3, b.total.max_us.max / 1e3);
  s += Fmt("Latency:  whole run, p50 / p99 / max: read %s, write %s\n", LatText(a.read_latency).c_str(),
           LatText(a.write_latency).c_str());
  if (a.latency_approximate) {
    s += "  approx.: samples.jsonl has no lat_hist (a run from before latency histograms were stored): "
         "percentiles\n"
         "  over several intervals are the median (fault windows: the worst) of the per-interval ones\n";
  }
  for (const auto& p : a.phases) {
    s +=
        Fmt("  phase %-16s %8.0f IOPS, %s\n", p.name.c_str(), p.iops.value_or(0), LatText(p.latency).c_str());
  }
  for (const auto& f : a.faults) {
    s += Fmt("\nFault %s#%d: injected %s, %s\n", f.injector.c_str(), f.cycle + 1,
             Fmt("+%.3fs", double(f.inject_utc_ns - j.load_start_utc_ns) / 1e9).c_str(),
             f.revert_utc_ns
                 ? ("reverted after " + MsText(double(*f.revert_utc_ns - f.inject_utc_ns) / 1e6)).c_str()
                 : "never reverted");
    s += Fmt("  %-22s %s\n", "first impact", MsText(f.first_impact_ms).c_str());
    s += Fmt("  %-22s %s\n", "first completion",
             f.first_completion_ms ? MsText(f.first_completion_ms).c_str() : "no pause");
    s += Fmt("  %-22s %zu, longest %s\n", "stalls", f.stalls.size(), MsText(f.longest_stall_ms).c_str());
    s += Fmt("  %-22s %s (baseline p99 %s)\n", "latency max / p99",
             (MsText(f.max_latency_us ? std::optional(*f.max_latency_us / 1e3) : std::nullopt) + " / " +
              MsText(f.p99_us ? std::optional(*f.p99_us / 1e3) : std::nullopt))
                 .c_str(),
             (MsText(f.baseline_p99_us ? std::optional(*f.baseline_p99_us / 1e3) : std::nullopt) +
              (f.p99_approximate ? ", p99 approx." : ""))
                 .c_str());
    std::string errs = std::to_string(f.errors);
    for (const auto& [k, n] : f.errors_by_kind) errs += " " + k + "=" + std::to_string(n);
    s += Fmt("  %-22s %s\n", "errors", errs.c_str());
    if (f.degraded_iops_pct)
      s +=
          Fmt("  %-22s %.0f IOPS (%.0f%% of baseline)\n", "degraded", *f.degraded_iops, *f.degraded_iops_pct);
    s += Fmt("  %-22s %s\n", "recovered after revert",
             f.recovered_ms ? MsText(f.recovered_ms).c_str() : f.recovery_note.c_str());
    if (f.repair_iops_pct) {
      s += Fmt("  %-22s %.0f%% of baseline IOPS%s\n", "repair", *f.repair_iops_pct,
               f.resync_ms ? (", resync " + MsText(f.resync_ms)).c_str() : "");
    }
    for (const auto& v : f.stalls) s += StallLine(v, f.inject_utc_ns, red, off);
    if (f.operation) s += OperationText(*f.operation);
    if (!f.chain.empty()) s += "  chain:\n";
    for (const auto& c : f.chain) {
      s += Fmt("    %10s  %-16s %-12s %s\n", Off(c.offset_ms).c_str(), c.kind.c_str(), c.source.c_str(),
               c.message.c_str());
    }
    for (const auto& p : f.blind_probes) s += Fmt("  %sblind probe%s %s\n", red, off, p.c_str());
  }
  if (!a.other_stalls.empty()) {
    s += Fmt("\nStalls outside the faults (%zu, from the load's start):\n", a.other_stalls.size());
    for (const auto& v : a.other_stalls) s += StallLine(v, j.load_start_utc_ns, red, off);
  }
  s += AgentsText(a);
  const Integrity& in = a.integrity;
  if (!in.verified) {
    s += "\nIntegrity: not checked (the load ran without verify)\n";
  } else {
    s += Fmt("\nIntegrity: %s%llu finding(s)%s; %llu blocks written, %llu verified%s\n",
             in.total() ? red : green, (unsigned long long)in.total(), off,
             (unsigned long long)in.blocks_written, (unsigned long long)in.verified_blocks,
             ReadBackText(in).c_str());
    if (!in.total() && !in.windows.empty()) {
      std::string names;
      for (const auto& w : in.windows) names += (names.empty() ? "" : ", ") + w.name;
      s += "  no finding in any window (" + names + ")\n";
    }
    if (in.total()) {
      s += Fmt("  lost %llu, misdirected %llu, corrupt %llu, phantom %llu\n", (unsigned long long)in.lost,
               (unsigned long long)in.misdirected, (unsigned long long)in.corrupt,
               (unsigned long long)in.phantom);
    }
    for (const auto& w : in.windows) {
      if (!w.total()) continue;  // only the windows that hold some
      s += Fmt("  %-36s %llu%s\n", ("acknowledged " + w.name).c_str(), (unsigned long long)w.total(),
               w.total() ? Fmt(" (lost %llu, misdirected %llu, corrupt %llu, phantom %llu)",
                               (unsigned long long)w.lost, (unsigned long long)w.misdirected,
                               (unsigned long long)w.corrupt, (unsigned long long)w.phantom)
                               .c_str()
                         : "");
    }
    for (size_t i = 0; i < in.findings.size() && i < 5; ++i) {
      const IntegrityFinding& f = in.findings[i];
      s += Fmt("  %s%-18s%s %s%s\n", red, f.kind.c_str(), off, f.message.c_str(),
               f.placed_by_ack ? "" : " (no ack time: placed where found)");
    }
    if (in.findings.size() > 5) s += Fmt("  ... and %zu more in events.jsonl\n", in.findings.size() - 5);
    if (in.acks_dropped)
      s += Fmt("  %s%llu acknowledgement(s) not written to the ack log%s\n", red,
               (unsigned long long)in.acks_dropped, off);
  }
  if (!a.cycles.empty()) {
    s += "\nCycles (min / median / max):\n";
    for (const auto& c : a.cycles) {
      s += Fmt("  %-14s %-18s %10.3f %10.3f %10.3f  (n=%d)\n", c.injector.c_str(), c.metric.c_str(), c.min,
               c.median, c.max, c.n);
    }
  }
  if (!a.verdicts.empty()) {
    s += "\nExpectations:\n";
    for (const auto& v : a.verdicts) {
      s += Fmt("  %s%s%s  %-16s %-12s %s: %s\n", v.pass ? green : red, v.pass ? "PASS" : "FAIL", off,
               v.scope.c_str(), v.check.c_str(), v.limit.c_str(), v.measured.c_str());
    }
  }
  if (j.run_info.contains("preflight") && j.run_info["preflight"].is_object()) {
    const nlohmann::json& p = j.run_info["preflight"];
    if (p.value("skipped", false))
      s += "Preflight: SKIPPED (--skip-preflight): the platform was not checked before the run\n";
    else
      s += Fmt("Preflight: %d pass, %d warn, %d fail, %d unchecked\n", p.value("pass", 0), p.value("warn", 0),
               p.value("fail", 0), p.value("unchecked", 0));
  }
  if (j.run_info.contains("failure") && j.run_info["failure"].is_string()) {
    s += "Failure: " + j.run_info["failure"].get<std::string>() + "\n";
  }
  for (const auto& w : a.warnings) s += "warning: " + w + "\n";
  return s;
}

}  // namespace fb::reports
