#include "reports/correlator.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace fb::reports {

namespace {

bool Overlaps(const Sample& s, int64_t a, int64_t b) { return s.end_utc_ns > a && s.start_utc_ns() < b; }
bool Inside(const Sample& s, int64_t a, int64_t b) { return s.start_utc_ns() >= a - 1'000'000 && s.end_utc_ns <= b; }

std::vector<PhaseWindow> Phases(const RunJournal& j) {
  std::vector<PhaseWindow> out;
  for (const auto& e : j.events) {
    if (e.kind != "phase") continue;
    if (!out.empty()) out.back().end_utc_ns = e.t_utc_ns;
    out.push_back({e.attrs.value("phase", e.message), e.t_utc_ns, j.load_end_utc_ns});
  }
  return out;
}

std::string InjectorOf(const JournalEvent& e) {
  auto it = e.attrs.find("injector");
  return it != e.attrs.end() && it->is_string() ? it->get<std::string>() : e.source;
}

std::vector<FaultWindow> FaultWindows(const RunJournal& j) {
  std::vector<FaultWindow> out;
  std::map<std::string, int> cycles;
  std::map<std::string, size_t> open;
  for (const auto& e : j.events) {
    if (e.kind == "fault_injected") {
      FaultWindow f;
      f.injector = InjectorOf(e);
      f.cycle = cycles[f.injector]++;
      f.inject_utc_ns = e.t_utc_ns;
      open[f.injector] = out.size();
      out.push_back(f);
    } else if (e.kind == "fault_reverted") {
      auto it = open.find(InjectorOf(e));
      if (it == open.end()) continue;
      out[it->second].revert_utc_ns = e.t_utc_ns;
      open.erase(it);
    }
  }
  return out;
}

const LimitSet* FaultLimits(const PlanView& p, const std::string& injector) {
  auto it = p.faults.find(injector);
  return it != p.faults.end() ? &it->second : nullptr;
}

std::optional<RecoveryLimit> RecoveryFor(const PlanView& p, const std::string& injector) {
  if (const LimitSet* l = FaultLimits(p, injector); l && l->recovery) return l->recovery;
  return p.overall.recovery;
}

Tolerance MakeTolerance(const Baseline& b, double to_fraction, int n) {
  Tolerance t;
  t.to_fraction = to_fraction;
  t.consecutive = n;
  t.iops_floor = b.total.iops.mean * to_fraction;
  const Stat& p99 = b.total.p99_us;
  t.p99_limit_us = p99.n ? std::max(p99.mean / std::max(to_fraction, 0.01), p99.mean + 3 * p99.stddev) : 0;
  return t;
}

bool WithinTolerance(const Sample& s, const Tolerance& t) {
  if (!s.ios()) return false;
  if (s.iops() < t.iops_floor) return false;
  auto p99 = s.P99Us();
  return !(t.p99_limit_us > 0 && p99 && *p99 > t.p99_limit_us) && !s.stall;
}

double Median(std::vector<double> v) { return StatOf(std::move(v)).median; }

// The p99 of `m` from merged histograms; `fallback` (today's figure from the
// per-interval percentiles) when the journal has none.
std::optional<double> MergedP99(const LatencyMerge& m, std::optional<double> fallback) {
  Latency l = m.Get(LatencyFallback::kWorst);
  return l.approximate || !l.p99_us ? fallback : l.p99_us;
}

// The baseline p99 a fault is compared with (Baseline::latency).
std::optional<double> BaselineP99(const Baseline& b) {
  if (!b.total.p99_us.n) return std::nullopt;
  return b.latency.p99_us ? *b.latency.p99_us : b.total.p99_us.median;
}

void AnalyzeFault(const RunJournal& j, const Baseline& base, int64_t next_inject, const AnalyzeOptions& opt,
                  FaultWindow* f) {
  const int64_t t0 = f->inject_utc_ns;
  const int64_t revert = f->revert_utc_ns.value_or(j.load_end_utc_ns);
  const double base_iops = base.total.iops.mean;
  // Stalls overlapping the fault window [inject, settle end].
  for (const auto& s : j.stalls) {
    if (s.end_utc_ns <= t0 || s.start_utc_ns >= f->settle_end_utc_ns) continue;
    StallView v;
    v.stall = s;
    v.start_offset_ms = double(s.start_utc_ns - t0) / 1e6;
    v.end_offset_ms = double(s.end_utc_ns - t0) / 1e6;
    f->stalls.push_back(v);
    double len = double(s.length_ns()) / 1e6;
    if (!f->longest_stall_ms || len > *f->longest_stall_ms) f->longest_stall_ms = len;
  }
  // The impact window: until the revert or the last stall that began before it.
  int64_t impact_end = revert;
  for (const auto& v : f->stalls) {
    if (v.stall.start_utc_ns < revert) impact_end = std::max(impact_end, v.stall.end_utc_ns);
  }
  impact_end = std::min(impact_end + j.interval_ns, std::max(f->settle_end_utc_ns, revert));

  std::optional<int64_t> impact;
  if (!f->stalls.empty()) impact = std::max(t0, f->stalls.front().stall.start_utc_ns);
  LatencyMerge impact_lat;
  for (const auto& s : j.samples) {
    if (s.drain || !Overlaps(s, t0, impact_end)) continue;
    // Without a stall, the first interval with errors or out of tolerance
    // dates the impact (to the interval: its start, clipped to the injection).
    if (f->stalls.empty() && !impact && s.end_utc_ns > t0 &&
        (s.errors || (base.total.iops.n && !WithinTolerance(s, f->tolerance)))) {
      impact = std::max(t0, s.start_utc_ns());
    }
    f->errors += s.errors;
    for (const auto* op : {&s.read, &s.write}) {
      for (const auto& [name, n] : op->errors_by_errno) f->errors_by_kind[(op == &s.read ? "read:" : "write:") + name] += n;
    }
    if (auto m = s.MaxUs()) f->max_latency_us = std::max(f->max_latency_us.value_or(0), *m);
    if (auto p = s.P99Us()) f->p99_us = std::max(f->p99_us.value_or(0), *p);
    impact_lat.Add(s);
  }
  f->p99_approximate = impact_lat.Get(LatencyFallback::kWorst).approximate;
  f->p99_us = MergedP99(impact_lat, f->p99_us);
  // A stall still open at its end has no latency sample for the held I/Os: its
  // length is a lower bound of their latency.
  for (const auto& v : f->stalls) {
    if (v.stall.open) f->max_latency_us = std::max(f->max_latency_us.value_or(0), double(v.stall.length_ns()) / 1e3);
  }
  if (impact) f->first_impact_ms = double(*impact - t0) / 1e6;
  if (base.total.p99_us.n) {
    f->baseline_p99_us = BaselineP99(base);
    f->baseline_max_us = base.total.max_us.max;
  }
  // The completion that ended the first pause: the earliest end among the
  // stalls in progress when the first one began (one per job).
  if (!f->stalls.empty()) {
    const Stall& first = f->stalls.front().stall;
    int64_t end = first.end_utc_ns;
    for (const auto& v : f->stalls) {
      if (v.stall.start_utc_ns <= first.start_utc_ns + j.interval_ns && !v.stall.open) end = std::min(end, v.stall.end_utc_ns);
    }
    if (!first.open || end != first.end_utc_ns) f->first_completion_ms = double(end - t0) / 1e6;
  }
  // Degraded steady state: intervals inside the fault, outside every stall.
  std::vector<double> d_iops, d_p99;
  LatencyMerge d_lat;
  for (const auto& s : j.samples) {
    if (!Inside(s, t0, revert) || s.stall || !s.ios()) continue;
    bool stalled = std::any_of(f->stalls.begin(), f->stalls.end(), [&](const StallView& v) {
      return v.stall.end_utc_ns > s.start_utc_ns() && v.stall.start_utc_ns < s.end_utc_ns;
    });
    if (stalled) continue;
    d_iops.push_back(s.iops());
    if (auto p = s.P99Us()) d_p99.push_back(*p);
    d_lat.Add(s);
  }
  if (!d_iops.empty()) {
    f->degraded_iops = StatOf(d_iops).mean;
    if (base_iops > 0) f->degraded_iops_pct = *f->degraded_iops / base_iops * 100;
  }
  if (!d_p99.empty()) f->degraded_p99_us = MergedP99(d_lat, Median(d_p99));

  // Recovery: N consecutive intervals within tolerance after the revert.
  if (!f->revert_utc_ns) {
    f->recovery_note = "never reverted";
  } else if (!base.total.iops.n || base_iops <= 0) {
    f->recovery_note = "no baseline";
  } else {
    int run = 0;
    int64_t first_good = 0;
    for (const auto& s : j.samples) {
      if (s.end_utc_ns <= revert || s.drain) continue;
      if (s.start_utc_ns() >= next_inject) break;
      if (WithinTolerance(s, f->tolerance)) {
        if (run++ == 0) first_good = s.end_utc_ns;
        if (run >= f->tolerance.consecutive) {
          f->recovered_ms = double(first_good - revert) / 1e6;
          break;
        }
      } else {
        run = 0;
      }
    }
    if (!f->recovered_ms) f->recovery_note = "not reached";
  }
  // Repair cost: from the revert to resync_done, else recovery, else the window's end.
  if (f->revert_utc_ns) {
    std::optional<int64_t> rs_start, rs_done;
    for (const auto& e : j.events) {
      if (e.t_utc_ns < revert || e.t_utc_ns >= next_inject) continue;
      if (e.kind == "resync_start" && !rs_start) rs_start = e.t_utc_ns;
      if (e.kind == "resync_done" && !rs_done) rs_done = e.t_utc_ns;
    }
    if (rs_start && rs_done && *rs_done >= *rs_start) f->resync_ms = double(*rs_done - *rs_start) / 1e6;
    int64_t repair_end = rs_done ? *rs_done
                         : f->recovered_ms ? revert + int64_t(*f->recovered_ms * 1e6)
                                           : f->settle_end_utc_ns;
    std::vector<double> r_iops, r_p99;
    LatencyMerge r_lat;
    for (const auto& s : j.samples) {
      if (s.drain || !Overlaps(s, revert, repair_end)) continue;
      r_iops.push_back(s.iops());
      if (auto p = s.P99Us()) r_p99.push_back(*p);
      r_lat.Add(s);
    }
    if (!r_iops.empty()) {
      f->repair_iops = StatOf(r_iops).mean;
      if (base_iops > 0) f->repair_iops_pct = *f->repair_iops / base_iops * 100;
    }
    if (!r_p99.empty()) f->repair_p99_us = MergedP99(r_lat, Median(r_p99));
  }
  if (base_iops > 0) {
    for (const auto& s : j.samples) {
      if (s.drain || !Overlaps(s, t0, f->settle_end_utc_ns)) continue;
      f->lost_ios += std::max(0.0, base_iops - s.iops()) * double(s.interval_ns) / 1e9;
    }
  }
  (void)opt;
}

// The whole run's and each phase's latency, and whether the journal lets them
// be exact (lat_hist present).
void RunLatency(const RunJournal& j, Analysis* a) {
  LatencyMerge read, write, both;
  for (const auto& s : j.samples) {
    for (const OpSample* op : {&s.read, &s.write}) a->latency_approximate |= op->ios && op->lat_hist.empty();
    if (s.ramp || s.drain) continue;
    read.Add(s.read);
    write.Add(s.write);
    both.Add(s);
  }
  a->read_latency = read.Get(LatencyFallback::kMedian);
  a->write_latency = write.Get(LatencyFallback::kMedian);
  a->latency = both.Get(LatencyFallback::kMedian);
  for (auto& p : a->phases) {
    LatencyMerge m;
    std::vector<double> iops;
    for (const auto& s : j.samples) {
      if (s.ramp || s.drain || !Inside(s, p.start_utc_ns, p.end_utc_ns)) continue;
      iops.push_back(s.iops());
      m.Add(s);
    }
    if (!iops.empty()) p.iops = StatOf(iops).mean;
    p.latency = m.Get(LatencyFallback::kMedian);
  }
}

void CycleStats(Analysis* a) {
  std::map<std::string, std::vector<const FaultWindow*>> by;
  for (const auto& f : a->faults) by[f.injector].push_back(&f);
  for (const auto& [inj, fs] : by) {
    if (fs.size() < 2) continue;
    auto add = [&](const char* metric, auto get) {
      std::vector<double> v;
      for (const FaultWindow* f : fs) {
        if (auto x = get(*f)) v.push_back(*x);
      }
      Stat s = StatOf(v);
      a->cycles.push_back({inj, metric, s.n, s.min, s.median, s.max});
    };
    add("longest_stall_ms", [](const FaultWindow& f) { return std::optional<double>(f.longest_stall_ms.value_or(0)); });
    add("first_impact_ms", [](const FaultWindow& f) { return f.first_impact_ms; });
    add("recovered_ms", [](const FaultWindow& f) { return f.recovered_ms; });
    add("max_latency_ms", [](const FaultWindow& f) {
      return f.max_latency_us ? std::optional<double>(*f.max_latency_us / 1e3) : std::nullopt;
    });
    add("errors", [](const FaultWindow& f) { return std::optional<double>(double(f.errors)); });
    add("lost_ios", [](const FaultWindow& f) { return std::optional<double>(f.lost_ios); });
  }
}

}  // namespace

