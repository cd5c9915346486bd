// The agents of a plan run (records and events with an `agent` field): clock,
// load, latency from merged histograms, stalls, errors, and each loss of an
// agent with the events that explain the gap.
#include <algorithm>
#include <array>
#include <map>
#include <string_view>

#include "reports/correlator.h"

namespace fb::reports {

namespace {

constexpr int64_t kNearbyNs = 1'000'000'000;  // the margin around a downtime searched for events

bool ExplainsGap(const std::string& kind) {
  static constexpr std::array<std::string_view, 8> kKinds = {"host_down",      "host_fenced",    "host_up",
                                                             "master_changed", "vm_stopped",     "vm_started",
                                                             "vm_moved",       "agent_restarted"};
  return std::find(kKinds.begin(), kKinds.end(), kind) != kKinds.end();
}

std::optional<int64_t> AttrNs(const JournalEvent& e, const char* key) {
  auto it = e.attrs.find(key);
  if (it == e.attrs.end() || !it->is_number()) return std::nullopt;
  int64_t v = it->is_number_float() ? int64_t(it->get<double>()) : it->get<int64_t>();
  return v > 0 ? std::optional(v) : std::nullopt;
}

std::optional<double> AttrMs(const JournalEvent& e, const char* key) {
  auto it = e.attrs.find(key);
  return it != e.attrs.end() && it->is_number() ? std::optional(it->get<double>()) : std::nullopt;
}

std::string AttrStr(const JournalEvent& e, const char* key) {
  auto it = e.attrs.find(key);
  return it != e.attrs.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::vector<AgentDowntime> Downtimes(const RunJournal& j, const std::string& agent) {
  std::vector<AgentDowntime> out;
  constexpr size_t kNone = SIZE_MAX;
  size_t open = kNone;  // the loss whose first completion is not seen yet
  for (const auto& e : j.events) {
    if (e.agent != agent) continue;
    if (e.kind == "agent_lost") {
      AgentDowntime d;
      d.lost_utc_ns = e.t_utc_ns;
      d.why = AttrStr(e, "why");
      if (d.why.empty()) d.why = AttrStr(e, "reason");
      d.last_completion_utc_ns = AttrNs(e, "last_completion_utc_ns");
      open = out.size();
      out.push_back(d);
    } else if (e.kind == "agent_back" && open != kNone) {
      AgentDowntime& d = out[open];
      d.back_utc_ns = e.t_utc_ns;
      d.ended_by = "agent_back";
      if (auto f = AttrNs(e, "first_completion_utc_ns")) d.first_completion_utc_ns = f;
      if (d.first_completion_utc_ns && d.last_completion_utc_ns) {
        d.downtime_ms = double(*d.first_completion_utc_ns - *d.last_completion_utc_ns) / 1e6;
      } else {
        d.downtime_ms = AttrMs(e, "down_ms");
      }
    } else if (e.kind == "agent_first_completion" && open != kNone) {
      AgentDowntime& d = out[open];
      d.ended_by = "agent_first_completion";
      d.first_completion_utc_ns = AttrNs(e, "first_completion_utc_ns");
      if (auto l = AttrNs(e, "last_completion_utc_ns")) d.last_completion_utc_ns = l;
      d.downtime_ms = AttrMs(e, "downtime_ms");
      if (!d.downtime_ms && d.first_completion_utc_ns && d.last_completion_utc_ns) {
        d.downtime_ms = double(*d.first_completion_utc_ns - *d.last_completion_utc_ns) / 1e6;
      }
      open = kNone;
    }
  }
  for (auto& d : out) {
    int64_t from = d.last_completion_utc_ns.value_or(d.lost_utc_ns) - kNearbyNs;
    int64_t to = d.first_completion_utc_ns.value_or(d.back_utc_ns.value_or(j.load_end_utc_ns)) + kNearbyNs;
    for (const auto& e : j.events) {
      if (e.t_utc_ns >= from && e.t_utc_ns <= to && ExplainsGap(e.kind)) d.nearby.push_back(e);
    }
  }
  return out;
}

// One agent's load figures into `v`.
void LoadFigures(const AgentLoad& l, AgentView* v) {
  v->errors += l.errors;
  v->intervals += l.measured_intervals;
  v->iops = l.measured_ns > 0 ? double(l.measured_ios) / (double(l.measured_ns) / 1e9) : 0;
  v->read = l.read.Get(LatencyFallback::kMedian);
  v->write = l.write.Get(LatencyFallback::kMedian);
}

}  // namespace

std::vector<AgentView> ComputeAgents(const RunJournal& j, AgentView* total) {
  std::vector<AgentView> out;
  *total = AgentView{.name = "total"};
  if (j.agents.empty()) return out;
  LatencyMerge read, write;  // every agent's
  for (const auto& name : j.agents) {
    AgentView v;
    v.name = name;
    if (auto it = j.run_info.find("agents"); it != j.run_info.end() && it->is_array()) {
      for (const auto& a : *it) {
        if (a.is_object() && a.value("name", std::string()) == name) v.host = a.value("host", std::string());
      }
    }
    for (const auto& e : j.events) {
      if (e.agent != name || e.kind != "agent_clock") continue;
      auto offset = e.attrs.find("offset_ns");
      auto unc = AttrNs(e, "uncertainty_ns");
      ++v.clock_measurements;
      if (!v.offset_ns && offset != e.attrs.end() && offset->is_number()) {
        v.offset_ns = offset->is_number_float() ? int64_t(offset->get<double>()) : offset->get<int64_t>();
        v.uncertainty_ns = unc.value_or(0);
      }
      if (unc) v.max_uncertainty_ns = std::max(v.max_uncertainty_ns.value_or(0), *unc);
    }
    if (auto it = j.agent_loads.find(name); it != j.agent_loads.end()) {
      LoadFigures(it->second, &v);
      read.Add(it->second.read);
      write.Add(it->second.write);
    }
    for (const auto& s : j.stalls) {
      if (s.agent != name) continue;
      ++v.stalls;
      v.longest_stall_ms = std::max(v.longest_stall_ms, double(s.length_ns()) / 1e6);
    }
    v.downtimes = Downtimes(j, name);
    out.push_back(std::move(v));
  }
  total->read = read.Get(LatencyFallback::kMedian);
  total->write = write.Get(LatencyFallback::kMedian);
  for (const auto& v : out) {
    total->intervals += v.intervals;
    total->errors += v.errors;
    total->iops += v.iops;
    total->stalls += v.stalls;
    total->longest_stall_ms = std::max(total->longest_stall_ms, v.longest_stall_ms);
    total->clock_measurements += v.clock_measurements;
  }
  return out;
}

}  // namespace fb::reports
