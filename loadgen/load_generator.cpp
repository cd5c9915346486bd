#include "loadgen/load_generator.h"

#include <algorithm>
#include <cstring>

#include "core/clock.h"
#include "core/units.h"

namespace fb {

namespace {
constexpr int64_t kSamplerTickNs = 2 * kNsPerMs;
constexpr int64_t kStartDelayNs = 20 * kNsPerMs;  // lets every job thread be waiting at start

std::string Hex(uint64_t v) {
  char buf[24];
  snprintf(buf, sizeof buf, "%016llx", (unsigned long long)v);
  return buf;
}

std::string ErrnoName(int e) {
  const char* n = strerrorname_np(e);
  return n ? n : "E" + std::to_string(e);
}
}  // namespace

uint64_t LoadSummary::IntegrityFindings() const {
  return integrity[size_t(BlockVerdict::kLost)] + integrity[size_t(BlockVerdict::kMisdirected)] +
         integrity[size_t(BlockVerdict::kCorrupt)] + integrity[size_t(BlockVerdict::kPhantom)];
}

LoadGenerator::LoadGenerator(Workload w) : w_(std::move(w)) {}

LoadGenerator::~LoadGenerator() = default;

Status LoadGenerator::Prepare() {
  RegisterBuiltinEngines();
  FB_RETURN_IF_ERROR(ValidateWorkload(w_));
  auto t = EngineRegistry::Global().Probe(w_);
  if (!t.ok()) return t.status();
  target_ = std::move(t.value());
  control_.max_errors = w_.max_errors;
  for (int i = 0; i < w_.jobs; ++i) {
    auto engine = EngineRegistry::Global().Create(w_.engine);
    engine->SetEventCallback([this](const Event& e) {
      std::lock_guard<std::mutex> lock(engine_events_mu_);
      if (engine_events_.size() < 10000) engine_events_.push_back(e);
    });
    auto job = std::make_unique<Job>(i, w_, target_, std::move(engine), &control_);
    Status s = job->Open();
    if (!s.ok()) return s.With("job " + std::to_string(i));
    jobs_.push_back(std::move(job));
  }
  if (w_.verify && !w_.verify_run_id) w_.verify_run_id = VerifyRunId(std::to_string(UtcNs()));
  if (!w_.ack_log.empty()) {
    nlohmann::json header = {
        {"format", "faultbench-acklog"},
        {"version", 1},
        {"verify_run_id", Hex(w_.verify_run_id)},
        {"verify_block_bytes", w_.VerifyBlockBytes()},
        {"targets", w_.targets},
        {"target_size_bytes", target_.size_bytes},
        {"created_utc_ns", UtcNs()},
        {"record", "u64 offset, u32 generation, u32 ack_ms since load start (little-endian)"}};
    Status s = ack_log_.Open(w_.ack_log, header);
    if (!s.ok()) return Status::InvalidInput(s.message());
  }
  return Status::Ok();
}

void LoadGenerator::RequestStop() {
  int n = stop_requests_.fetch_add(1) + 1;
  control_.stop.store(true);
  if (n >= 2) control_.abandon.store(true);
}

uint32_t LoadGenerator::LiveInflight() const {
  uint32_t n = 0;
  for (const auto& j : jobs_) n += j->live_inflight();
  return n;
}

int64_t LoadGenerator::LiveStallSinceNs() const {
  int64_t since = 0;
  for (const auto& j : jobs_) {
    int64_t s = j->live_stall_since_ns();
    if (s && (!since || s < since)) since = s;
  }
  return since;
}

int64_t LoadGenerator::LiveOldestAgeNs(int64_t now_ns) const {
  int64_t age = 0;
  for (const auto& j : jobs_) {
    int64_t oldest = j->live_oldest_submit_ns();
    if (!oldest) continue;
    // An I/O seen at the last scan may have completed since, unless a stall is on.
    int64_t at = j->live_stall_since_ns() ? now_ns : j->live_scan_ns();
    age = std::max(age, at - oldest);
  }
  return age;
}

Status LoadGenerator::Run() {
  const int64_t now = MonoNs();
  start_ns_ = start_at_ns_ >= now + kStartDelayNs / 4 ? start_at_ns_ : now + kStartDelayNs;
  LoadStartInfo info{&w_, &target_, start_ns_};
  for (auto* s : sinks_) s->OnStart(info);
  summary_ = LoadSummary{};
  summary_.start_ns = start_ns_ + w_.ramp_ns;
  // In-flight I/O gets this long to finish after the runtime before the load
  // gives up on it (and reports it as abandoned in an open stall).
  const int64_t drain_timeout = std::max<int64_t>(w_.stuck_threshold_ns * 2, 10 * kNsPerSec);
  std::vector<std::thread> threads;
  for (auto& job : jobs_) {
    Job* j = job.get();
    threads.emplace_back([j, this, drain_timeout] { j->Run(start_ns_, drain_timeout); });
  }
  Sample();
  for (auto& t : threads) t.join();
  for (const auto& j : jobs_) {
    summary_.abandoned_ios += j->abandoned();
    summary_.acks_dropped += j->acks_dropped();
    if (const VerifyMap* m = j->verify_map()) {
      summary_.verify = true;
      for (size_t b = 0; b < m->blocks(); ++b)
        summary_.blocks_written += const_cast<VerifyMap*>(m)->highest(b) != 0;
    }
  }
  summary_.final_pass_complete = summary_.verify && final_passes_complete_ == int(jobs_.size());
  Status ack_status = ack_log_.Close();
  if (!ack_status.ok()) {
    Event e;
    e.mono_ns = MonoNs();
    e.source = "loadgen";
    e.kind = "ack_log_error";
    e.severity = Severity::kError;
    e.message = ack_status.message();
    EmitEvent(e);
  }
  summary_.measured_s = double(summary_.end_ns - summary_.start_ns) / 1e9;
  if (summary_.measured_s < 0) summary_.measured_s = 0;
  if (summary_.stop_reason.empty()) {
    summary_.stop_reason = stop_requests_.load() ? "interrupted" : "runtime";
  }
  for (auto* s : sinks_) s->OnFinish(summary_);
  return Status::Ok();
}

void LoadGenerator::EmitEvent(const Event& e) {
  for (auto* s : sinks_) s->OnEvent(e);
}

bool LoadGenerator::DrainJobRings() {
  bool any = false;
  for (auto& j : jobs_) {
    while (StallRecord* r = j->stalls().Front()) {
      StallRecord rec = *r;
      j->stalls().Release();
      any = true;
      if (rec.end_ns) {
        int64_t len = rec.end_ns - rec.start_ns;
        ++summary_.stalls;
        summary_.longest_stall_ns = std::max(summary_.longest_stall_ns, len);
        summary_.total_stall_ns += len;
      } else {
        ++summary_.stalls;
      }
      for (auto* s : sinks_) s->OnStall(rec);
    }
    while (JobEvent* ev = j->events().Front()) {
      JobEvent je = *ev;
      j->events().Release();
      any = true;
      Event e;
      e.mono_ns = je.t_ns;
      e.source = "loadgen";
      e.attrs = {
          {"job", je.job}, {"op", OpName(je.op)}, {"offset_bytes", je.offset}, {"length_bytes", je.length}};
      switch (je.type) {
        case JobEvent::Type::kStuckIo:
          e.kind = "io_stuck";
          e.severity = Severity::kWarning;
          e.message = "job " + std::to_string(je.job) + ": " + std::to_string(je.count) +
                      " I/Os in flight, the oldest for " + FormatDuration(je.age_ns) + " (" + OpName(je.op) +
                      " at offset " + std::to_string(je.offset) + ")";
          e.attrs["age_s"] = double(je.age_ns) / 1e9;
          e.attrs["inflight"] = je.count;
          break;
        case JobEvent::Type::kFirstError:
          e.kind = "io_error";
          e.severity = Severity::kError;
          e.message = "job " + std::to_string(je.job) + ": first I/O error: " + OpName(je.op) +
                      " at offset " + std::to_string(je.offset) + " failed with " + ErrnoName(je.err) + " (" +
                      strerror(je.err) + ")";
          e.attrs["errno"] = ErrnoName(je.err);
          break;
        case JobEvent::Type::kIntegrity: {
          auto v = BlockVerdict(je.verdict);
          e.kind = VerdictName(v);
          e.severity = Severity::kCritical;
          e.attrs["acked_generation"] = je.acked_generation;
          e.attrs["found_generation"] = je.found_generation;
          e.attrs["final_pass"] = je.final_pass;
          if (je.acked_ns) {
            e.attrs["acked_utc_ns"] = je.acked_ns + (UtcNs() - MonoNs());
            e.attrs["acked_rel_load_s"] = double(je.acked_ns - start_ns_) / 1e9;
          }
          if (je.found_write_utc_ns) e.attrs["found_written_utc_ns"] = je.found_write_utc_ns;
          std::string what =
              v == BlockVerdict::kLost
                  ? "holds generation " + std::to_string(je.found_generation) + " but generation " +
                        std::to_string(je.acked_generation) + " was acknowledged"
              : v == BlockVerdict::kMisdirected
                  ? "holds the block written for offset " + std::to_string(je.found_offset)
              : v == BlockVerdict::kCorrupt
                  ? "fails its checksum (generation " + std::to_string(je.found_generation) + ")"
                  : "holds generation " + std::to_string(je.found_generation) + ", newer than any submitted";
          if (v == BlockVerdict::kMisdirected) e.attrs["found_offset_bytes"] = je.found_offset;
          e.message = "block at offset " + std::to_string(je.offset) + " " + what +
                      (je.final_pass ? " (read-back after the run)" : "");
          break;
        }
        case JobEvent::Type::kVerifyPass:
          e.kind = "verify_pass";
          e.message = "job " + std::to_string(je.job) + ": read back " + std::to_string(je.count) +
                      " chunks in " + FormatDuration(je.age_ns) +
                      (je.offset ? "" : " (incomplete: stopped early)");
          e.attrs["reads"] = je.count;
          e.attrs["complete"] = je.offset == 1;
          if (je.offset == 1) ++final_passes_complete_;
          break;
        case JobEvent::Type::kMaxErrors:
          e.kind = "max_errors";
          e.severity = Severity::kError;
          e.message = "stopping: " + std::to_string(je.count) + " I/O errors reached --max-errors";
          summary_.stop_reason = "max-errors";
          break;
      }
      EmitEvent(e);
    }
  }
  for (auto& j : jobs_) {
    while (AckRecord* a = j->acks().Front()) {
      ack_log_.Add(*a);
      j->acks().Release();
    }
  }
  int64_t now = MonoNs();
  bool sync = now - ack_synced_ns_ >= 100 * kNsPerMs;
  if (sync) ack_synced_ns_ = now;
  Status ack = ack_log_.Flush(sync);
  if (!ack.ok() && !ack_failed_) {
    ack_failed_ = true;
    Event e;
    e.mono_ns = now;
    e.source = "loadgen";
    e.kind = "ack_log_error";
    e.severity = Severity::kError;
    e.message = ack.message();
    EmitEvent(e);
  }
  std::vector<Event> engine_events;
  {
    std::lock_guard<std::mutex> lock(engine_events_mu_);
    engine_events.swap(engine_events_);
  }
  for (const auto& e : engine_events) EmitEvent(e);
  return any || !engine_events.empty();
}

void LoadGenerator::Summarize(const IntervalStats& s) {
  for (int op = 0; op < kOpCount; ++op) {
    for (int e = 0; e < kErrnoSlots; ++e) {
      summary_.errors_by_errno[size_t(op)][size_t(e)] += s.errors_by_errno[size_t(op)][size_t(e)];
    }
    summary_.errors_total += s.op[size_t(op)].errors;
  }
  summary_.verified_blocks += s.verified_blocks;
  for (size_t i = 0; i < s.integrity.size(); ++i) summary_.integrity[i] += s.integrity[i];
  if (s.ramp || s.drain) return;
  for (int op = 0; op < kOpCount; ++op) summary_.op[size_t(op)].Merge(s.op[size_t(op)]);
  summary_.missed_ios += s.missed_ios;
  summary_.end_ns = std::max(summary_.end_ns, s.end_ns);
}

void LoadGenerator::Sample() {
  IntervalReport report;
  report.jobs.resize(jobs_.size());
  while (true) {
    bool progress = DrainJobRings();
    // An interval is complete when every job still running has closed it.
    bool ready = true, any_front = false;
    bool all_done = true;
    for (size_t i = 0; i < jobs_.size(); ++i) {
      bool done = jobs_[i]->finished();
      IntervalStats* f = jobs_[i]->intervals().Front();
      if (f) any_front = true;
      if (!done) all_done = false;
      if (!f && !done) ready = false;
    }
    if (any_front && ready) {
      // The lowest index at the fronts is the interval to merge.
      int64_t idx = INT64_MAX;
      for (auto& j : jobs_) {
        if (IntervalStats* f = j->intervals().Front()) idx = std::min(idx, f->index);
      }
      merged_.ResetCounters();
      merged_.index = idx;
      merged_.start_ns = INT64_MAX;
      merged_.end_ns = 0;
      for (size_t i = 0; i < jobs_.size(); ++i) {
        IntervalStats* f = jobs_[i]->intervals().Front();
        report.jobs[i] = (f && f->index == idx) ? f : nullptr;
        if (!report.jobs[i]) continue;
        merged_.Merge(*f);
        merged_.start_ns = std::min(merged_.start_ns, f->start_ns);
        merged_.end_ns = std::max(merged_.end_ns, f->end_ns);
      }
      report.total = &merged_;
      Summarize(merged_);
      for (auto* s : sinks_) s->OnInterval(report);
      for (size_t i = 0; i < jobs_.size(); ++i) {
        if (report.jobs[i]) jobs_[i]->intervals().Release();
      }
      continue;
    }
    if (all_done && !any_front) {
      DrainJobRings();
      break;
    }
    if (!progress) SleepUntilMono(MonoNs() + kSamplerTickNs);
  }
}

}  // namespace fb
