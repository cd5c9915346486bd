#include "plans/expectations.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>

#include "core/clock.h"
#include "core/jsonl_writer.h"
#include "core/units.h"

namespace fb {

namespace {

Result<std::vector<nlohmann::json>> ReadJsonl(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::IoError("cannot read " + path);
  std::vector<nlohmann::json> out;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return Status::IoError(path + ":" + std::to_string(n) + ": not a JSON record");
    out.push_back(std::move(j));
  }
  return out;
}

int64_t I64(const nlohmann::json& j, const char* key, int64_t def = 0) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<int64_t>() : def;
}

double Iops(const nlohmann::json& s) {
  double v = 0;
  for (const char* op : {"read", "write"}) {
    if (s.contains(op) && s[op].contains("iops") && s[op]["iops"].is_number()) v += s[op]["iops"].get<double>();
  }
  return v;
}

double MaxLatencyUs(const nlohmann::json& s) {
  double v = 0;
  for (const char* op : {"read", "write"}) {
    if (s.contains(op) && s[op].contains("lat_max_us") && s[op]["lat_max_us"].is_number()) {
      v = std::max(v, s[op]["lat_max_us"].get<double>());
    }
  }
  return v;
}

// A sample covers (end - interval, end].
int64_t SampleEnd(const nlohmann::json& s) { return I64(s, "t_utc_ns"); }
int64_t SampleStart(const nlohmann::json& s) {
  return SampleEnd(s) - int64_t(std::llround(s.value("interval_s", 0.0) * 1e9));
}

std::string Ms(int64_t ns) { return FormatDuration(ns); }

std::string Rel(const RunData& d, int64_t utc) {
  char buf[32];
  snprintf(buf, sizeof buf, "+%.3fs", double(utc - d.load_start_utc_ns) / 1e9);
  return buf;
}

}  // namespace

Result<RunData> ReadRunData(const std::string& dir) {
  RunData d;
  auto info_text = ReadFile(dir + "/run.json");
  if (!info_text.ok()) return info_text.status();
  auto info = nlohmann::json::parse(*info_text, nullptr, false);
  if (info.is_discarded()) return Status::IoError(dir + "/run.json: not JSON");
  d.status = info.value("status", "");
  if (info.contains("load_start")) d.load_start_utc_ns = I64(info["load_start"], "t_utc_ns");
  if (info.contains("load")) {
    d.ramp_ns = int64_t(std::llround(info["load"].value("ramp_s", 0.0) * 1e9));
    d.interval_ns = int64_t(std::llround(info["load"].value("interval_s", 1.0) * 1e9));
  }
  auto events = ReadJsonl(dir + "/events.jsonl");
  if (!events.ok()) return events.status();
  d.events = std::move(*events);
  auto samples = ReadJsonl(dir + "/samples.jsonl");
  if (!samples.ok()) return samples.status();
  for (auto& s : *samples) {
    if (s.value("job", nlohmann::json()) == "all") d.samples.push_back(std::move(s));
  }
  d.load_end_utc_ns = d.load_start_utc_ns;
  for (const auto& s : d.samples) d.load_end_utc_ns = std::max(d.load_end_utc_ns, SampleEnd(s));
  for (const auto& e : d.events) {
    if (e.value("kind", "") == "load_finished") d.load_end_utc_ns = std::max(d.load_end_utc_ns, I64(e, "t_utc_ns"));
  }
  auto stalls = ReadJsonl(dir + "/stalls.jsonl");
  if (!stalls.ok()) return stalls.status();
  for (const auto& s : *stalls) {
    StallSpan span;
    span.job = s.value("job", 0);
    span.start_utc_ns = I64(s, "start_utc_ns");
    span.open = !s.contains("end_utc_ns") || s["end_utc_ns"].is_null();
    span.end_utc_ns = span.open ? d.load_end_utc_ns : I64(s, "end_utc_ns");
    d.stalls.push_back(span);
  }
  // Fault and phase windows from the runner's events.
  std::map<std::string, int> cycles;
  std::map<std::string, size_t> open_fault;
  for (const auto& e : d.events) {
    std::string kind = e.value("kind", "");
    int64_t t = I64(e, "t_utc_ns");
    const nlohmann::json& attrs = e.contains("attrs") ? e["attrs"] : nlohmann::json::object();
    if (kind == "fault_injected") {
      std::string inj = attrs.value("injector", e.value("source", ""));
      Window w{"fault", inj, cycles[inj]++, t, d.load_end_utc_ns, false};
      open_fault[inj] = d.faults.size();
      d.faults.push_back(w);
    } else if (kind == "fault_reverted") {
      std::string inj = attrs.value("injector", e.value("source", ""));
      auto it = open_fault.find(inj);
      if (it == open_fault.end()) continue;
      d.faults[it->second].end_utc_ns = t;
      d.faults[it->second].reverted = true;
      open_fault.erase(it);
    } else if (kind == "phase") {
      if (!d.phases.empty()) d.phases.back().end_utc_ns = t;
      d.phases.push_back(Window{"phase", attrs.value("phase", ""), 0, t, d.load_end_utc_ns, true});
    }
  }
  return d;
}

