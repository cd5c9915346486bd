// report.json: everything the analysis holds, in the shape report.schema.json
// documents. Times: *_utc_ns (UTC ns), *_rel_s (seconds from load start),
// *_ms offsets from the fault's injection unless named otherwise.
#include <cmath>

#include "core/clock.h"
#include "reports/report.h"

namespace fb::reports {

namespace {

using Json = nlohmann::json;

double R3(double v) { return std::round(v * 1e3) / 1e3; }
Json Opt(const std::optional<double>& v, double scale = 1) { return v ? Json(R3(*v * scale)) : Json(nullptr); }

Json StatJson(const Stat& s) {
  return {{"n", s.n}, {"mean", R3(s.mean)}, {"stddev", R3(s.stddev)}, {"min", R3(s.min)},
          {"median", R3(s.median)}, {"max", R3(s.max)}};
}

Json OpJson(const OpBaseline& b) {
  return {{"iops", StatJson(b.iops)}, {"lat_p50_us", StatJson(b.p50_us)}, {"lat_p99_us", StatJson(b.p99_us)},
          {"lat_max_us", StatJson(b.max_us)}};
}

// An event with its time from load start (`t0`).
Json EventJsonAt(const JournalEvent& e, int64_t t0) {
  return {{"t_utc_ns", e.t_utc_ns},
          {"rel_s", R3(double(e.t_utc_ns - t0) / 1e9)},
          {"source", e.source},
          {"kind", e.kind},
          {"message", e.message}};
}

// Percentiles over many intervals (latency.h), in ms.
Json LatJson(const Latency& l) {
  return {{"ios", l.ios},
          {"p50_ms", Opt(l.p50_us, 1e-3)},
          {"p99_ms", Opt(l.p99_us, 1e-3)},
          {"max_ms", Opt(l.max_us, 1e-3)},
          {"approximate", l.approximate}};
}

Json OptNs(const std::optional<int64_t>& v) { return v ? Json(*v) : Json(nullptr); }

Json AgentJson(const AgentView& v, int64_t t0) {
  Json downtimes = Json::array();
  for (const auto& d : v.downtimes) {
    Json nearby = Json::array();
    for (const auto& e : d.nearby) nearby.push_back(EventJsonAt(e, t0));
    downtimes.push_back({{"lost_utc_ns", d.lost_utc_ns},
                         {"why", d.why},
                         {"last_completion_utc_ns", OptNs(d.last_completion_utc_ns)},
                         {"first_completion_utc_ns", OptNs(d.first_completion_utc_ns)},
                         {"back_utc_ns", OptNs(d.back_utc_ns)},
                         {"downtime_ms", Opt(d.downtime_ms)},
                         {"ended_by", d.ended_by.empty() ? Json(nullptr) : Json(d.ended_by)},
                         {"events", nearby}});
  }
  return {
      {"name", v.name},
      {"host", v.host.empty() ? Json(nullptr) : Json(v.host)},
      {"clock_offset_ms", v.offset_ns ? Json(R3(double(*v.offset_ns) / 1e6)) : Json(nullptr)},
      {"clock_uncertainty_ms", v.uncertainty_ns ? Json(R3(double(*v.uncertainty_ns) / 1e6)) : Json(nullptr)},
      {"clock_max_uncertainty_ms",
       v.max_uncertainty_ns ? Json(R3(double(*v.max_uncertainty_ns) / 1e6)) : Json(nullptr)},
      {"clock_measurements", v.clock_measurements},
      {"intervals", v.intervals},
      {"iops", R3(v.iops)},
      {"read", LatJson(v.read)},
      {"write", LatJson(v.write)},
      {"stalls", v.stalls},
      {"longest_stall_ms", R3(v.longest_stall_ms)},
      {"errors", v.errors},
      {"downtimes", downtimes}};
}

Json EventJson(const JournalEvent& e, int64_t from) {
  return {{"t_utc_ns", e.t_utc_ns}, {"offset_ms", R3(double(e.t_utc_ns - from) / 1e6)}, {"source", e.source},
          {"kind", e.kind}, {"message", e.message}};
}

Json OperationJson(const OperationView& op, int64_t t0) {
  Json tasks = Json::array();
  for (const auto& t : op.tasks) {
    tasks.push_back({{"step", t.step},
                     {"method", t.method},
                     {"about", t.about},
                     {"status", t.status.empty() ? Json(nullptr) : Json(t.status)},
                     {"error", t.error.empty() ? Json(nullptr) : Json(t.error)},
                     {"start_offset_ms", R3(double(t.start_utc_ns - t0) / 1e6)},
                     {"duration_ms", t.duration_ms ? Json(R3(*t.duration_ms)) : Json(nullptr)}});
  }
  Json pauses = Json::object();
  for (const auto& [load, ms] : op.pause_ms) pauses[load] = R3(ms);
  return {{"action", op.action}, {"tasks", tasks},     {"pause_ms", pauses},           {"host", op.host},
          {"host_vms", op.host_vms}, {"moved", op.moved}, {"not_moved", op.not_moved}, {"saw_moves", op.saw_moves},
          {"new_master", op.new_master},
          {"xapi_unavailable_ms", op.xapi_unavailable_ms ? Json(R3(*op.xapi_unavailable_ms)) : Json(nullptr)},
          {"master_ready_ms", op.master_ready_ms ? Json(R3(*op.master_ready_ms)) : Json(nullptr)}};
}

Json Pieces(const Stall& s) {
  Json out = Json::array();
  for (const auto& [a, b] : s.pieces) {
    out.push_back({{"start_utc_ns", a}, {"end_utc_ns", b}, {"length_ms", R3(double(b - a) / 1e6)}});
  }
  return out;
}

// One stall's row; event offsets from `from_ns` (the fault's injection, or the
// load's start for a stall outside every fault).
Json StallJson(const StallView& v, int64_t from_ns) {
  return {{"agent", v.stall.agent.empty() ? Json(nullptr) : Json(v.stall.agent)},
          {"job", v.stall.job},
          {"start_utc_ns", v.stall.start_utc_ns},
          {"end_utc_ns", v.stall.end_utc_ns},
          {"start_offset_ms", R3(v.start_offset_ms)},
          {"end_offset_ms", R3(v.end_offset_ms)},
          {"length_ms", R3(double(v.stall.length_ns()) / 1e6)},
          {"open", v.stall.open},
          {"inflight", v.stall.inflight},
          {"oldest_age_ms", R3(v.stall.oldest_age_ms)},
          {"event_before", v.before ? EventJson(*v.before, from_ns) : Json(nullptr)},
          {"event_after", v.after ? EventJson(*v.after, from_ns) : Json(nullptr)},
          {"started_by", v.started_by ? EventJson(*v.started_by, from_ns) : Json(nullptr)},
          {"ended_by", v.ended_by ? EventJson(*v.ended_by, from_ns) : Json(nullptr)},
          {"pieces", Pieces(v.stall)},
          {"trickle_completions", v.stall.trickle_completions},
          {"budget", v.explained_by.empty() ? Json(nullptr) : Json(v.explained_by)},
          {"over_budget", v.over_budget},
          {"budget_note", v.budget_note}};
}

}  // namespace

Json ReportToJson(const Analysis& a) {
  const RunJournal& j = a.journal;
  auto rel = [&](int64_t t) { return R3(double(t - j.load_start_utc_ns) / 1e9 * 1e3) / 1e3; };
  Json r;
  r["schema_version"] = kReportSchemaVersion;
  r["run"] = {{"name", a.run_name},
              {"run_id", j.run_info.value("run_id", "")},
              {"dir", j.dir},
              {"status", j.status},
              {"host", j.run_info.value("host", "")},
              {"load_start_utc_ns", j.load_start_utc_ns},
              {"load_start", FormatUtcIso(j.load_start_utc_ns, 3)},
              {"load_duration_s", R3(double(j.load_end_utc_ns - j.load_start_utc_ns) / 1e9)},
              {"interval_s", R3(double(j.interval_ns) / 1e9)},
              {"has_plan", a.plan.present}};
  r["verdict"] = a.verdict;
  r["warnings"] = a.warnings;
  const Baseline& b = a.baseline;
  r["baseline"] = {{"source", b.source},
                   {"start_rel_s", rel(b.start_utc_ns)},
                   {"end_rel_s", rel(b.end_utc_ns)},
                   {"intervals", b.total.iops.n},
                   {"stalled_intervals", b.stalled_intervals},
                   {"read", OpJson(b.read)},
                   {"write", OpJson(b.write)},
                   {"total", OpJson(b.total)},
                   {"latency",
                    {{"read", LatJson(b.read_latency)},
                     {"write", LatJson(b.write_latency)},
                     {"total", LatJson(b.latency)}}}};
  r["latency"] = {{"read", LatJson(a.read_latency)},
                  {"write", LatJson(a.write_latency)},
                  {"total", LatJson(a.latency)},
                  {"from_histograms", !a.latency_approximate}};
  Json budgets = Json::array();
  for (const auto& bu : a.budgets) {
    budgets.push_back({{"name", bu.name}, {"family", bu.family}, {"settings", bu.settings},
                       {"allows_ms", bu.allows_ns < 0 ? Json(nullptr) : Json(R3(double(bu.allows_ns) / 1e6))}});
  }
  r["budgets"] = budgets;
  Json phases = Json::array();
  for (const auto& p : a.phases) {
    phases.push_back({{"name", p.name},
                      {"start_rel_s", rel(p.start_utc_ns)},
                      {"end_rel_s", rel(p.end_utc_ns)},
                      {"iops", Opt(p.iops)},
                      {"latency", LatJson(p.latency)}});
  }
  r["phases"] = phases;
  Json faults = Json::array();
  for (const auto& f : a.faults) {
    Json stalls = Json::array();
    for (const auto& v : f.stalls) stalls.push_back(StallJson(v, f.inject_utc_ns));
    Json chain = Json::array();
    for (const auto& c : f.chain) {
      chain.push_back({{"t_utc_ns", c.t_utc_ns}, {"offset_ms", R3(c.offset_ms)}, {"source", c.source}, {"kind", c.kind},
                       {"severity", c.severity}, {"message", c.message}, {"derived", c.derived}});
    }
    Json errors = Json::object();
    for (const auto& [k, n] : f.errors_by_kind) errors[k] = n;
    faults.push_back({
        {"injector", f.injector},
        {"cycle", f.cycle + 1},
        {"inject_utc_ns", f.inject_utc_ns},
        {"inject_rel_s", rel(f.inject_utc_ns)},
        {"revert_rel_s", f.revert_utc_ns ? Json(rel(*f.revert_utc_ns)) : Json(nullptr)},
        {"settle_end_rel_s", rel(f.settle_end_utc_ns)},
        {"duration_ms",
         f.revert_utc_ns ? Json(R3(double(*f.revert_utc_ns - f.inject_utc_ns) / 1e6)) : Json(nullptr)},
        {"first_impact_ms", Opt(f.first_impact_ms)},
        {"first_completion_ms", Opt(f.first_completion_ms)},
        {"longest_stall_ms", Opt(f.longest_stall_ms)},
        {"stalls", stalls},
        {"errors", f.errors},
        {"errors_by_kind", errors},
        {"max_latency_ms", Opt(f.max_latency_us, 1e-3)},
        {"p99_ms", Opt(f.p99_us, 1e-3)},
        {"p99_approximate", f.p99_approximate},
        {"baseline_p99_ms", Opt(f.baseline_p99_us, 1e-3)},
        {"baseline_max_ms", Opt(f.baseline_max_us, 1e-3)},
        {"tolerance",
         {{"to_fraction", f.tolerance.to_fraction},
          {"consecutive_intervals", f.tolerance.consecutive},
          {"iops_floor", R3(f.tolerance.iops_floor)},
          {"p99_limit_ms", R3(f.tolerance.p99_limit_us / 1e3)}}},
        {"recovered_ms", Opt(f.recovered_ms)},
        {"recovery_note", f.recovery_note},
        {"degraded",
         {{"iops", Opt(f.degraded_iops)},
          {"iops_pct_of_baseline", Opt(f.degraded_iops_pct)},
          {"p99_ms", Opt(f.degraded_p99_us, 1e-3)}}},
        {"repair",
         {{"iops", Opt(f.repair_iops)},
          {"iops_pct_of_baseline", Opt(f.repair_iops_pct)},
          {"p99_ms", Opt(f.repair_p99_us, 1e-3)},
          {"resync_ms", Opt(f.resync_ms)}}},
        {"lost_ios", R3(f.lost_ios)},
        {"chain", chain},
        {"blind_probes", f.blind_probes},
        {"operation", f.operation ? OperationJson(*f.operation, f.inject_utc_ns) : Json(nullptr)},
    });
  }
  r["faults"] = faults;
  Json cycles = Json::array();
  for (const auto& c : a.cycles) {
    cycles.push_back({{"injector", c.injector}, {"metric", c.metric}, {"n", c.n}, {"min", R3(c.min)},
                      {"median", R3(c.median)}, {"max", R3(c.max)}});
  }
  r["cycles"] = cycles;
  const Integrity& in = a.integrity;
  Json windows = Json::array();
  for (const auto& w : in.windows) {
    windows.push_back({{"name", w.name}, {"start_utc_ns", w.start_utc_ns}, {"end_utc_ns", w.end_utc_ns},
                       {"lost", w.lost}, {"misdirected", w.misdirected}, {"corrupt", w.corrupt},
                       {"phantom", w.phantom}});
  }
  Json findings = Json::array();
  for (const auto& f : in.findings) {
    findings.push_back({{"kind", f.kind}, {"window", f.window}, {"message", f.message}, {"found_utc_ns", f.found_utc_ns},
                        {"acked_utc_ns", f.acked_utc_ns ? Json(*f.acked_utc_ns) : Json(nullptr)},
                        {"placed_by", f.placed_by_ack ? "acknowledged" : "found"}, {"final_pass", f.final_pass}});
  }
  r["integrity"] = {{"verified", in.verified},
                    {"blocks_written", in.blocks_written},
                    {"verified_blocks", in.verified_blocks},
                    {"final_pass_complete", in.final_pass_complete},
                    {"read_back_missing", in.read_back_missing},
                    {"lost", in.lost},
                    {"misdirected", in.misdirected},
                    {"corrupt", in.corrupt},
                    {"phantom", in.phantom},
                    {"acks_dropped", in.acks_dropped},
                    {"windows", windows},
                    {"findings", findings}};
  Json others = Json::array();
  for (const auto& v : a.other_stalls) others.push_back(StallJson(v, j.load_start_utc_ns));
  r["other_stalls"] = others;
  Json verdicts = Json::array();
  for (const auto& v : a.verdicts) {
    verdicts.push_back({{"scope", v.scope}, {"check", v.check}, {"limit", v.limit}, {"measured", v.measured},
                        {"limit_value", Opt(v.limit_value)}, {"measured_value", Opt(v.measured_value)}, {"pass", v.pass}});
  }
  r["expectations"] = verdicts;
  if (!a.agents.empty()) {
    Json agents = Json::array();
    for (const auto& v : a.agents) agents.push_back(AgentJson(v, j.load_start_utc_ns));
    r["agents"] = {{"agents", agents}, {"total", AgentJson(a.agents_total, j.load_start_utc_ns)}};
  }
  int64_t longest = 0;
  for (const auto& s : j.stalls) longest = std::max(longest, s.length_ns());
  r["totals"] = {{"stalls", j.stalls.size()}, {"raw_stalls", a.raw_stalls}, {"longest_stall_ms", R3(double(longest) / 1e6)},
                 {"events", j.events.size()}, {"intervals", j.samples.size()}};
  return r;
}

}  // namespace fb::reports
