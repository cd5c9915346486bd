#include "loadgen/journal_sink.h"

#include <cmath>
#include <cstring>

#include "core/clock.h"
#include "core/units.h"
#include "loadgen/verify.h"

namespace fb {

namespace {

double Us(uint64_t ns) { return std::round(double(ns)) / 1e3; }
double Round3(double v) { return std::round(v * 1e3) / 1e3; }

// The nonzero buckets of `h` as [[index, count], ...] in ascending index: the
// interval's latencies in mergeable form, so a report over many intervals,
// jobs or agents computes its percentiles from the merged histogram.
nlohmann::json BucketsToJson(const Histogram& h) {
  nlohmann::json out = nlohmann::json::array();
  for (int i = 0; i < Histogram::kBucketCount; ++i) {
    if (uint64_t n = h.CountAt(i)) out.push_back({i, n});
  }
  return out;
}

nlohmann::json OpToJson(const OpCounters& c, double seconds, bool with_buckets) {
  const Histogram& h = c.latency;
  nlohmann::json j = {
      {"ios", c.ios},       {"iops", seconds > 0 ? Round3(double(c.ios) / seconds) : 0.0},
      {"bytes", c.bytes},   {"bytes_per_s", seconds > 0 ? std::round(double(c.bytes) / seconds) : 0.0},
      {"errors", c.errors},
  };
  if (h.count()) {
    j["lat_mean_us"] = Round3(h.mean() / 1e3);
    j["lat_min_us"] = Us(h.min());
    j["lat_p50_us"] = Us(h.Percentile(0.50));
    j["lat_p90_us"] = Us(h.Percentile(0.90));
    j["lat_p99_us"] = Us(h.Percentile(0.99));
    j["lat_p999_us"] = Us(h.Percentile(0.999));
    j["lat_max_us"] = Us(h.max());
    if (with_buckets) j["lat_hist"] = BucketsToJson(h);
  } else {
    for (const char* k : {"lat_mean_us", "lat_min_us", "lat_p50_us", "lat_p90_us", "lat_p99_us",
                          "lat_p999_us", "lat_max_us"}) {
      j[k] = nullptr;
    }
  }
  return j;
}

template <typename Array>
nlohmann::json ErrnoMap(const Array& counts) {
  nlohmann::json m = nlohmann::json::object();
  for (int e = 1; e < kErrnoSlots; ++e) {
    if (!counts[size_t(e)]) continue;
    const char* n = e == kErrnoSlots - 1 ? "other" : strerrorname_np(e);
    m[n ? n : "E" + std::to_string(e)] = counts[size_t(e)];
  }
  return m;
}

nlohmann::json IntegrityToJson(uint64_t verified, const std::array<uint64_t, 6>& f) {
  return {{"verified_blocks", verified},
          {"lost_writes", f[size_t(BlockVerdict::kLost)]},
          {"misdirected_writes", f[size_t(BlockVerdict::kMisdirected)]},
          {"corrupt_blocks", f[size_t(BlockVerdict::kCorrupt)]},
          {"phantom_writes", f[size_t(BlockVerdict::kPhantom)]}};
}

// The interval's first and last completion in UTC on the journal's anchor,
// like every other time in the journal; absent when nothing completed.
void AddCompletionTimes(const IntervalStats& s, const ClockAnchor& anchor, nlohmann::json* rec) {
  if (!s.first_completion_ns) return;
  (*rec)["first_completion_utc_ns"] = anchor.ToUtc(s.first_completion_ns);
  (*rec)["last_completion_utc_ns"] = anchor.ToUtc(s.last_completion_ns);
}

}  // namespace

nlohmann::json IntervalToJson(const IntervalStats& s, const nlohmann::json& job) {
  double seconds = double(s.end_ns - s.start_ns) / 1e9;
  nlohmann::json j = {
      {"job", job},
      {"interval", s.index},
      {"interval_s", Round3(seconds * 1e3) / 1e3},
      {"read", OpToJson(s.op[0], seconds, true)},
      {"write", OpToJson(s.op[1], seconds, true)},
      {"errors", s.op[0].errors + s.op[1].errors},
      {"inflight", s.inflight},
      {"oldest_inflight_age_ms", Round3(double(s.oldest_inflight_age_ns) / 1e6)},
      {"stall", s.stall_active},
  };
  if (s.op[0].errors) j["read"]["errors_by_errno"] = ErrnoMap(s.errors_by_errno[0]);
  if (s.op[1].errors) j["write"]["errors_by_errno"] = ErrnoMap(s.errors_by_errno[1]);
  if (s.missed_ios) j["missed_ios"] = s.missed_ios;
  if (s.verified_blocks || s.integrity[2] || s.integrity[3] || s.integrity[4] || s.integrity[5]) {
    j["verify"] = IntegrityToJson(s.verified_blocks, s.integrity);
  }
  if (s.ramp) j["ramp"] = true;
  if (s.drain) j["drain"] = true;
  return j;
}

nlohmann::json SummaryToJson(const LoadSummary& s) {
  nlohmann::json j = {
      {"measured_s", Round3(s.measured_s)},
      {"read", OpToJson(s.op[0], s.measured_s, false)},
      {"write", OpToJson(s.op[1], s.measured_s, false)},
      {"errors_total", s.errors_total},
      {"stalls", s.stalls},
      {"longest_stall_ms", Round3(double(s.longest_stall_ns) / 1e6)},
      {"total_stall_ms", Round3(double(s.total_stall_ns) / 1e6)},
      {"stop_reason", s.stop_reason},
  };
  if (s.op[0].errors) j["read"]["errors_by_errno"] = ErrnoMap(s.errors_by_errno[0]);
  if (s.op[1].errors) j["write"]["errors_by_errno"] = ErrnoMap(s.errors_by_errno[1]);
  if (s.missed_ios) j["missed_ios"] = s.missed_ios;
  if (s.abandoned_ios) j["abandoned_ios"] = s.abandoned_ios;
  if (s.verify) {
    nlohmann::json v = IntegrityToJson(s.verified_blocks, s.integrity);
    v["blocks_written"] = s.blocks_written;
    v["final_pass_complete"] = s.final_pass_complete;
    if (s.acks_dropped) v["acks_dropped"] = s.acks_dropped;
    j["verify"] = v;
  }
  return j;
}

void JournalSink::OnStart(const LoadStartInfo& info) {
  start_ns_ = info.start_ns;
  const Workload& w = *info.workload;
  nlohmann::json specs = nlohmann::json::array();
  for (const auto& s : w.specs) {
    specs.push_back({{"weight", s.weight},
                     {"block_size_bytes", s.block_size},
                     {"read_pct", s.read_fraction * 100},
                     {"random_pct", s.random_fraction * 100},
                     {"alignment_bytes", s.alignment ? s.alignment : s.block_size}});
  }
  nlohmann::json load = {
      {"engine", w.engine},
      {"targets", w.targets},
      {"target_size_bytes", info.target->size_bytes},
      {"target_is_block_device", info.target->is_block_device},
      {"access_specs", specs},
      {"jobs", w.jobs},
      {"queue_depth", w.queue_depth},
      {"offset_bytes", w.offset_bytes},
      {"region_bytes", w.size_bytes ? w.size_bytes : info.target->size_bytes - w.offset_bytes},
      {"duration_s", double(w.duration_ns) / 1e9},
      {"ramp_s", double(w.ramp_ns) / 1e9},
      {"rate_iops", w.rate_iops},
      {"interval_s", double(w.interval_ns) / 1e9},
      {"stall_threshold_ms", double(w.stall_threshold_ns) / 1e6},
      {"stuck_threshold_s", double(w.stuck_threshold_ns) / 1e9},
      {"direct", w.direct},
      {"dedupe_pct", w.dedupe_fraction * 100},
      {"compress_pct", w.compress_fraction * 100},
  };
  if (w.verify) {
    char id[24];
    snprintf(id, sizeof id, "%016llx", (unsigned long long)w.verify_run_id);
    load["verify"] = {
        {"verify_block_bytes", w.VerifyBlockBytes()}, {"verify_run_id", id}, {"ack_log", w.ack_log}};
  }
  nlohmann::json info_json = {{"load", load}};
  journal_->Stamp(start_ns_, &info_json["load_start"]);
  Keep(journal_->UpdateRunInfo(info_json));
  Event e;
  e.mono_ns = info.start_ns;
  e.source = "loadgen";
  e.kind = "load_started";
  e.message = "load started on " + info.target->name;
  Keep(journal_->AppendEvent(e));
}

void JournalSink::OnInterval(const IntervalReport& r) {
  for (size_t i = 0; i < r.jobs.size(); ++i) {
    if (!r.jobs[i]) continue;
    nlohmann::json rec = IntervalToJson(*r.jobs[i], int(i));
    AddCompletionTimes(*r.jobs[i], journal_->anchor(), &rec);
    journal_->Stamp(r.jobs[i]->end_ns, &rec);
    Keep(journal_->AppendSample(std::move(rec)));
  }
  nlohmann::json rec = IntervalToJson(*r.total, "all");
  AddCompletionTimes(*r.total, journal_->anchor(), &rec);
  journal_->Stamp(r.total->end_ns, &rec);
  Keep(journal_->AppendSample(std::move(rec)));
}

void JournalSink::OnStall(const StallRecord& s) {
  nlohmann::json rec = {
      {"job", s.job},
      {"inflight", s.inflight},
      {"oldest_age_ms", Round3(double(s.oldest_age_ns) / 1e6)},
      {"completions_before", s.completions_before}};
  nlohmann::json start, end;
  journal_->Stamp(s.start_ns, &start);
  rec["start_utc_ns"] = start["t_utc_ns"];
  rec["start"] = start["t"];
  rec["start_rel_s"] = start["t_rel_s"];
  if (s.end_ns) {
    journal_->Stamp(s.end_ns, &end);
    rec["end_utc_ns"] = end["t_utc_ns"];
    rec["end"] = end["t"];
    rec["end_rel_s"] = end["t_rel_s"];
    rec["duration_ms"] = Round3(double(s.end_ns - s.start_ns) / 1e6);
    journal_->Stamp(s.end_ns, &rec);
  } else {
    rec["end_utc_ns"] = nullptr;
    rec["open"] = true;
    journal_->Stamp(s.start_ns, &rec);
  }
  Keep(journal_->AppendStall(std::move(rec)));
}

void JournalSink::OnEvent(const Event& event) { Keep(journal_->AppendEvent(event)); }

void JournalSink::OnFinish(const LoadSummary& summary) {
  Event e;
  e.mono_ns = MonoNs();
  e.source = "loadgen";
  e.kind = "load_finished";
  e.message = "load finished (" + summary.stop_reason + ")";
  Keep(journal_->AppendEvent(e));
  Keep(journal_->UpdateRunInfo({{"load_summary", SummaryToJson(summary)}}));
}

}  // namespace fb