const StallSpan* LongestStallIn(const RunData& d, int64_t start, int64_t end) {
  const StallSpan* best = nullptr;
  for (const auto& s : d.stalls) {
    if (s.end_utc_ns <= start || s.start_utc_ns >= end) continue;
    if (!best || s.length_ns() > best->length_ns()) best = &s;
  }
  return best;
}

namespace {

// The fault window stretched to the end of its stalls, plus one interval.
int64_t ImpactEnd(const RunData& d, const Window& w) {
  int64_t end = w.end_utc_ns;
  for (const auto& s : d.stalls) {
    if (s.end_utc_ns > w.start_utc_ns && s.start_utc_ns < w.end_utc_ns) end = std::max(end, s.end_utc_ns);
  }
  return end + d.interval_ns;
}

double BaselineIops(const RunData& d) {
  int64_t start = d.load_start_utc_ns + d.ramp_ns, end = d.load_end_utc_ns;
  for (const auto& p : d.phases) {
    if (p.name == "baseline") {
      start = std::max(start, p.start_utc_ns);
      end = p.end_utc_ns;
      break;
    }
  }
  if (!d.faults.empty()) end = std::min(end, d.faults.front().start_utc_ns);
  double sum = 0;
  int n = 0;
  for (const auto& s : d.samples) {
    if (s.contains("ramp") || s.contains("drain")) continue;
    if (SampleStart(s) >= start && SampleEnd(s) <= end) {
      sum += Iops(s);
      ++n;
    }
  }
  return n ? sum / n : 0;
}

void Check(const Limits& l, const RunData& d, const std::string& scope, int64_t start, int64_t end, int64_t impact_end,
           const Window* fault, std::vector<Verdict>* out) {
  if (l.max_stall_ns) {
    const StallSpan* s = LongestStallIn(d, start, end);
    int64_t len = s ? s->length_ns() : 0;
    out->push_back({scope, "max_stall", "<= " + Ms(*l.max_stall_ns),
                    s ? Ms(len) + (s->open ? " (still open at the end)" : "") : "no stall", len <= *l.max_stall_ns});
  }
  double max_us = 0;
  uint64_t errors = 0;
  for (const auto& s : d.samples) {
    if (SampleEnd(s) <= start || SampleStart(s) >= impact_end) continue;
    max_us = std::max(max_us, MaxLatencyUs(s));
    errors += s.value("errors", uint64_t(0));
  }
  if (l.max_latency_ns) {
    int64_t max_ns = int64_t(max_us * 1e3);
    out->push_back({scope, "max_latency", "<= " + Ms(*l.max_latency_ns), Ms(max_ns), max_ns <= *l.max_latency_ns});
  }
  if (l.io_errors) {
    out->push_back({scope, "io_errors", "<= " + std::to_string(*l.io_errors), std::to_string(errors), errors <= *l.io_errors});
  }
  if (l.recovery && fault) {
    double base = BaselineIops(d);
    char limit[96];
    snprintf(limit, sizeof limit, "%.0f%% of baseline (%.0f IOPS) within %s", l.recovery->to_fraction * 100, base,
             Ms(l.recovery->within_ns).c_str());
    int64_t recovered = -1;
    if (fault->reverted && base > 0) {
      for (const auto& s : d.samples) {
        if (SampleEnd(s) <= fault->end_utc_ns || s.contains("drain")) continue;
        if (Iops(s) >= l.recovery->to_fraction * base) {
          recovered = SampleEnd(s) - fault->end_utc_ns;
          break;
        }
      }
    }
    std::string measured = !fault->reverted ? "never reverted" : base <= 0 ? "no baseline" :
                           recovered < 0 ? "not reached" : Ms(recovered) + " after the revert";
    out->push_back({scope, "recovery", limit, measured, recovered >= 0 && recovered <= l.recovery->within_ns});
  }
}

}  // namespace