int Analysis::ExitCode() const {
  if (verdict == "pass") return 0;
  if (verdict == "fail") return 1;
  return 3;
}

Analysis Correlate(RunJournal journal, PlanView plan, const AnalyzeOptions& opt) {
  Analysis a;
  a.journal = std::move(journal);
  a.plan = std::move(plan);
  // From here on a stall is an episode; the raw gaps stay in each one's pieces.
  a.raw_stalls = a.journal.stalls.size();
  a.journal.stalls = MergeStallEpisodes(a.journal, opt.episodes);
  a.episode_options = opt.episodes;
  const RunJournal& j = a.journal;
  a.warnings = j.warnings;
  a.run_name = !a.plan.name.empty() ? a.plan.name : j.run_info.value("name", std::string());
  if (a.run_name.empty()) a.run_name = j.run_info.value("run_id", std::string("run"));
  a.phases = Phases(j);
  RunLatency(j, &a);
  a.faults = FaultWindows(j);
  a.baseline = ComputeBaseline(j, a.phases, a.faults.empty() ? std::nullopt : std::optional(a.faults.front().inject_utc_ns));
  if (!a.baseline.total.iops.n) a.warnings.push_back("no baseline interval: recovery and impact against baseline are not measured");
  a.budgets = StallBudgets(a.plan.platform);
  for (size_t i = 0; i < a.faults.size(); ++i) {
    FaultWindow& f = a.faults[i];
    auto rec = RecoveryFor(a.plan, f.injector);
    f.tolerance = MakeTolerance(a.baseline, rec ? rec->to_fraction : 0.9, opt.consecutive_intervals);
    int64_t settle = rec && rec->within_ns > 0 ? rec->within_ns : opt.default_settle_ns;
    int64_t next = i + 1 < a.faults.size() ? a.faults[i + 1].inject_utc_ns : INT64_MAX;
    int64_t end = f.revert_utc_ns ? *f.revert_utc_ns + settle : j.load_end_utc_ns;
    f.settle_end_utc_ns = std::max(f.revert_utc_ns.value_or(f.inject_utc_ns), std::min({end, next, j.load_end_utc_ns}));
    AnalyzeFault(j, a.baseline, next, opt, &f);
    BuildChain(j, &f);  // and each stall's explaining events, which choose its budget
    for (auto& v : f.stalls) ApplyBudgets(a.budgets, &v);
  }
  for (const auto& s : j.stalls) {
    bool in_fault = std::any_of(a.faults.begin(), a.faults.end(), [&](const FaultWindow& f) {
      return s.end_utc_ns > f.inject_utc_ns && s.start_utc_ns < f.settle_end_utc_ns;
    });
    if (in_fault) continue;
    StallView v;
    v.stall = s;
    v.start_offset_ms = double(s.start_utc_ns - j.load_start_utc_ns) / 1e6;
    v.end_offset_ms = double(s.end_utc_ns - j.load_start_utc_ns) / 1e6;
    ExplainStall(j, &v);
    ApplyBudgets(a.budgets, &v);
    a.other_stalls.push_back(std::move(v));
  }
  ComputeOperations(j, &a.faults);
  CycleStats(&a);
  a.integrity = ComputeIntegrity(j, a.faults);
  a.agents = ComputeAgents(j, &a.agents_total);
  a.verdicts = EvaluateExpectations(a);
  bool pass = std::all_of(a.verdicts.begin(), a.verdicts.end(), [](const Verdict& v) { return v.pass; });
  a.verdict = j.status == "completed" || j.status.empty() ? (pass ? "pass" : "fail")
              : j.status == "running"                   ? "incomplete"
                                                        : j.status;
  if (j.status.empty()) a.warnings.push_back("run.json has no status: the run may have crashed");
  return a;
}

Result<Analysis> AnalyzeRun(const std::string& dir, const AnalyzeOptions& opt) {
  auto j = ReadRunJournal(dir);
  if (!j.ok()) return j.status();
  auto plan = ParsePlanView(j->plan_yaml, dir + "/plan.yaml");
  if (!plan.ok()) return plan.status();
  return Correlate(std::move(*j), std::move(*plan), opt);
}

}  // namespace fb::reports
