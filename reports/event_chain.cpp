// The event chain of a fault window: the journal's events in order with their
// offset from the injection, the stalls' beginnings and ends (from stalls.jsonl),
// the events that bracket each stall, and the probes that were blind.
#include <algorithm>
#include <set>

#include "reports/correlator.h"

namespace fb::reports {

namespace {

// The runner's step records repeat what fault_injected / mark / phase say.
bool InChain(const JournalEvent& e) { return e.kind != "step"; }

bool IsBlindness(const JournalEvent& e) {
  // A probe that failed (probe_error) or fell behind and dropped lines
  // (the log probe's probe_overflow, attrs.lines_dropped).
  static const std::set<std::string> kKinds = {"probe_error", "probe_overflow"};
  if (kKinds.count(e.kind)) return true;
  for (const char* k : {"lines_dropped"}) {
    auto it = e.attrs.find(k);
    if (it != e.attrs.end() && it->is_number() && it->get<double>() > 0) return true;
  }
  return false;
}

bool IsSight(const JournalEvent& e) {
  return e.kind == "probe_ok" || e.kind == "probe_restored" || e.kind == "probe_recovered";
}

double OffsetMs(int64_t t, int64_t from) { return double(t - from) / 1e6; }

}  // namespace

void BuildChain(const RunJournal& j, FaultWindow* f) {
  const int64_t t0 = f->inject_utc_ns, t1 = f->settle_end_utc_ns;
  f->chain.clear();
  for (const auto& e : j.events) {
    if (e.t_utc_ns < t0 || e.t_utc_ns > t1 || !InChain(e)) continue;
    f->chain.push_back(
        {e.t_utc_ns, OffsetMs(e.t_utc_ns, t0), e.source, e.kind, e.severity, e.message, false});
  }
  for (auto& sv : f->stalls) {
    const Stall& s = sv.stall;
    char msg[160];
    snprintf(msg, sizeof msg, "job %d: %llu I/Os in flight", s.job, (unsigned long long)s.inflight);
    f->chain.push_back(
        {s.start_utc_ns, OffsetMs(s.start_utc_ns, t0), "loadgen", "stall_begins", "warning", msg, true});
    snprintf(msg, sizeof msg, "job %d: stall of %.3f ms%s", s.job, double(s.length_ns()) / 1e6,
             s.open ? " (still open when the load ended)" : "");
    f->chain.push_back({s.end_utc_ns, OffsetMs(s.end_utc_ns, t0), "loadgen",
                        s.open ? "stall_open" : "stall_ends", s.open ? "error" : "info", msg, true});
    // Bracketing events: the last at or before the start, the first at or after the end.
    sv.before.reset();
    sv.after.reset();
    for (const auto& e : j.events) {
      if (!InChain(e)) continue;
      if (e.t_utc_ns <= s.start_utc_ns) sv.before = e;
      if (e.t_utc_ns >= s.end_utc_ns && !s.open) {
        sv.after = e;
        break;
      }
    }
  }
  std::stable_sort(f->chain.begin(), f->chain.end(),
                   [](const ChainEntry& a, const ChainEntry& b) { return a.t_utc_ns < b.t_utc_ns; });

  // Blind probes: blindness reported inside the window, or before it and not
  // cleared (probe_ok / probe_restored) before the injection.
  std::map<std::string, std::string> blind;  // source -> why
  for (const auto& e : j.events) {
    if (e.t_utc_ns > t1) break;
    if (e.source.empty() || e.source == "runner" || e.source == "loadgen") continue;
    if (IsBlindness(e)) {
      if (e.t_utc_ns >= t0 || !blind.count(e.source)) {
        blind[e.source] = e.kind + " at " + (e.t_utc_ns >= t0 ? "+" : "") +
                          std::to_string(int64_t(OffsetMs(e.t_utc_ns, t0))) + " ms: " + e.message;
      }
    } else if (IsSight(e) && e.t_utc_ns < t0) {
      blind.erase(e.source);
    }
  }
  f->blind_probes.clear();
  for (const auto& [src, why] : blind) f->blind_probes.push_back(src + " (" + why + ")");
}

}  // namespace fb::reports