std::vector<Verdict> EvaluateExpectations(const Expectations& e, const RunData& d) {
  std::vector<Verdict> out;
  Limits run = e.overall;
  run.recovery.reset();
  Check(run, d, "run", d.load_start_utc_ns, d.load_end_utc_ns + 1, d.load_end_utc_ns + 1, nullptr, &out);
  for (const auto& w : d.faults) {
    Limits l;
    auto it = e.faults.find(w.name);
    if (it != e.faults.end()) l = it->second;
    if (!l.recovery && e.overall.recovery) l.recovery = e.overall.recovery;
    if (l.empty()) continue;
    std::string scope = "fault " + w.name + "#" + std::to_string(w.cycle + 1);
    Check(l, d, scope, w.start_utc_ns, w.end_utc_ns, ImpactEnd(d, w), &w, &out);
  }
  for (const auto& [name, l] : e.phases) {
    bool seen = false;
    for (const auto& w : d.phases) {
      if (w.name != name) continue;
      seen = true;
      Check(l, d, "phase " + name, w.start_utc_ns, w.end_utc_ns, w.end_utc_ns, nullptr, &out);
    }
    if (!seen) out.push_back({"phase " + name, "reached", "the phase runs", "never began", false});
  }
  for (const auto& kv : e.faults) {
    const std::string& name = kv.first;
    bool seen = std::any_of(d.faults.begin(), d.faults.end(), [&](const Window& w) { return w.name == name; });
    if (!seen) out.push_back({"fault " + name, "injected", "the fault is injected", "never injected", false});
  }
  return out;
}

std::string FormatRunSummary(const std::string& plan_name, const RunData& d, const std::vector<Verdict>& verdicts) {
  std::string s;
  char line[512];
  snprintf(line, sizeof line, "Run of plan %s: %s, load %.3fs\n", plan_name.c_str(), d.status.c_str(),
           double(d.load_end_utc_ns - d.load_start_utc_ns) / 1e9);
  s += line;
  if (!d.phases.empty()) {
    s += "Phases:\n";
    for (const auto& p : d.phases) {
      snprintf(line, sizeof line, "  %-14s %s .. %s\n", p.name.c_str(), Rel(d, p.start_utc_ns).c_str(), Rel(d, p.end_utc_ns).c_str());
      s += line;
    }
  }
  if (!d.faults.empty()) {
    s += "Faults:\n";
    for (const auto& w : d.faults) {
      int n = 0;
      const StallSpan* longest = LongestStallIn(d, w.start_utc_ns, w.end_utc_ns);
      for (const auto& st : d.stalls) n += st.end_utc_ns > w.start_utc_ns && st.start_utc_ns < w.end_utc_ns;
      snprintf(line, sizeof line, "  %-14s injected %s, %s %s (%s); %d stall(s) in the window", (w.name + "#" + std::to_string(w.cycle + 1)).c_str(),
               Rel(d, w.start_utc_ns).c_str(), w.reverted ? "reverted" : "not reverted by", Rel(d, w.end_utc_ns).c_str(),
               Ms(w.end_utc_ns - w.start_utc_ns).c_str(), n);
      s += line;
      if (longest) {
        snprintf(line, sizeof line, ", longest %s (job %d, %s .. %s)", Ms(longest->length_ns()).c_str(), longest->job,
                 Rel(d, longest->start_utc_ns).c_str(), Rel(d, longest->end_utc_ns).c_str());
        s += line;
      }
      s += "\n";
    }
  }
  snprintf(line, sizeof line, "Stalls: %zu in the run", d.stalls.size());
  s += line;
  if (const StallSpan* l = LongestStallIn(d, INT64_MIN, INT64_MAX)) s += ", longest " + Ms(l->length_ns());
  s += "\n";
  bool pass = true;
  if (!verdicts.empty()) {
    s += "Expectations:\n";
    for (const auto& v : verdicts) {
      pass = pass && v.pass;
      snprintf(line, sizeof line, "  %s  %-16s %-12s %s: %s\n", v.pass ? "PASS" : "FAIL", v.scope.c_str(), v.check.c_str(),
               v.limit.c_str(), v.measured.c_str());
      s += line;
    }
  }
  s += std::string("Verdict: ") + (d.status != "completed" ? "RUN " + d.status : pass ? "PASS" : "FAIL") + "\n";
  return s;
}

}  // namespace fb
