#include "loadgen/job.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "core/clock.h"

namespace fb {

namespace {
constexpr size_t kIntervalRing = 64;
constexpr size_t kStallRing = 256;
constexpr size_t kEventRing = 256;
constexpr size_t kAckRing = 1 << 16;
constexpr int64_t kWatchTickNs = 50 * kNsPerMs;  // stall flag and stuck watchdog resolution

uint64_t RegionSize(const Workload& w, const TargetInfo& t) {
  return w.size_bytes ? w.size_bytes : t.size_bytes - w.offset_bytes;
}

// With verify, each job owns a slice of the region so no two jobs ever have the
// same block in flight; otherwise all jobs share the region.
struct Slice {
  uint64_t offset, bytes;
  int job, jobs;
};
Slice SliceOf(const Workload& w, const TargetInfo& t, int index) {
  uint64_t region = RegionSize(w, t);
  if (!w.verify) return {w.offset_bytes, region, index, w.jobs};
  uint64_t align = w.MaxBlockSize();
  uint64_t per_job = region / uint64_t(w.jobs) / align * align;
  return {w.offset_bytes + per_job * uint64_t(index), per_job, 0, 1};
}
}  // namespace

Job::Job(int index, const Workload& w, const TargetInfo& target, std::unique_ptr<Engine> engine,
         LoadControl* control)
    : index_(index),
      w_(w),
      target_(target),
      engine_(std::move(engine)),
      control_(control),
      pattern_(w, SliceOf(w, target, index).offset, SliceOf(w, target, index).bytes,
               SliceOf(w, target, index).job, SliceOf(w, target, index).jobs,
               (w.seed ? w.seed : uint64_t(UtcNs())) * 1000003ULL + uint64_t(index)),
      intervals_(kIntervalRing),
      stalls_(kStallRing),
      events_(w.verify ? kEventRing * 16 : kEventRing),
      acks_(w.ack_log.empty() ? 2 : kAckRing) {}

Job::~Job() {
  engine_.reset();
  free(buffers_);
  free(dedupe_buffer_);
}

Status Job::Open() {
  const size_t qd = size_t(w_.queue_depth);
  const size_t bs = w_.MaxBlockSize();
  const size_t align = 4096;
  slot_bytes_ = (bs + align - 1) / align * align;
  if (posix_memalign(reinterpret_cast<void**>(&buffers_), align, slot_bytes_ * 2 * qd) != 0) {
    return Status::Internal("cannot allocate " + std::to_string(slot_bytes_ * 2 * qd) +
                            " bytes of I/O buffers");
  }
  if (posix_memalign(reinterpret_cast<void**>(&dedupe_buffer_), align, slot_bytes_) != 0) {
    return Status::Internal("cannot allocate the dedupe buffer");
  }
  // Write content: random bytes, except a compress_fraction tail of zeros in
  // every 4 KiB; one shared pattern for the dedupable share of writes.
  stamp_bytes_per_4k_ = uint32_t(4096 * (1.0 - w_.compress_fraction)) / 8 * 8;
  Rng fill(uint64_t(UtcNs()) ^ uint64_t(index_) << 32);
  auto fill_buffer = [&](uint8_t* p, size_t n) {
    for (size_t off = 0; off < n; off += 8) {
      uint64_t v = (off % 4096) < stamp_bytes_per_4k_ ? fill.Next() : 0;
      memcpy(p + off, &v, 8);
    }
  };
  fill_buffer(buffers_, slot_bytes_ * 2 * qd);
  fill_buffer(dedupe_buffer_, slot_bytes_);

  ios_.resize(qd);
  inflight_flag_.assign(qd, 0);
  free_slots_.clear();
  free_slots_.reserve(qd);
  for (size_t i = 0; i < qd; ++i) {
    ios_[i].slot = uint32_t(i);
    free_slots_.push_back(uint32_t(qd - 1 - i));
  }
  reaped_.resize(qd);
  if (w_.verify) {
    Slice sl = SliceOf(w_, target_, index_);
    if (sl.bytes < w_.MaxBlockSize()) {
      return Status::InvalidInput("with verify, each of the " + std::to_string(w_.jobs) +
                                  " jobs needs its own slice of at least one block; the region is too small");
    }
    verify_ =
        std::make_unique<VerifyMap>(sl.offset, sl.bytes, w_.VerifyBlockBytes(), w_.verify_generation_base);
  }
  if (w_.rate_iops > 0) {
    period_ns_ = int64_t(1e9 * w_.jobs / w_.rate_iops);
    if (period_ns_ < 1) period_ns_ = 1;
  }
  return engine_->Open(target_, w_, ios_);
}

void Job::PushEvent(const JobEvent& e) {
  if (JobEvent* slot = events_.BeginWrite()) {
    *slot = e;
    events_.Publish();
  }
}

void Job::CloseInterval(int64_t boundary) {
  cur_->end_ns = boundary;
  cur_->inflight = inflight_;
  int64_t oldest = OldestSubmit();
  cur_->oldest_inflight_age_ns = oldest && oldest < boundary ? boundary - oldest : 0;
  cur_->missed_ios = missed_;
  missed_ = 0;
  cur_->stall_active = inflight_ > 0 && boundary - last_progress_ns_ > w_.stall_threshold_ns;
  // Keep one slot in hand: if the sampler is far behind, this interval absorbs
  // the next one instead of being lost.
  if (intervals_.FreeSlots() < 2) return;
  intervals_.Publish();
  cur_ = intervals_.BeginWrite();
  cur_->ResetCounters();
}

void Job::RollIntervals(int64_t t) {
  while (t >= next_boundary_ns_) {
    CloseInterval(next_boundary_ns_);
    ++interval_index_;
    cur_->index = interval_index_;
    cur_->start_ns = next_boundary_ns_;
    cur_->ramp = next_boundary_ns_ < ramp_end_ns_;
    cur_->drain = next_boundary_ns_ >= end_ns_;
    next_boundary_ns_ += w_.interval_ns;
  }
}

int64_t Job::OldestSubmit() const {
  if (!inflight_) return 0;
  int64_t oldest = INT64_MAX;
  for (size_t i = 0; i < ios_.size(); ++i) {
    if (inflight_flag_[i] && ios_[i].submit_ns < oldest) oldest = ios_[i].submit_ns;
  }
  return oldest == INT64_MAX ? 0 : oldest;
}

void Job::PrepareWrite(Io* io) {
  if (verify_) {
    io->buffer = buffers_ + (size_t(io->slot) * 2 + 1) * slot_bytes_;
    const uint32_t vb = verify_->block_bytes();
    const int64_t utc = UtcNs();
    for (uint32_t off = 0; off < io->length; off += vb) {
      size_t b = verify_->IndexOf(io->offset + off);
      uint32_t gen = ++verify_->highest(b);
      StampBlock(io->buffer + off, vb, w_.verify_run_id, io->offset + off, gen, utc);
    }
    return;
  }
  if (w_.dedupe_fraction > 0 && pattern_.rng().Unit() < w_.dedupe_fraction) {
    io->buffer = dedupe_buffer_;
    return;
  }
  io->buffer = buffers_ + (size_t(io->slot) * 2 + 1) * slot_bytes_;
  // A unique word in every 512-byte sector of the incompressible part keeps
  // each write non-dedupable at any granularity an array uses.
  uint64_t stamp = ++write_counter_ * 0x9e3779b97f4a7c15ULL ^ pattern_.rng().Next();
  for (uint32_t off = 0; off < io->length; off += 512) {
    if ((off % 4096) < stamp_bytes_per_4k_) {
      memcpy(io->buffer + off, &stamp, 8);
      stamp += 0x632be59bd9b4e019ULL;
    }
  }
}

void Job::Issue(int64_t now) {
  bool queued_any = false;
  while (!free_slots_.empty()) {
    int64_t sched = now;
    if (period_ns_) {
      if (next_sched_ns_ > now) break;
      sched = next_sched_ns_;
      if (!w_.rate_catch_up && now - next_sched_ns_ > period_ns_) {
        // Behind schedule (a stall): this I/O carries the wait of the oldest
        // missed slot; the others are skipped, not issued in a burst.
        int64_t behind = (now - next_sched_ns_) / period_ns_;
        missed_ += uint64_t(behind);
        next_sched_ns_ += (behind + 1) * period_ns_;
      } else {
        next_sched_ns_ += period_ns_;
      }
    }
    uint32_t slot = free_slots_.back();
    Io* io = &ios_[slot];
    IoChoice c = pattern_.Next();
    if (verify_) {
      // Never two I/Os on one block at once: their order would be undefined.
      for (int tries = 0; tries < 8 && verify_->Busy(c.offset, c.length); ++tries) c = pattern_.Next();
      if (verify_->Busy(c.offset, c.length)) break;
    }
    io->op = c.op;
    io->offset = c.offset;
    io->length = c.length;
    if (c.op == OpType::kWrite) {
      PrepareWrite(io);
    } else {
      io->buffer = buffers_ + size_t(slot) * 2 * slot_bytes_;
    }
    io->submit_ns = now;
    io->sched_ns = sched;
    io->result = 0;
    QueueResult r = engine_->Queue(io);
    if (r == QueueResult::kBusy) {
      if (verify_ && c.op == OpType::kWrite) UnstampWrite(io);
      break;
    }
    if (verify_) verify_->SetBusy(io->offset, io->length, true);
    free_slots_.pop_back();
    // The gap clock starts when I/O is outstanding, or was due: an open-loop
    // I/O issued late (the load itself was frozen, as a VM in its migration's
    // stop-and-copy) counts its wait from its slot in the schedule.
    if (inflight_ == 0) last_progress_ns_ = std::max(last_progress_ns_, sched);
    ++inflight_;
    inflight_flag_[slot] = 1;
    if (r == QueueResult::kCompleted) {
      int64_t t = MonoNs();
      RollIntervals(t);  // the completion belongs to the interval it happened in
      Complete(io, t);
    } else {
      queued_any = true;
    }
  }
  if (queued_any) engine_->Commit();
}

void Job::UnstampWrite(Io* io) {
  for (uint32_t off = 0; off < io->length; off += verify_->block_bytes())
    --verify_->highest(verify_->IndexOf(io->offset + off));
}

void Job::VerifyCompletion(const Io* io, int64_t t, bool final_pass) {
  const uint32_t vb = verify_->block_bytes();
  for (uint32_t off = 0; off < io->length; off += vb) {
    uint64_t offset = io->offset + off;
    size_t b = verify_->IndexOf(offset);
    if (io->op == OpType::kWrite) {
      verify_->acked(b) = verify_->highest(b);
      verify_->ack_ms(b) = uint32_t((t - start_ns_) / kNsPerMs);
      if (w_.ack_log.empty()) continue;
      if (AckRecord* a = acks_.BeginWrite()) {
        *a = {offset, verify_->acked(b), verify_->ack_ms(b)};
        acks_.Publish();
      } else {
        ++acks_dropped_;
      }
      continue;
    }
    uint32_t acked = verify_->acked(b);
    BlockCheck c = CheckBlock(io->buffer + off, vb, w_.verify_run_id, offset, acked, verify_->highest(b));
    if (c.verdict == BlockVerdict::kNotOurs) continue;
    ++cur_->verified_blocks;
    if (c.verdict == BlockVerdict::kOk) {
      if (c.found_generation > acked)
        verify_->acked(b) = c.found_generation;  // an unacknowledged write landed
      continue;
    }
    ++cur_->integrity[size_t(c.verdict)];
    // Report a lost block once: what it holds now is what later reads expect.
    if (c.verdict == BlockVerdict::kLost) verify_->acked(b) = c.found_generation;
    JobEvent e{JobEvent::Type::kIntegrity, index_, t, io->op, offset, vb};
    e.verdict = uint8_t(c.verdict);
    e.final_pass = final_pass;
    e.acked_generation = acked;
    e.found_generation = c.found_generation;
    e.found_offset = c.found_offset;
    e.acked_ns = acked ? start_ns_ + int64_t(verify_->ack_ms(b)) * kNsPerMs : 0;
    e.found_write_utc_ns = c.found_write_utc_ns;
    PushEvent(e);
  }
}

void Job::Complete(Io* io, int64_t t) {
  OpCounters& c = cur_->op[size_t(io->op)];
  if (io->result == int64_t(io->length)) {
    ++c.ios;
    c.bytes += io->length;
    c.latency.Record(uint64_t(t - io->sched_ns));
    if (!cur_->first_completion_ns) cur_->first_completion_ns = t;
    cur_->last_completion_ns = t;
    if (verify_) VerifyCompletion(io, t, final_pass_);
  } else {
    int err = io->result < 0 ? int(-io->result) : EIO;  // a short transfer counts as EIO
    ++c.errors;
    ++cur_->errors_by_errno[size_t(io->op)][size_t(err < kErrnoSlots ? err : kErrnoSlots - 1)];
    uint64_t total = control_->errors.fetch_add(1, std::memory_order_relaxed) + 1;
    if (!first_error_reported_) {
      first_error_reported_ = true;
      PushEvent({JobEvent::Type::kFirstError, index_, t, io->op, io->offset, io->length, t - io->submit_ns,
                 err, 1});
    }
    if (control_->max_errors && total == control_->max_errors) {
      PushEvent(
          {JobEvent::Type::kMaxErrors, index_, t, io->op, io->offset, io->length, 0, err, uint32_t(total)});
      control_->stop.store(true, std::memory_order_relaxed);
    }
  }
  if (verify_) verify_->SetBusy(io->offset, io->length, false);
  inflight_flag_[io->slot] = 0;
  --inflight_;
  free_slots_.push_back(io->slot);
}

void Job::CheckStall(int64_t now) {
  bool on = inflight_ > 0 && now - last_progress_ns_ > w_.stall_threshold_ns;
  live_stall_since_.store(on ? last_progress_ns_ : 0, std::memory_order_relaxed);
  int64_t oldest = OldestSubmit();
  live_oldest_submit_.store(oldest, std::memory_order_relaxed);
  live_scan_ns_.store(now, std::memory_order_relaxed);
  if (!on || stuck_reported_) return;
  if (oldest && now - oldest > w_.stuck_threshold_ns) {
    stuck_reported_ = true;
    const Io* o = nullptr;
    for (size_t i = 0; i < ios_.size(); ++i) {
      if (inflight_flag_[i] && ios_[i].submit_ns == oldest) o = &ios_[i];
    }
    PushEvent({JobEvent::Type::kStuckIo, index_, now, o ? o->op : OpType::kRead, o ? o->offset : 0,
               o ? o->length : 0, now - oldest, 0, inflight_});
  }
}

void Job::FinalVerifyPass(int64_t deadline_ns) {
  final_pass_ = true;
  last_progress_ns_ = MonoNs();
  const VerifyMap& m = *verify_;
  const uint32_t vb = m.block_bytes();
  const uint32_t chunk = w_.MaxBlockSize() / vb * vb;
  const uint64_t end = m.slice_offset() + m.slice_bytes();
  uint64_t pos = m.slice_offset();
  uint64_t reads = 0;
  int64_t t0 = MonoNs();
  while (true) {
    int64_t now = MonoNs();
    bool queued = false;
    while (!free_slots_.empty() && pos < end) {
      uint32_t len = uint32_t(std::min<uint64_t>(chunk, end - pos));
      bool written = false;
      for (size_t b = m.IndexOf(pos), last = m.IndexOf(pos + len - 1); b <= last && !written; ++b) {
        written = verify_->highest(b) != verify_->generation_base();
      }
      if (!written) {
        pos += len;
        continue;
      }
      uint32_t slot = free_slots_.back();
      Io* io = &ios_[slot];
      *io = Io{pos, len,  OpType::kRead,  buffers_ + size_t(slot) * 2 * slot_bytes_, now, now,
               0,   slot, io->engine_data};
      QueueResult r = engine_->Queue(io);
      if (r == QueueResult::kBusy) break;
      free_slots_.pop_back();
      ++inflight_;
      inflight_flag_[slot] = 1;
      ++reads;
      pos += len;
      if (r == QueueResult::kCompleted) {
        int64_t t = MonoNs();
        RollIntervals(t);
        Complete(io, t);
      } else {
        queued = true;
      }
    }
    if (queued) engine_->Commit();
    if (inflight_ == 0 && pos >= end) break;
    if (now >= deadline_ns || control_->abandon.load(std::memory_order_relaxed)) break;
    int n = engine_->Reap(1, int(reaped_.size()), std::min<int64_t>(50 * kNsPerMs, deadline_ns - now),
                          reaped_.data());
    int64_t t = MonoNs();
    RollIntervals(t);
    for (int i = 0; i < n; ++i) Complete(reaped_[size_t(i)], t);
    if (n > 0) last_progress_ns_ = t;
  }
  JobEvent e{JobEvent::Type::kVerifyPass, index_, MonoNs()};
  e.count = uint32_t(std::min<uint64_t>(reads, UINT32_MAX));
  e.age_ns = MonoNs() - t0;
  e.offset = pos >= end ? 1 : 0;  // 1: the whole slice was read back
  PushEvent(e);
  final_pass_ = false;
}

void Job::Run(int64_t start_ns, int64_t drain_timeout_ns) {
  start_ns_ = start_ns;
  end_ns_ = start_ns + w_.duration_ns;
  ramp_end_ns_ = start_ns + w_.ramp_ns;
  next_boundary_ns_ = start_ns + w_.interval_ns;
  next_sched_ns_ = start_ns;
  next_watch_ns_ = start_ns + kWatchTickNs;
  cur_ = intervals_.BeginWrite();
  cur_->ResetCounters();
  cur_->index = 0;
  cur_->start_ns = start_ns;
  cur_->ramp = w_.ramp_ns > 0;
  SleepUntilMono(start_ns);

  int64_t drain_deadline = INT64_MAX;
  int64_t now = MonoNs();
  while (true) {
    if (!stopping_ && (now >= end_ns_ || control_->stop.load(std::memory_order_relaxed))) {
      stopping_ = true;
      drain_deadline = now + drain_timeout_ns;
    }
    if (stopping_ &&
        (inflight_ == 0 || now >= drain_deadline || control_->abandon.load(std::memory_order_relaxed))) {
      break;
    }
    if (!stopping_) Issue(now);
    // Published after issuing, so the live view sees the queue as the device does.
    if (now >= next_watch_ns_) live_inflight_.store(inflight_, std::memory_order_relaxed);

    int64_t deadline = std::min(next_boundary_ns_, next_watch_ns_);
    if (!stopping_) {
      deadline = std::min(deadline, end_ns_);
      if (period_ns_ && !free_slots_.empty()) deadline = std::min(deadline, next_sched_ns_);
    } else {
      deadline = std::min(deadline, drain_deadline);
    }
    int n = engine_->Reap(1, int(reaped_.size()), deadline - now, reaped_.data());
    int64_t t = MonoNs();
    RollIntervals(t);
    if (n > 0) {
      if (t - last_progress_ns_ > w_.stall_threshold_ns && inflight_ > 0) {
        if (StallRecord* s = stalls_.BeginWrite()) {
          int64_t oldest = OldestSubmit();
          *s = {index_, last_progress_ns_, t, inflight_, oldest ? t - oldest : 0, completions_since_stall_};
          stalls_.Publish();
        }
        completions_since_stall_ = 0;
      }
      completions_since_stall_ += uint64_t(n);
      for (int i = 0; i < n; ++i) Complete(reaped_[size_t(i)], t);
      last_progress_ns_ = t;
      stuck_reported_ = false;
      if (live_stall_since_.load(std::memory_order_relaxed))
        live_stall_since_.store(0, std::memory_order_relaxed);
    }
    if (t >= next_watch_ns_) {
      CheckStall(t);  // O(queue depth): only on watch ticks, never per completion
      next_watch_ns_ = t + kWatchTickNs;
    }
    now = t;
  }

  // A stall still open when the job gave up waiting.
  if (inflight_ > 0) {
    abandoned_ = inflight_;
    if (now - last_progress_ns_ > w_.stall_threshold_ns) {
      if (StallRecord* s = stalls_.BeginWrite()) {
        int64_t oldest = OldestSubmit();
        *s = {index_, last_progress_ns_, 0, inflight_, oldest ? now - oldest : 0, completions_since_stall_};
        stalls_.Publish();
      }
    }
  }
  if (verify_ && w_.verify_final_pass && inflight_ == 0 &&
      !control_->abandon.load(std::memory_order_relaxed)) {
    FinalVerifyPass(now + drain_timeout_ns * 30);
    now = MonoNs();
  }
  // Close the last (partial) interval.
  CloseInterval(std::max(now, cur_->start_ns));
  live_inflight_.store(inflight_, std::memory_order_relaxed);
  live_stall_since_.store(0, std::memory_order_relaxed);
  live_oldest_submit_.store(0, std::memory_order_relaxed);
  if (inflight_ == 0) engine_->Close();  // with I/O stuck in a frozen device, closing would block
  finished_.store(true, std::memory_order_release);
}

}  // namespace fb
