// Test helper: writes hand-made run journals with known answers. Times are
// given in milliseconds from load start; the load starts at kT0 UTC.
#pragma once

#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "loadgen/histogram.h"

namespace fb::reports::testing {

constexpr int64_t kT0 = 1'700'000'000'000'000'000;  // load start, UTC ns
inline int64_t At(double ms) { return kT0 + int64_t(ms * 1e6); }

class JournalFixture {
 public:
  explicit JournalFixture(std::string dir) : dir_(std::move(dir)) {}

  // run.json; `status` "completed" unless told.
  void Run(double interval_s, const std::string& status = "completed") {
    nlohmann::json r = {{"run_id", "fixture"},
                        {"name", "fixture"},
                        {"status", status},
                        {"load", {{"interval_s", interval_s}, {"ramp_s", 0.0}}},
                        {"load_start", {{"t_utc_ns", kT0}}}};
    std::ofstream(dir_ + "/run.json") << r.dump(2);
    run_ = r;
    interval_s_ = interval_s;
  }
  // Adds `key` to run.json (after Run()).
  void RunInfo(const std::string& key, nlohmann::json value) {
    run_[key] = std::move(value);
    std::ofstream(dir_ + "/run.json") << run_.dump(2);
  }
  // One op as the load writes it (loadgen/journal_sink.cpp): the latency
  // figures and lat_hist of the histogram of `latencies_ns`.
  nlohmann::json Op(const std::vector<uint64_t>& latencies_ns, uint64_t errors = 0) const {
    Histogram h;
    for (uint64_t v : latencies_ns) h.Record(v);
    nlohmann::json j = {{"ios", h.count()}, {"iops", double(h.count()) / interval_s_}, {"errors", errors}};
    if (!h.count()) {
      j["lat_p50_us"] = j["lat_p99_us"] = j["lat_max_us"] = nullptr;
      return j;
    }
    j["lat_min_us"] = double(h.min()) / 1e3;
    j["lat_p50_us"] = double(h.Percentile(0.50)) / 1e3;
    j["lat_p99_us"] = double(h.Percentile(0.99)) / 1e3;
    j["lat_max_us"] = double(h.max()) / 1e3;
    nlohmann::json buckets = nlohmann::json::array();
    for (int i = 0; i < Histogram::kBucketCount; ++i) {
      if (h.CountAt(i)) buckets.push_back({i, h.CountAt(i)});
    }
    j["lat_hist"] = buckets;
    return j;
  }
  // One job "all" interval of agent `agent` (as the controller merges it into
  // the run journal) whose I/Os took `read_ns` and `write_ns`.
  void AgentSample(const std::string& agent, int index, double end_ms, const std::vector<uint64_t>& read_ns,
                   const std::vector<uint64_t>& write_ns = {}, uint64_t errors = 0) {
    nlohmann::json s = {{"job", "all"},
                        {"agent", agent},
                        {"interval", index},
                        {"interval_s", interval_s_},
                        {"read", Op(read_ns, errors)},
                        {"write", Op(write_ns)},
                        {"errors", errors},
                        {"inflight", 8},
                        {"oldest_inflight_age_ms", 0.5},
                        {"stall", false},
                        {"t_utc_ns", At(end_ms)},
                        {"t_rel_s", end_ms / 1e3}};
    samples_ += s.dump() + "\n";
  }
  void AgentStall(const std::string& agent, double start_ms, double end_ms, int job = 0) {
    nlohmann::json s = {{"agent", agent},
                        {"job", job},
                        {"inflight", 8},
                        {"oldest_age_ms", end_ms - start_ms},
                        {"start_utc_ns", At(start_ms)},
                        {"end_utc_ns", At(end_ms)},
                        {"duration_ms", end_ms - start_ms}};
    stalls_ += s.dump() + "\n";
  }
  // An event from or about agent `agent` (its "agent" field and attrs.agent).
  void AgentEvent(double t_ms, const std::string& agent, const std::string& source, const std::string& kind,
                  nlohmann::json attrs = nlohmann::json::object()) {
    attrs["agent"] = agent;
    nlohmann::json e = {{"t_utc_ns", At(t_ms)}, {"t_rel_s", t_ms / 1e3}, {"source", source},
                        {"kind", kind},         {"severity", "info"},    {"message", kind},
                        {"agent", agent},       {"attrs", attrs}};
    events_ += e.dump() + "\n";
  }
  void Plan(const std::string& yaml) { std::ofstream(dir_ + "/plan.yaml") << yaml; }
  // One merged interval ending at end_ms with `iops` total (reads only).
  void Sample(int index, double end_ms, double iops, double p99_us, double max_us, uint64_t errors = 0,
              bool stall = false) {
    nlohmann::json read = {{"ios", uint64_t(iops * interval_s_)}, {"iops", iops}, {"errors", errors}};
    if (iops > 0) {
      read["lat_p50_us"] = p99_us / 2;
      read["lat_p99_us"] = p99_us;
      read["lat_max_us"] = max_us;
    } else {
      read["lat_p50_us"] = read["lat_p99_us"] = read["lat_max_us"] = nullptr;
    }
    if (errors) read["errors_by_errno"] = {{"EIO", errors}};
    nlohmann::json write = {
        {"ios", 0}, {"iops", 0.0}, {"errors", 0}, {"lat_p99_us", nullptr}, {"lat_max_us", nullptr}};
    nlohmann::json s = {{"job", "all"},
                        {"interval", index},
                        {"interval_s", interval_s_},
                        {"read", read},
                        {"write", write},
                        {"errors", errors},
                        {"inflight", 32},
                        {"oldest_inflight_age_ms", 0.5},
                        {"stall", stall},
                        {"t_utc_ns", At(end_ms)},
                        {"t_rel_s", end_ms / 1e3}};
    samples_ += s.dump() + "\n";
  }
  // `completions_before` < 0: the record has none (a journal from before it).
  void Stall(double start_ms, double end_ms, int job = 0, bool open = false, int64_t completions_before = -1) {
    nlohmann::json s = {{"job", job},
                        {"inflight", 32},
                        {"oldest_age_ms", end_ms - start_ms},
                        {"start_utc_ns", At(start_ms)},
                        {"duration_ms", end_ms - start_ms}};
    if (completions_before >= 0) s["completions_before"] = completions_before;
    if (open)
      s["open"] = true;
    else
      s["end_utc_ns"] = At(end_ms);
    stalls_ += s.dump() + "\n";
  }
  void Event(double t_ms, const std::string& source, const std::string& kind,
             nlohmann::json attrs = nlohmann::json::object(), const std::string& message = "") {
    nlohmann::json e = {{"t_utc_ns", At(t_ms)}, {"t_rel_s", t_ms / 1e3},
                        {"source", source},     {"kind", kind},
                        {"severity", "info"},   {"message", message.empty() ? kind : message},
                        {"attrs", attrs}};
    events_ += e.dump() + "\n";
  }
  // Writes the .jsonl files; `cut_events_tail` appends half a record to events.jsonl.
  void Flush(bool cut_events_tail = false) {
    std::ofstream(dir_ + "/samples.jsonl") << samples_;
    std::ofstream(dir_ + "/stalls.jsonl") << stalls_;
    std::ofstream(dir_ + "/events.jsonl")
        << events_ << (cut_events_tail ? "{\"t_utc_ns\": 17000000, \"sou" : "");
  }

