// Stall episodes: one freeze is one stall. The load records every gap between
// completions longer than the stall threshold (stalls.jsonl), so a freeze that
// lets a single late completion through (a TCP delayed ACK, one stray I/O of a
// path that still answers) reads as two gaps. Consecutive gaps of one job are
// one episode when what lies between them is a trickle (analysis.h,
// EpisodeOptions); the episode runs from the first gap's start to the last
// one's end and keeps the raw gaps as its pieces.
#include <algorithm>
#include <map>

#include "reports/correlator.h"

namespace fb::reports {

namespace {

// Completions of one source between a and b, estimated from its interval
// samples when the stall record does not say (journals before
// completions_before): each interval's completions spread evenly over it.
double EstimatedCompletions(const std::vector<AgentLoad::Interval>& samples, int64_t a, int64_t b) {
  double n = 0;
  for (const auto& s : samples) {
    int64_t lo = std::max(a, s.start_utc_ns()), hi = std::min(b, s.end_utc_ns);
    if (hi <= lo || s.interval_ns <= 0) continue;
    n += double(s.ios) * double(hi - lo) / double(s.interval_ns);
  }
  return n;
}

// One job's normal completion rate (per second): the median interval of its
// source outside stalls, ramp and drain, divided by the source's jobs. 0 when
// it cannot be known (the controller's own load beside agents: its samples are
// merged with theirs).
double JobRate(const std::vector<AgentLoad::Interval>& samples, int jobs) {
  std::vector<double> v;
  for (const auto& s : samples) {
    if (s.normal && s.ios) v.push_back(s.iops);
  }
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + long(v.size() / 2), v.end());
  return v[v.size() / 2] / std::max(jobs, 1);
}

}  // namespace

std::vector<Stall> MergeStallEpisodes(const RunJournal& j, const EpisodeOptions& o) {
  const nlohmann::json load = j.run_info.value("load", nlohmann::json::object());
  const int local_jobs = load.is_object() ? load.value("jobs", 1) : 1;
  const int64_t threshold_ns =
      int64_t((load.is_object() ? load.value("stall_threshold_ms", 100.0) : 100.0) * 1e6);
  // Each source's intervals: the agents' as read, the controller's own
  // load's only without agents (with them its samples are merged with theirs).
  std::vector<AgentLoad::Interval> own;
  if (j.agents.empty()) {
    for (const auto& s : j.samples) own.push_back(AgentLoad::IntervalOf(s));
  }
  std::map<std::string, const std::vector<AgentLoad::Interval>*> by_source;
  if (!own.empty()) by_source[""] = &own;
  for (const auto& [name, load] : j.agent_loads) by_source[name] = &load.intervals;
  const std::vector<AgentLoad::Interval> none;
  auto intervals_of = [&](const std::string& src) -> const std::vector<AgentLoad::Interval>& {
    auto it = by_source.find(src);
    return it == by_source.end() ? none : *it->second;
  };
  std::map<std::string, double> rate;
  for (const auto& [src, v] : by_source) rate[src] = JobRate(*v, src.empty() ? local_jobs : 1);

  std::vector<Stall> out;
  std::map<std::pair<std::string, int>, size_t> open;  // (agent, job) -> its last episode in out
  for (const Stall& s : j.stalls) {
    auto key = std::make_pair(s.agent, s.job);
    auto it = open.find(key);
    if (it != open.end()) {
      Stall& ep = out[it->second];
      int64_t gap = s.start_utc_ns - ep.end_utc_ns;
      double between = s.completions_before
                           ? double(*s.completions_before)
                           : EstimatedCompletions(intervals_of(s.agent), ep.end_utc_ns, s.start_utc_ns);
      double r = rate.count(s.agent) ? rate[s.agent] : 0;
      bool trickle =
          !ep.open && (gap < 0 || (gap <= threshold_ns && between < double(o.trickle_completions)) ||
                       (r > 0 && between < o.trickle_share * r * double(gap) / 1e9));
      if (trickle) {
        if (ep.pieces.empty()) ep.pieces.push_back({ep.start_utc_ns, ep.end_utc_ns});
        ep.pieces.push_back({s.start_utc_ns, s.end_utc_ns});
        ep.trickle_completions += uint64_t(between + 0.5);
        ep.end_utc_ns = std::max(ep.end_utc_ns, s.end_utc_ns);
        ep.open = s.open;
        ep.inflight = std::max(ep.inflight, s.inflight);
        ep.oldest_age_ms = std::max(ep.oldest_age_ms, s.oldest_age_ms);
        continue;
      }
    }
    open[key] = out.size();
    out.push_back(s);
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Stall& a, const Stall& b) { return a.start_utc_ns < b.start_utc_ns; });
  return out;
}

}  // namespace fb::reports
