// report.html: one self-contained page (no external fetch): the verdict at the
// top, two zoomable charts (IOPS; latency p99 and max) drawn by dygraphs with
// fault windows shaded, stalls marked and events as labelled markers, then the
// tables. The page's data is a JSON block read by html/chart.js. When the
// charts are drawn, <body> gets data-chart-ready="1", data-series (series
// drawn) and data-shaded (fault windows shaded); page errors set data-errors.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <string_view>

#include "core/clock.h"
#include "core/units.h"
#include "reports/correlator.h"
#include "reports/report.h"

namespace fb::reports {

// Generated at build time (embed_assets.cmake).
std::string_view DygraphJs();
std::string_view DygraphCss();
std::string_view ChartJs();
std::string_view ReportCss();

namespace {

using Json = nlohmann::json;

std::string H(const std::string& s) { return EscapeXml(s); }

std::string Fmt(const char* f, auto... args) {
  char buf[512];
  snprintf(buf, sizeof buf, f, args...);
  return buf;
}

std::string Ms(const std::optional<double>& ms) { return ms ? Fmt("%.3f ms", *ms) : "–"; }
std::string UsAsMs(const std::optional<double>& us) { return us ? Fmt("%.3f ms", *us / 1e3) : "–"; }

// JSON inside <script>: "</" must not close the element.
std::string ScriptSafe(const std::string& json) {
  std::string o;
  for (size_t i = 0; i < json.size(); ++i) {
    if (json[i] == '<') o += "\\u003c";
    else o += json[i];
  }
  return o;
}

double Rel(const RunJournal& j, int64_t t) { return std::round(double(t - j.load_start_utc_ns) / 1e6) / 1e3; }

// Markers for what a reader looks for; the fault tables hold every event.
bool OnTimeline(const JournalEvent& e) {
  return e.kind != "step" && e.kind != "load_started" && e.kind != "load_finished" && e.kind != "log" &&
         e.severity != "debug";
}

Json ChartData(const Analysis& a) {
  const RunJournal& j = a.journal;
  Json t = Json::array(), iops = Json::array(), p50 = Json::array(), p99 = Json::array(), mx = Json::array();
  for (const auto& s : j.samples) {
    if (s.drain) continue;  // the short last interval's rate says nothing
    t.push_back(Rel(j, s.end_utc_ns));
    iops.push_back(std::round(s.iops()));
    auto p = s.P99Us();
    auto m = s.MaxUs();
    std::optional<double> median;
    for (const OpSample* op : {&s.read, &s.write}) {
      if (op->p50_us) median = std::max(median.value_or(0), *op->p50_us);
    }
    p50.push_back(median && *median > 0 ? Json(std::round(*median) / 1e3) : Json(nullptr));
    p99.push_back(p && *p > 0 ? Json(std::round(*p) / 1e3) : Json(nullptr));
    mx.push_back(m && *m > 0 ? Json(std::round(*m) / 1e3) : Json(nullptr));
  }
  Json faults = Json::array();
  for (const auto& f : a.faults) {
    faults.push_back({{"name", f.injector + "#" + std::to_string(f.cycle + 1)},
                      {"start", Rel(j, f.inject_utc_ns)},
                      {"end", Rel(j, f.revert_utc_ns.value_or(j.load_end_utc_ns))},
                      {"settle_end", Rel(j, f.settle_end_utc_ns)}});
  }
  Json stalls = Json::array();
  for (const auto& s : j.stalls) {
    stalls.push_back({{"start", Rel(j, s.start_utc_ns)}, {"end", Rel(j, s.end_utc_ns)},
                      {"length_ms", std::round(double(s.length_ns()) / 1e3) / 1e3}, {"job", s.job}, {"open", s.open}});
  }
  Json events = Json::array();
  for (const auto& e : j.events) {
    if (!OnTimeline(e)) continue;
    events.push_back({{"t", Rel(j, e.t_utc_ns)}, {"kind", e.kind}, {"source", e.source}, {"message", e.message}});
  }
  return {{"t", t}, {"iops", iops}, {"p50_ms", p50}, {"p99_ms", p99}, {"max_ms", mx}, {"faults", faults}, {"stalls", stalls},
          {"events", events}, {"end", Rel(j, j.load_end_utc_ns)}, {"baseline_iops", a.baseline.total.iops.mean}};
}

std::string Row(std::initializer_list<std::string> cells, bool header = false) {
  std::string r = "<tr>";
  for (const auto& c : cells) r += header ? "<th>" + c + "</th>" : "<td>" + c + "</td>";
  return r + "</tr>\n";
}

// Every marker event of the timeline, as a table the chart's zoom filters.
std::string EventList(const Analysis& a) {
  const RunJournal& j = a.journal;
  std::string rows;
  size_t n = 0;
  for (const auto& e : j.events) {
    if (!OnTimeline(e)) continue;
    ++n;
    rows += Fmt("<tr data-t=\"%.3f\"><td>%+.3f s</td>", Rel(j, e.t_utc_ns), Rel(j, e.t_utc_ns)) + "<td>" + H(e.source) +
            "</td><td>" + H(e.kind) + "</td><td>" + H(e.message) + "</td></tr>\n";
  }
  return "<details class=\"events\"" + std::string(n <= 60 ? " open" : "") + "><summary>Events (" + std::to_string(n) +
         ")</summary><p id=\"event-list-note\" class=\"hint\"></p><table id=\"event-list\"><thead>" +
         "<tr><th>time</th><th>source</th><th>kind</th><th>message</th></tr></thead><tbody>\n" + rows +
         "</tbody></table></details>\n";
}

std::string LatCell(const Latency& l) {
  if (!l.ios) return "–";
  return UsAsMs(l.p50_us) + " / " + UsAsMs(l.p99_us) + " / " + UsAsMs(l.max_us) +
         (l.approximate ? " (approx.)" : "");
}

std::string AgentsSection(const Analysis& a) {
  if (a.agents.empty()) return "";
  const int64_t t0 = a.journal.load_start_utc_ns;
  std::string s =
      "<h2>Agents</h2><p class=\"hint\">Latency p50 / p99 / max from each agent's merged histograms; "
      "total: every agent's merged, IOPS summed.</p><table class=\"agents\">\n" +
      Row({"agent", "host", "clock offset ± uncertainty", "clock measurements", "IOPS", "read", "write",
           "stalls", "I/O errors"},
          true);
  auto row = [&](const AgentView& v, bool total) {
    std::string clock =
        v.offset_ns
            ? Fmt("%+.3f ms ± %.3f ms (largest ± %.3f ms)", double(*v.offset_ns) / 1e6,
                  double(v.uncertainty_ns.value_or(0)) / 1e6, double(v.max_uncertainty_ns.value_or(0)) / 1e6)
            : "–";
    return std::string(total      ? "<tr class=\"total\">"
                       : v.errors ? "<tr class=\"bad\">"
                                  : "<tr>") +
           "<td>" + H(v.name) + "</td><td>" + H(v.host.empty() ? "–" : v.host) + "</td><td>" +
           (total ? "" : clock) + "</td><td>" + (total ? "" : std::to_string(v.clock_measurements)) +
           "</td><td>" + Fmt("%.0f", v.iops) + "</td><td>" + LatCell(v.read) + "</td><td>" +
           LatCell(v.write) + "</td><td>" + std::to_string(v.stalls) + "</td><td>" +
           std::to_string(v.errors) + "</td></tr>\n";
  };
  for (const auto& v : a.agents) s += row(v, false);
  s += row(a.agents_total, true) + "</table>\n";
  std::string down;
  auto at = [&](const std::optional<int64_t>& t) {
    return t ? Fmt("+%.3f s", double(*t - t0) / 1e9) : std::string("?");
  };
  for (const auto& v : a.agents) {
    for (const auto& d : v.downtimes) {
      std::string ev;
      for (const auto& e : d.nearby) {
        ev += (ev.empty() ? "" : "<br>") + Fmt("+%.3f s ", double(e.t_utc_ns - t0) / 1e9) +
              H(e.kind + " (" + e.source + ")");
      }
      down += Row({H(v.name), Fmt("+%.3f s", double(d.lost_utc_ns - t0) / 1e9) + " " + H(d.why),
                   at(d.last_completion_utc_ns),
                   at(d.first_completion_utc_ns) + (d.ended_by == "agent_back" ? " (agent_back)" : ""),
                   d.downtime_ms ? Ms(d.downtime_ms) : "not back", ev.empty() ? "none" : ev});
    }
  }
  if (!down.empty()) {
    s += "<h3>Agent downtimes</h3><table class=\"downtimes\">\n" +
         Row({"agent", "lost", "last completion", "first completion", "downtime", "events around it"}, true) +
         down + "</table>\n";
  }
  return s;
}

std::string IntegritySection(const Integrity& in) {
  if (!in.verified) return "<h2>Integrity</h2><p>Not checked: the load ran without verify.</p>\n";
  std::string s = "<h2>Integrity</h2><p" + std::string(in.total() ? " class=\"bad\"" : "") + ">" +
                  Fmt("%llu finding(s): lost %llu, misdirected %llu, corrupt %llu, phantom %llu. ",
                      (unsigned long long)in.total(), (unsigned long long)in.lost, (unsigned long long)in.misdirected,
                      (unsigned long long)in.corrupt, (unsigned long long)in.phantom) +
                  Fmt("%llu blocks written, %llu verified", (unsigned long long)in.blocks_written,
                      (unsigned long long)in.verified_blocks) +
                  H(ReadBackText(in)) + ".</p>\n";
  if (!in.total()) {
    std::string names;
    for (const auto& w : in.windows) names += (names.empty() ? "" : ", ") + w.name;
    return s + "<p>No finding in any window (" + H(names) + ").</p>\n";
  }
  s += "<table>\n" + Row({"acknowledged", "lost", "misdirected", "corrupt", "phantom"}, true);
  for (const auto& w : in.windows) {
    s += std::string(w.total() ? "<tr class=\"bad\">" : "<tr>") + "<td>" + H(w.name) + "</td><td>" + std::to_string(w.lost) +
         "</td><td>" + std::to_string(w.misdirected) + "</td><td>" + std::to_string(w.corrupt) + "</td><td>" +
         std::to_string(w.phantom) + "</td></tr>\n";
  }
  s += "</table>\n";
  if (!in.findings.empty()) {
    s += "<table>\n" + Row({"kind", "acknowledged in", "finding"}, true);
    for (size_t i = 0; i < in.findings.size() && i < 100; ++i) {
      const IntegrityFinding& f = in.findings[i];
      s += Row({H(f.kind), H(f.window) + (f.placed_by_ack ? "" : " (placed where found)"), H(f.message)});
    }
    s += "</table>\n";
    if (in.findings.size() > 100) s += Fmt("<p>... and %zu more in events.jsonl</p>\n", in.findings.size() - 100);
  }
  return s;
}

// A table of stalls, offsets and event offsets from `from_ns`.
std::string StallTable(const std::vector<StallView>& stalls, int64_t from_ns) {
  std::string s = "<table>\n" +
                  Row({"start", "end", "length", "job", "in flight", "oldest", "started by", "ended by", "budget"}, true);
  for (const auto& v : stalls) {
    std::string started = H(ExplainText(v.started_by, v.stall.start_utc_ns, "start", from_ns));
    std::string ended = H(ExplainText(v.ended_by, v.stall.end_utc_ns, "end", from_ns));
    std::string cause = !v.started_by && !v.ended_by
                            ? "<td colspan=\"2\" class=\"hint\">" + std::string(kUnexplained) + "</td>"
                            : "<td>" + started + "</td><td>" + ended + "</td>";
    std::string length = Fmt("%.3f ms", double(v.stall.length_ns()) / 1e6);
    if (!v.stall.pieces.empty()) {
      std::string gaps;
      for (const auto& [a, b] : v.stall.pieces) gaps += (gaps.empty() ? "" : ", ") + Fmt("%.3f", double(b - a) / 1e6);
      length += Fmt("<br><span class=\"hint\" title=\"the raw gaps in stalls.jsonl, ms: %s\">one episode of %zu gaps, "
                    "%llu completions between them</span>",
                    gaps.c_str(), v.stall.pieces.size(), (unsigned long long)v.stall.trickle_completions);
    }
    std::string who = (v.stall.agent.empty() ? "" : H(v.stall.agent) + " ") + std::to_string(v.stall.job);
    s += std::string(v.over_budget ? "<tr class=\"bad\">" : "<tr>") + "<td>" + Fmt("%+.3f s", v.start_offset_ms / 1e3) +
         "</td><td>" + Fmt("%+.3f s", v.end_offset_ms / 1e3) + (v.stall.open ? " (open)" : "") + "</td><td>" +
         length + "</td><td>" + who + "</td><td>" + std::to_string(v.stall.inflight) + "</td><td>" +
         Fmt("%.3f ms", v.stall.oldest_age_ms) + "</td>" + cause + "<td>" + H(v.budget_note) + "</td></tr>\n";
  }
  return s + "</table>\n";
}

std::string FaultSection(const Analysis& a, const FaultWindow& f) {
  const RunJournal& j = a.journal;
  std::string s = "<section class=\"fault\"><h2>Fault " + H(f.injector) + " #" + std::to_string(f.cycle + 1) + "</h2>\n";
  s += "<table class=\"kv\">\n";
  s += Row({"injected", Fmt("+%.3f s", Rel(j, f.inject_utc_ns))});
  s += Row({"reverted", f.revert_utc_ns ? Fmt("+%.3f s (after %.3f s)", Rel(j, *f.revert_utc_ns),
                                               double(*f.revert_utc_ns - f.inject_utc_ns) / 1e9)
                                        : "never"});
  s += Row({"first impact", Ms(f.first_impact_ms)});
  s += Row({"first completion after the fault", f.first_completion_ms ? Ms(f.first_completion_ms) : "no pause"});
  s += Row({"stalls / longest", std::to_string(f.stalls.size()) + " / " + Ms(f.longest_stall_ms)});
  s += Row({"latency max / p99 (baseline p99)",
            UsAsMs(f.max_latency_us) + " / " + UsAsMs(f.p99_us) + " (" + UsAsMs(f.baseline_p99_us) + ")"});
  std::string errs = std::to_string(f.errors);
  for (const auto& [k, n] : f.errors_by_kind) errs += " · " + H(k) + " " + std::to_string(n);
  s += Row({"I/O errors", errs});
  s += Row({"degraded steady state", f.degraded_iops ? Fmt("%.0f IOPS (%.0f%% of baseline), p99 %s", *f.degraded_iops,
                                                           f.degraded_iops_pct.value_or(0), UsAsMs(f.degraded_p99_us).c_str())
                                                     : "–"});
  s += Row({"recovered after the revert", f.recovered_ms ? Ms(f.recovered_ms) : H(f.recovery_note)});
  s += Row({"repair (resync) cost", f.repair_iops ? Fmt("%.0f IOPS (%.0f%% of baseline), p99 %s%s", *f.repair_iops,
                                                        f.repair_iops_pct.value_or(0), UsAsMs(f.repair_p99_us).c_str(),
                                                        f.resync_ms ? (", resync " + Ms(f.resync_ms)).c_str() : "")
                                                  : "–"});
  s += Row({"I/Os lost against baseline", Fmt("%.0f", f.lost_ios)});
  if (!f.blind_probes.empty()) {
    std::string b;
    for (const auto& p : f.blind_probes) b += (b.empty() ? "" : "<br>") + H(p);
    s += "<tr class=\"bad\"><td>blind probes</td><td>" + b + "</td></tr>\n";
  }
  s += "</table>\n";
  if (!f.stalls.empty()) s += "<h3>Stalls</h3>" + StallTable(f.stalls, f.inject_utc_ns);
  if (f.operation) {
    const OperationView& op = *f.operation;
    s += "<h3>Platform operation</h3><table>\n" + Row({"step", "task", "result", "duration"}, true);
    for (const auto& t : op.tasks) {
      s += std::string(t.status == "success" ? "<tr>" : "<tr class=\"bad\">") + "<td>" + H(t.step) + "</td><td>" +
           H(t.method + " " + t.about) + "</td><td>" + H(t.status.empty() ? "never ended" : t.status) +
           (t.error.empty() ? "" : " " + H(t.error)) + "</td><td>" +
           (t.duration_ms ? H(FormatDuration(int64_t(*t.duration_ms * 1e6))) : "–") + "</td></tr>\n";
    }
    s += "</table><table>\n" + Row({"load", "pause around the operation"}, true);
    for (const auto& [load, ms] : op.pause_ms)
      s += Row({H(load), ms > 0 ? Fmt("%.3f ms", ms) : "none as long as the stall threshold"});
    s += "</table>\n";
    if (op.action == "designate_master") s += "<p>XAPI unavailable: " + H(MasterChangeText(op)) + "</p>\n";
    if (!op.moved.empty() || !op.host_vms.empty()) {
      std::string moved;
      for (const auto& m : op.moved) moved += (moved.empty() ? "" : "<br>") + H(m);
      s += "<p>" + (moved.empty() ? std::string("No vm_moved seen") : moved) +
           (op.host_vms.empty() ? ""
                                : Fmt("<br>%zu of %zu VMs moved off ", op.host_vms.size() - op.not_moved.size(),
                                      op.host_vms.size()) +
                                      H(op.host)) +
           "</p>\n";
    }
  }
  s += "<h3>Event chain</h3><table class=\"chain\">\n" + Row({"offset", "kind", "source", "message"}, true);
  for (const auto& c : f.chain) {
    s += std::string(c.derived ? "<tr class=\"derived\">" : "<tr>") + "<td>" + Fmt("%+.3f s", c.offset_ms / 1e3) +
         "</td><td>" + H(c.kind) + "</td><td>" + H(c.source) + "</td><td>" + H(c.message) + "</td></tr>\n";
  }
  return s + "</table></section>\n";
}

}  // namespace

std::string FormatHtml(const Analysis& a) {
  const RunJournal& j = a.journal;
  const Baseline& b = a.baseline;
  std::string v = a.verdict == "pass" ? "PASS" : a.verdict == "fail" ? "FAIL" : "RUN " + a.verdict;
  std::string s = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>faultbench: " + H(a.run_name) +
                  " " + H(v) + "</title>\n<style>\n" + std::string(DygraphCss()) + "\n" + std::string(ReportCss()) +
                  "</style>\n<script>\nwindow.addEventListener('error', function () {\n"
                  "  document.body.dataset.errors = String(Number(document.body.dataset.errors || 0) + 1);\n});\n"
                  "</script>\n</head>\n<body>\n";
  s += "<header class=\"verdict " + std::string(a.verdict == "pass" ? "pass" : "fail") + "\"><span>" + H(v) +
       "</span> " + H(a.run_name) + " · " + H(FormatUtcIso(j.load_start_utc_ns, 0)) +
       Fmt(" · load %.1f s · %zu fault window(s) · %zu stall(s)", double(j.load_end_utc_ns - j.load_start_utc_ns) / 1e9,
           a.faults.size(), j.stalls.size()) +
       "</header>\n";
  if (!a.verdicts.empty()) {
    s += "<h2>Expectations</h2><table>\n" + Row({"", "scope", "check", "measured", "limit"}, true);
    for (const auto& e : a.verdicts) {
      s += std::string(e.pass ? "<tr>" : "<tr class=\"bad\">") + "<td>" + (e.pass ? "PASS" : "FAIL") + "</td><td>" +
           H(e.scope) + "</td><td>" + H(e.check) + "</td><td>" + H(e.measured) + "</td><td>" + H(e.limit) + "</td></tr>\n";
    }
    s += "</table>\n";
  }
  s += "<h2>Timeline</h2><p class=\"hint\">Drag to zoom, shift-drag to pan, double-click to reset. Shaded: fault "
       "windows (lighter: settle); red: stalls; lines: events, labelled by source under the IOPS chart (a label "
       "with +N holds several close events: hover to list them, click to zoom in).</p>\n"
       "<div id=\"chart-iops\" class=\"chart\"></div>\n<div id=\"timeline\" class=\"timeline\"></div>\n"
       "<div id=\"chart-lat\" class=\"chart\"></div>\n" +
       EventList(a);
  s += "<h2>Baseline</h2><p>" + H(b.source) + Fmt(", %d intervals (%d with a stall)", b.total.iops.n, b.stalled_intervals) +
       "</p><table>\n" + Row({"op", "IOPS mean", "IOPS sd", "p50 median", "p99 median", "p99 sd", "max"}, true);
  for (auto [name, op] : {std::pair{"read", &b.read}, std::pair{"write", &b.write}, std::pair{"total", &b.total}}) {
    if (!op->iops.n || (op->iops.mean == 0 && std::string(name) != "total")) continue;
    s += Row({name, Fmt("%.0f", op->iops.mean), Fmt("%.0f", op->iops.stddev), Fmt("%.3f ms", op->p50_us.median / 1e3),
              Fmt("%.3f ms", op->p99_us.median / 1e3), Fmt("%.3f ms", op->p99_us.stddev / 1e3),
              Fmt("%.3f ms", op->max_us.max / 1e3)});
  }
  s += Row({"merged", "", "", "p50 / p99 / max", LatCell(b.latency), "", ""}) + "</table>\n";
  s += "<h2>Latency</h2>";
  if (a.latency_approximate) {
    s +=
        "<p class=\"hint\">approx.: samples.jsonl has no lat_hist (a run from before latency histograms were "
        "stored): percentiles over several intervals are the median (fault windows: the worst) of the "
        "per-interval "
        "ones.</p>";
  }
  s += "<table>\n" + Row({"", "IOPS", "p50 / p99 / max"}, true);
  s += Row({"whole run, read", "", LatCell(a.read_latency)}) +
       Row({"whole run, write", "", LatCell(a.write_latency)});
  for (const auto& p : a.phases)
    s += Row({"phase " + H(p.name), p.iops ? Fmt("%.0f", *p.iops) : "–", LatCell(p.latency)});
  s += "</table>\n";
  s += AgentsSection(a);
  if (!a.budgets.empty()) {
    s += "<h2>Stall budgets (platform settings)</h2><table>\n" + Row({"budget", "allows", "settings"}, true);
    for (const auto& bu : a.budgets) {
      s += Row({H(bu.name), bu.allows_ns < 0 ? "unbounded" : H(FormatDuration(bu.allows_ns)), H(bu.settings)});
    }
    s += "</table>\n";
  }
  for (const auto& f : a.faults) s += FaultSection(a, f);
  if (!a.other_stalls.empty()) {
    s += "<h2>Stalls outside the faults</h2>\n<p class=\"hint\">Stalls that overlap no fault's window, times from "
         "the load's start.</p>\n" +
         StallTable(a.other_stalls, a.journal.load_start_utc_ns);
  }
  if (a.faults.empty()) s += "<p>No fault was injected in this run.</p>\n";
  if (!a.cycles.empty()) {
    s += "<h2>Cycles</h2><table>\n" + Row({"injector", "metric", "n", "min", "median", "max"}, true);
    for (const auto& c : a.cycles) {
      s += Row({H(c.injector), H(c.metric), std::to_string(c.n), Fmt("%.3f", c.min), Fmt("%.3f", c.median), Fmt("%.3f", c.max)});
    }
    s += "</table>\n";
  }
  s += IntegritySection(a.integrity);
  for (const auto& w : a.warnings) s += "<p class=\"warning\">warning: " + H(w) + "</p>\n";
  s += "<script type=\"application/json\" id=\"fb-data\">" + ScriptSafe(ChartData(a).dump()) + "</script>\n";
  s += "<script>\n" + std::string(DygraphJs()) + "\n</script>\n<script>\n" + std::string(ChartJs()) + "\n</script>\n";
  return s + "</body></html>\n";
}

}  // namespace fb::reports
