// The event chain of a fault window: the journal's events in order with their
// offset from the injection, the stalls' beginnings and ends (from stalls.jsonl),
// the events that bracket each stall, and the probes that were blind.
#include <algorithm>
#include <cmath>
#include <cstdio>
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

// How well an event can explain a stall: 2 a platform event (a path, a
// session, HA, an array, an agent), 1 the injection or revert of a fault, 0
// never (phase markers, marks, steps, preflight, the load's own records, the
// probes' health and clock records, debug lines).
int ExplainWeight(const JournalEvent& e) {
  static const std::set<std::string> kNever = {
      "phase",          "mark",          "step",          "preflight",       "log",
      "probe_error",    "probe_overflow", "probe_recovered", "probe_restored", "probe_ok",
      "clock_offset",   "agent_clock",   "initial",       "load_started",    "load_finished",
      "ramp",           "drain",         "verify",        "agent_first_completion", "metrics_error",
      "guard",          "fault_check"};
  if (e.kind == "fault_injected" || e.kind == "fault_reverted") return 1;
  if (kNever.count(e.kind) || e.severity == "debug" || e.source == "runner" || e.source == "loadgen") return 0;
  return 2;
}

// Look-around of the explaining events: what began a stall may precede its
// start by a few seconds (a heartbeat timeout, a path checker's interval) and,
// stamped by another clock, follow it by a little; what ended it comes just
// before its end (the failover whose retry completed) or just after.
constexpr int64_t kCauseBeforeNs = 5'000'000'000, kCauseAfterNs = 250'000'000;
constexpr int64_t kEndBeforeNs = 1'000'000'000, kEndAfterNs = 1'000'000'000;

// A platform event counts as this much nearer than a fault's injection or
// revert: it says what happened, the injection only what was done.
constexpr int64_t kPlatformAdvantageNs = 1'000'000'000;

// The event in [from, to] nearest to `at`, platform events favoured.
std::optional<JournalEvent> Best(const RunJournal& j, int64_t at, int64_t from, int64_t to) {
  const JournalEvent* best = nullptr;
  int64_t best_score = 0;
  for (const auto& e : j.events) {
    if (e.t_utc_ns < from) continue;
    if (e.t_utc_ns > to) break;
    int w = ExplainWeight(e);
    if (w == 0) continue;
    int64_t score = std::llabs(e.t_utc_ns - at) - (w == 2 ? kPlatformAdvantageNs : 0);
    if (!best || score < best_score) {
      best = &e;
      best_score = score;
    }
  }
  return best ? std::optional<JournalEvent>(*best) : std::nullopt;
}

}  // namespace

std::string ExplainText(const std::optional<JournalEvent>& e, int64_t edge_ns, const char* edge, int64_t from_ns) {
  if (!e) return "none";
  char buf[96];
  double d = double(e->t_utc_ns - edge_ns) / 1e6;
  if (std::fabs(d) < 0.5) {
    snprintf(buf, sizeof buf, "at its %s", edge);
  } else {
    snprintf(buf, sizeof buf, "%.0f ms %s its %s", std::fabs(d), d < 0 ? "before" : "after", edge);
  }
  char at[32];
  snprintf(at, sizeof at, "%+.3f s", double(e->t_utc_ns - from_ns) / 1e9);
  return std::string(at) + " " + e->kind + (e->source.empty() ? "" : " (" + e->source + ")") + ", " + buf;
}

void ExplainStall(const RunJournal& j, StallView* v) {
  const Stall& s = v->stall;
  // Bracketing events: the last at or before the start, the first at or after the end.
  v->before.reset();
  v->after.reset();
  for (const auto& e : j.events) {
    if (!InChain(e)) continue;
    if (e.t_utc_ns <= s.start_utc_ns) v->before = e;
    if (e.t_utc_ns >= s.end_utc_ns && !s.open) {
      v->after = e;
      break;
    }
  }
  v->started_by = Best(j, s.start_utc_ns, s.start_utc_ns - kCauseBeforeNs, s.start_utc_ns + kCauseAfterNs);
  v->ended_by.reset();
  if (!s.open) {
    int64_t before = std::min(kEndBeforeNs, s.length_ns() / 2);
    v->ended_by = Best(j, s.end_utc_ns, s.end_utc_ns - before, s.end_utc_ns + kEndAfterNs);
  }
}

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
    ExplainStall(j, &sv);
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
