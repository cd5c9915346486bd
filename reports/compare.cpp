// `faultbench compare`: two runs' baselines and fault metrics side by side.
// Faults are paired by injector name and cycle; a fault only one run has is
// shown against "-".
#include <cstdio>
#include <map>

#include "reports/report.h"

namespace fb::reports {

namespace {

std::string Num(const std::optional<double>& v, const char* fmt = "%.3f") {
  if (!v) return "-";
  char buf[64];
  snprintf(buf, sizeof buf, fmt, *v);
  return buf;
}

std::string Line(const std::string& metric, const std::string& a, const std::string& b) {
  char buf[256];
  snprintf(buf, sizeof buf, "  %-26s %16s %16s\n", metric.c_str(), a.c_str(), b.c_str());
  return buf;
}

std::optional<double> Scaled(const std::optional<double>& v, double k) { return v ? std::optional(*v * k) : std::nullopt; }

}  // namespace

std::string FormatCompare(const Analysis& a, const Analysis& b) {
  std::string s;
  s += Line("", a.run_name.substr(0, 16), b.run_name.substr(0, 16));
  s += Line("verdict", a.verdict, b.verdict);
  s += Line("baseline IOPS", Num(a.baseline.total.iops.mean, "%.0f"), Num(b.baseline.total.iops.mean, "%.0f"));
  s += Line("baseline p99 ms", Num(a.baseline.total.p99_us.median / 1e3), Num(b.baseline.total.p99_us.median / 1e3));
  s += Line("stalls in the run", std::to_string(a.journal.stalls.size()), std::to_string(b.journal.stalls.size()));
  std::map<std::pair<std::string, int>, std::pair<const FaultWindow*, const FaultWindow*>> pairs;
  for (const auto& f : a.faults) pairs[{f.injector, f.cycle}].first = &f;
  for (const auto& f : b.faults) pairs[{f.injector, f.cycle}].second = &f;
  for (const auto& [key, fp] : pairs) {
    s += "fault " + key.first + "#" + std::to_string(key.second + 1) + "\n";
    auto row = [&](const char* metric, auto get, const char* fmt = "%.3f") {
      s += Line(metric, fp.first ? Num(get(*fp.first), fmt) : "-", fp.second ? Num(get(*fp.second), fmt) : "-");
    };
    row("first impact ms", [](const FaultWindow& f) { return f.first_impact_ms; });
    row("first completion ms", [](const FaultWindow& f) { return f.first_completion_ms; });
    row("stalls", [](const FaultWindow& f) { return std::optional<double>(double(f.stalls.size())); }, "%.0f");
    row("longest stall ms", [](const FaultWindow& f) { return f.longest_stall_ms; });
    row("max latency ms", [](const FaultWindow& f) { return Scaled(f.max_latency_us, 1e-3); });
    row("p99 ms", [](const FaultWindow& f) { return Scaled(f.p99_us, 1e-3); });
    row("errors", [](const FaultWindow& f) { return std::optional<double>(double(f.errors)); }, "%.0f");
    row("degraded IOPS % baseline", [](const FaultWindow& f) { return f.degraded_iops_pct; }, "%.1f");
    row("recovered ms after revert", [](const FaultWindow& f) { return f.recovered_ms; });
    row("resync ms", [](const FaultWindow& f) { return f.resync_ms; });
    row("I/Os lost", [](const FaultWindow& f) { return std::optional<double>(f.lost_ios); }, "%.0f");
  }
  if (pairs.empty()) s += "(no fault windows in either run)\n";
  return s;
}

}  // namespace fb::reports