 private:
  std::string dir_;
  nlohmann::json run_;
  double interval_s_ = 0.1;
  std::string samples_, stalls_, events_;
};

inline const char* kCutPlan = R"(name: "cut-fixture"
expect:
  max_stall: 5s
  faults:
    cut: {max_stall: 1s, io_errors: 0, recovery: {to: 90% of baseline, within: 30s}}
platform:
  iscsi: {noop_out_interval: 5s, noop_out_timeout: 5s, replacement_timeout: 15s}
  multipath: {polling_interval: 5s, no_path_retry: 0}
  ha: {timeout: 60s}
)";

// 20 s of load at 100 ms intervals: baseline 1000 IOPS (p99 500 us); the
// fault "cut" from 8.000 s to 12.000 s with one stall 8.012 .. 9.923 s, a
// degraded phase at 600 IOPS, a resync at 800 IOPS until 13.5 s, then 1000.
// `recovers`: false keeps IOPS at 500 after the revert.
inline void WriteCutJournal(const std::string& dir, bool recovers = true, bool cut_tail = false) {
  JournalFixture j(dir);
  j.Run(0.1);
  j.Plan(kCutPlan);
  for (int i = 0; i < 200; ++i) {
    double end = (i + 1) * 100.0;
    double iops = i % 2 ? 990 : 1010, p99 = 500, mx = 1000;
    bool stall = false;
    if (end > 6000 && end <= 6200) mx = 150000;  // the stall outside any fault
    if (end > 8000 && end <= 9900)
      iops = 0, stall = true;
    else if (end == 10000)
      iops = 500, p99 = 1911000, mx = 1911000;
    else if (end > 10000 && end <= 12000)
      iops = 600, p99 = 2000, mx = 5000;
    else if (end > 12000 && end <= 13500)
      iops = 800, p99 = 900, mx = 3000;
    if (!recovers && end > 12000) iops = 500;
    j.Sample(i, end, iops, p99, mx, 0, stall);
  }
  j.Stall(6000, 6150);
  j.Stall(8012, 9923);
  j.Event(0, "loadgen", "load_started");
  j.Event(0, "runner", "phase", {{"phase", "baseline"}});
  j.Event(7000, "runner", "phase", {{"phase", "fault"}});
  j.Event(8000, "runner", "step", {{"injector", "cut"}});
  j.Event(8000, "cut", "fault_injected", {{"injector", "cut"}, {"cycle", 0}});
  j.Event(9000, "xapi", "probe_error", {}, "probe xapi: connection refused");
  j.Event(9910, "array-b", "mediator_won", {}, "site-b won the mediator race");
  j.Event(9950, "multipath", "path_reinstated");
  j.Event(12000, "cut", "fault_reverted", {{"injector", "cut"}});
  j.Event(12100, "array-b", "resync_start");
  j.Event(13500, "array-b", "resync_done");
  j.Event(15200, "multipath", "path_failed");
  j.Event(20000, "loadgen", "load_finished");
  j.Flush(cut_tail);
}

}  // namespace fb::reports::testing
