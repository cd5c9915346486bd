// The integrity section: verify totals from run.json and
// every finding from events.jsonl, counted in the window where its lost write
// had been acknowledged. A run without verify has no section (verified = false):
// nothing is claimed about data it never checked.
#include <algorithm>
#include <set>

#include "reports/correlator.h"

namespace fb::reports {

namespace {

bool IsFinding(const std::string& kind) {
  return kind == "lost_write" || kind == "misdirected_write" || kind == "corrupt_block" ||
         kind == "phantom_write";
}

uint64_t U64(const nlohmann::json& o, const char* key) {
  return o.contains(key) && o[key].is_number_unsigned() ? o[key].get<uint64_t>()
         : o.contains(key) && o[key].is_number()        ? uint64_t(std::max(0.0, o[key].get<double>()))
                                                        : 0;
}

void Count(const std::string& kind, uint64_t* lost, uint64_t* misdirected, uint64_t* corrupt,
           uint64_t* phantom) {
  if (kind == "lost_write")
    ++*lost;
  else if (kind == "misdirected_write")
    ++*misdirected;
  else if (kind == "corrupt_block")
    ++*corrupt;
  else
    ++*phantom;
}

}  // namespace

std::vector<IntegrityWindow> IntegrityWindows(const RunJournal& j, const std::vector<FaultWindow>& faults) {
  int64_t end = std::max(j.load_end_utc_ns, j.load_start_utc_ns);
  if (faults.empty()) return {{"whole run", j.load_start_utc_ns, end}};
  std::vector<IntegrityWindow> w{{"before the first fault", j.load_start_utc_ns, faults[0].inject_utc_ns}};
  for (size_t i = 0; i < faults.size(); ++i) {
    const FaultWindow& f = faults[i];
    std::string id = f.injector + "#" + std::to_string(f.cycle + 1);
    int64_t next = i + 1 < faults.size() ? faults[i + 1].inject_utc_ns : std::max(end, f.inject_utc_ns);
    int64_t revert = std::min(f.revert_utc_ns.value_or(next), next);
    w.push_back({"during " + id, f.inject_utc_ns, revert});
    if (revert < next) w.push_back({"after " + id, revert, next});
  }
  return w;
}

Integrity ComputeIntegrity(const RunJournal& j, const std::vector<FaultWindow>& faults) {
  Integrity in;
  const nlohmann::json& info = j.run_info;
  in.verified = info.contains("load") && info["load"].is_object() && info["load"].contains("verify");
  // Each verifying load's summary: the controller's own, then every agent's.
  std::vector<std::pair<std::string, const nlohmann::json*>> summaries;
  if (info.contains("load_summary") && info["load_summary"].is_object())
    summaries.push_back({"", &info["load_summary"]});
  std::set<std::string> summarized;
  if (auto it = info.find("agent_results"); it != info.end() && it->is_array()) {
    for (const auto& r : *it) {
      if (!r.is_object() || !r.contains("load_summary") || !r["load_summary"].is_object()) continue;
      summaries.push_back({r.value("name", std::string("agent")), &r["load_summary"]});
    }
  }
  in.final_pass_complete = true;
  bool any = false;
  for (const auto& [name, sum] : summaries) {
    if (!sum->contains("verify") || !(*sum)["verify"].is_object()) continue;
    const nlohmann::json& v = (*sum)["verify"];
    in.verified = any = true;
    if (!name.empty()) summarized.insert(name);
    in.blocks_written += U64(v, "blocks_written");
    in.verified_blocks += U64(v, "verified_blocks");
    in.acks_dropped += U64(v, "acks_dropped");
    if (!v.value("final_pass_complete", false)) {
      in.final_pass_complete = false;
      std::string why = sum->value("stop_reason", std::string());
      in.read_back_missing.push_back((name.empty() ? "the local load" : name) +
                                     (why.empty() ? "" : " (its load stopped: " + why + ")"));
    }
  }
  // Agents without a summary (older runs, a lost agent): their samples say
  // whether they verified and how much.
  for (const auto& [name, load] : j.agent_loads) {
    if (!load.verified_blocks || summarized.count(name)) continue;
    in.verified = true;
    in.verified_blocks += *load.verified_blocks;
  }
  if (!any) in.final_pass_complete = false;
  for (const auto& e : j.events) {
    if (e.kind != "agent_disk_checked" || !e.attrs.contains("checked")) continue;
    in.verified = true;
    in.verified_blocks += U64(e.attrs, "checked");
  }
  in.windows = IntegrityWindows(j, faults);
  for (const auto& e : j.events) {
    if (!IsFinding(e.kind)) continue;
    in.verified = true;
    IntegrityFinding f;
    f.kind = e.kind;
    f.message = e.message;
    f.found_utc_ns = e.t_utc_ns;
    f.final_pass = e.attrs.value("final_pass", false);
    if (e.attrs.contains("acked_utc_ns") && e.attrs["acked_utc_ns"].is_number()) {
      f.acked_utc_ns = e.attrs["acked_utc_ns"].get<int64_t>();
      f.placed_by_ack = true;
    }
    int64_t t = f.acked_utc_ns.value_or(f.found_utc_ns);
    // The window holding t; before the load: the first, after it: the last.
    IntegrityWindow* hit = nullptr;
    for (auto& w : in.windows) {
      if (t >= w.start_utc_ns && t < w.end_utc_ns) hit = &w;
    }
    if (!hit && !in.windows.empty())
      hit = t < in.windows.front().start_utc_ns ? &in.windows.front() : &in.windows.back();
    if (hit) {
      f.window = hit->name;
      Count(e.kind, &hit->lost, &hit->misdirected, &hit->corrupt, &hit->phantom);
    }
    Count(e.kind, &in.lost, &in.misdirected, &in.corrupt, &in.phantom);
    in.findings.push_back(std::move(f));
  }
  return in;
}

}  // namespace fb::reports
