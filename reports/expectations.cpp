// The plan's expectations evaluated from the analysis, per fault (each cycle)
// and overall, each with the measured value beside the limit. The final
// evaluator of a run (the runner calls it through AnalyzeRun).
#include <algorithm>
#include <cstdio>

#include "core/units.h"
#include "reports/correlator.h"

namespace fb::reports {

namespace {

std::string Ms(double ms) { return FormatDuration(int64_t(ms * 1e6)); }

struct Measured {
  std::optional<double> longest_stall_ms;
  bool stall_open = false;
  std::optional<double> max_latency_ms;
  uint64_t errors = 0;
  uint64_t lost = 0;  // verify findings
};

// Verify findings (loadgen/verify.h) placed at the time their lost write had
// been acknowledged (when known), else when they were found.
uint64_t IntegrityFindings(const Analysis& a, int64_t start, int64_t end) {
  uint64_t n = 0;
  for (const auto& e : a.journal.events) {
    if (e.kind != "lost_write" && e.kind != "misdirected_write" && e.kind != "corrupt_block" && e.kind != "phantom_write") {
      continue;
    }
    int64_t t = e.attrs.contains("acked_utc_ns") && e.attrs["acked_utc_ns"].is_number() ? e.attrs["acked_utc_ns"].get<int64_t>()
                                                                                         : e.t_utc_ns;
    if (t >= start && t < end) ++n;
  }
  return n;
}

Measured Over(const Analysis& a, int64_t start, int64_t end) {
  Measured m;
  for (const auto& s : a.journal.stalls) {
    if (s.end_utc_ns <= start || s.start_utc_ns >= end) continue;
    double len = double(s.length_ns()) / 1e6;
    if (!m.longest_stall_ms || len > *m.longest_stall_ms) {
      m.longest_stall_ms = len;
      m.stall_open = s.open;
    }
    if (s.open) m.max_latency_ms = std::max(m.max_latency_ms.value_or(0), len);
  }
  for (const auto& s : a.journal.samples) {
    if (s.end_utc_ns <= start || s.start_utc_ns() >= end) continue;
    m.errors += s.errors;
    if (auto x = s.MaxUs()) m.max_latency_ms = std::max(m.max_latency_ms.value_or(0), *x / 1e3);
  }
  return m;
}

void Check(const LimitSet& l, const std::string& scope, const Measured& m, const FaultWindow* f,
           std::vector<Verdict>* out) {
  if (l.max_stall_ns) {
    double limit = double(*l.max_stall_ns) / 1e6, v = m.longest_stall_ms.value_or(0);
    out->push_back({scope, "max_stall", "<= " + Ms(limit),
                    m.longest_stall_ms ? Ms(v) + (m.stall_open ? " (still open at the end)" : "") : "no stall", limit, v,
                    v <= limit && !m.stall_open});
  }
  if (l.max_latency_ns) {
    double limit = double(*l.max_latency_ns) / 1e6;
    out->push_back({scope, "max_latency", "<= " + Ms(limit),
                    m.max_latency_ms ? Ms(*m.max_latency_ms) : "no I/O completed", limit, m.max_latency_ms,
                    m.max_latency_ms && *m.max_latency_ms <= limit});
  }
  if (l.io_errors) {
    out->push_back({scope, "io_errors", "<= " + std::to_string(*l.io_errors), std::to_string(m.errors),
                    double(*l.io_errors), double(m.errors), m.errors <= *l.io_errors});
  }
  if (l.lost_writes) {
    out->push_back({scope, "lost_writes", "<= " + std::to_string(*l.lost_writes), std::to_string(m.lost),
                    double(*l.lost_writes), double(m.lost), m.lost <= *l.lost_writes});
  }
  if (l.max_pause_ns && f) {
    double limit = double(*l.max_pause_ns) / 1e6;
    if (!f->operation) {
      out->push_back({scope, "max_pause", "<= " + Ms(limit), "no platform operation in this fault", limit,
                      std::nullopt, false});
    } else {
      double worst = 0;
      std::string who;
      for (const auto& [load, ms] : f->operation->pause_ms) {
        if (ms >= worst) {
          worst = ms;
          who = load;
        }
      }
      std::string measured = worst > 0 ? Ms(worst) + " (" + who + ")" : "no pause as long as the stall threshold";
      out->push_back({scope, "max_pause", "<= " + Ms(limit), measured, limit, worst, worst <= limit});
    }
  }
  if (l.all_vms_moved && *l.all_vms_moved && f) {
    const OperationView* op = f->operation ? &*f->operation : nullptr;
    std::string measured;
    bool pass = false;
    if (!op || op->host_vms.empty()) {
      measured = op ? "the host's VMs are unknown (no xapi_host_vms: host_evacuate and host_reboot say them)"
                    : "no platform operation in this fault";
    } else if (!op->saw_moves) {
      measured = "not seen: no xapi probe reported vm_moved";
    } else if (!op->not_moved.empty()) {
      for (const auto& vm : op->not_moved) measured += (measured.empty() ? "" : ", ") + vm;
      measured = "still on " + op->host + ": " + measured;
    } else {
      measured = std::to_string(op->host_vms.size()) + " of " + std::to_string(op->host_vms.size()) + " moved off " +
                 op->host;
      pass = true;
    }
    out->push_back({scope, "all_vms_moved", "every VM off the host", measured, std::nullopt, std::nullopt, pass});
  }
  if (l.recovery && f) {
    char limit[128];
    snprintf(limit, sizeof limit, "%.0f%% of baseline IOPS (%.0f), p99 <= %s, for %d intervals, within %s",
             l.recovery->to_fraction * 100, f->tolerance.iops_floor / std::max(l.recovery->to_fraction, 0.01),
             Ms(f->tolerance.p99_limit_us / 1e3).c_str(), f->tolerance.consecutive,
             FormatDuration(l.recovery->within_ns).c_str());
    double within = double(l.recovery->within_ns) / 1e6;
    std::string measured = f->recovered_ms ? Ms(*f->recovered_ms) + " after the revert" : f->recovery_note;
    out->push_back({scope, "recovery", limit, measured, within, f->recovered_ms,
                    f->recovered_ms && *f->recovered_ms <= within});
  }
}

}  // namespace

std::vector<Verdict> EvaluateExpectations(const Analysis& a) {
  std::vector<Verdict> out;
  const PlanView& p = a.plan;
  const RunJournal& j = a.journal;
  LimitSet run = p.overall;
  run.recovery.reset();  // recovery is per fault
  Measured whole = Over(a, j.load_start_utc_ns, j.load_end_utc_ns + 1);
  whole.lost = IntegrityFindings(a, INT64_MIN, INT64_MAX);
  Check(run, "run", whole, nullptr, &out);
  for (const auto& f : a.faults) {
    LimitSet l;
    if (auto it = p.faults.find(f.injector); it != p.faults.end()) l = it->second;
    if (!l.recovery) l.recovery = p.overall.recovery;
    if (l.empty()) continue;
    std::string scope = "fault " + f.injector + "#" + std::to_string(f.cycle + 1);
    // Stalls count over the fault (inject .. revert); latency and errors over
    // the impact (held I/Os complete after the revert), as the correlator.
    Measured m;
    int64_t revert = f.revert_utc_ns.value_or(j.load_end_utc_ns);
    Measured in_fault = Over(a, f.inject_utc_ns, revert);
    m.longest_stall_ms = in_fault.longest_stall_ms;
    m.stall_open = in_fault.stall_open;
    m.max_latency_ms = f.max_latency_us ? std::optional<double>(*f.max_latency_us / 1e3) : std::nullopt;
    m.errors = f.errors;
    m.lost = IntegrityFindings(a, f.inject_utc_ns, revert);
    Check(l, scope, m, &f, &out);
  }
  for (const auto& [name, l] : p.phases) {
    bool seen = false;
    for (const auto& w : a.phases) {
      if (w.name != name) continue;
      seen = true;
      Check(l, "phase " + name, Over(a, w.start_utc_ns, w.end_utc_ns), nullptr, &out);
    }
    if (!seen) out.push_back({"phase " + name, "reached", "the phase runs", "never began", std::nullopt, std::nullopt, false});
  }
  for (const auto& [name, l] : p.faults) {
    bool seen = std::any_of(a.faults.begin(), a.faults.end(), [&](const FaultWindow& f) { return f.injector == name; });
    if (!seen) {
      out.push_back({"fault " + name, "injected", "the fault is injected", "never injected", std::nullopt, std::nullopt, false});
    }
  }
  return out;
}

}  // namespace fb::reports
