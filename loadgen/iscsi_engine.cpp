// The libiscsi engine (iscsi_engine.h: NewIscsiEngine, the counters): its
// Engine hooks and its I/O path (IscsiEngine, iscsi_engine_impl.h). Queue puts
// an I/O in the pending ring, Dispatch sends it on a path (READ(16) / WRITE(16)
// straight from and into io->buffer), Reap polls the sockets and hands back
// completions; OnIoDone turns each SCSI status into a result or a retry.
#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "loadgen/iscsi_engine_impl.h"

namespace fb {

IscsiCounters& GlobalIscsiCounters() {
  static IscsiCounters counters;
  return counters;
}

namespace iscsi_internal {
namespace {

void IoCallback(iscsi_context*, int status, void*, void* private_data) {
  auto* s = static_cast<Slot*>(private_data);
  if (s->path < 0) return;  // already given up with its context
  s->engine->OnIoDone(s, status);
}

int ErrnoForSense(int key) {
  switch (key) {
    case SCSI_SENSE_ILLEGAL_REQUEST:
      return EINVAL;
    case SCSI_SENSE_DATA_PROTECTION:
      return EROFS;
    default:
      return EIO;
  }
}

void PutBe(uint8_t* p, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i, v >>= 8) p[i] = uint8_t(v);
}

}  // namespace

QueueResult IscsiEngine::Queue(Io* io) {
  if (io->offset % block_bytes_ || io->length % block_bytes_ || io->length == 0) {
    io->result = -EINVAL;
    return QueueResult::kCompleted;
  }
  static_cast<Slot*>(io->engine_data)->scsi_retries = 0;
  PushPending(static_cast<Slot*>(io->engine_data));
  return QueueResult::kQueued;
}

Status IscsiEngine::Commit() {
  Dispatch(MonoNs());
  return Status::Ok();
}

int IscsiEngine::Reap(int min, int max, int64_t timeout_ns, Io** out) {
  int64_t now = MonoNs();
  const int64_t deadline = now + std::max<int64_t>(timeout_ns, 0);
  int n = 0;
  while (true) {
    RunTimers(now);
    Dispatch(now);
    size_t taken = 0;
    while (n < max && taken < completed_.size()) out[n++] = completed_[taken++];
    if (taken) completed_.erase(completed_.begin(), completed_.begin() + long(taken));  // never allocates
    if (n >= max || n >= std::max(min, 1) || min <= 0 || now >= deadline) return n;
    Poll(std::min(deadline, NextTimer(now)));
    now = MonoNs();
  }
}

void IscsiEngine::OnIoDone(Slot* s, int status) {
  Path& p = paths_[size_t(s->path)];
  --p.inflight;
  s->path = -1;
  Io* io = s->io;
  scsi_task& t = s->task;
  auto& counters = GlobalIscsiCounters();
  switch (status) {
    case SCSI_STATUS_GOOD:
      io->result =
          int64_t(io->length) - (t.residual_status == SCSI_RESIDUAL_UNDERFLOW ? int64_t(t.residual) : 0);
      completed_.push_back(io);
      return;
    case SCSI_STATUS_CHECK_CONDITION: {
      int key = int(t.sense.key) & 0xf;
      free(t.datain.data);  // the sense bytes libiscsi allocated for us
      t.datain.data = nullptr;
      counters.scsi_errors.fetch_add(1, std::memory_order_relaxed);
      counters.sense_keys[size_t(key)].fetch_add(1, std::memory_order_relaxed);
      bool retryable = key == SCSI_SENSE_UNIT_ATTENTION || key == SCSI_SENSE_COMMAND_ABORTED ||
                       key == SCSI_SENSE_NOT_READY;
      if (key == SCSI_SENSE_NOT_READY && !p.lost_reason) p.lost_reason = "scsi_status";
      if (retryable && ++s->scsi_retries <= kMaxScsiRetries) {
        Retry(s);
      } else {
        io->result = -ErrnoForSense(key);
        completed_.push_back(io);
      }
      return;
    }
    case SCSI_STATUS_RESERVATION_CONFLICT:
      counters.scsi_errors.fetch_add(1, std::memory_order_relaxed);
      io->result = -EBADE;
      completed_.push_back(io);
      return;
    case SCSI_STATUS_CANCELLED:
      if (!p.cancelling && !p.lost_reason) p.lost_reason = "connection_reset";
      Retry(s);
      return;
    default:  // SCSI_STATUS_ERROR, TIMEOUT, BUSY, TASK SET FULL ...: the session is unusable
      if (!p.lost_reason) p.lost_reason = "protocol_error";
      Retry(s);
      return;
  }
}

int IscsiEngine::PickPath() {
  const int n = int(paths_.size());
  // Failover: only the first portal with an active session, round-robin over
  // its active sessions. Round-robin: every active session.
  int portal = -1;
  if (opt_.path_policy == PathPolicy::kFailover) {
    for (const auto& p : paths_) {
      if (p.state == PathState::kActive) {
        portal = p.portal;
        break;
      }
    }
    if (portal < 0) return -1;
  }
  for (int k = 1; k <= n; ++k) {
    int i = (rr_ + k) % n;
    const Path& p = paths_[size_t(i)];
    if (p.state == PathState::kActive && (portal < 0 || p.portal == portal)) {
      rr_ = i;
      return i;
    }
  }
  return -1;
}

void IscsiEngine::Dispatch(int64_t now) {
  uint64_t sent_mask = 0;
  while (pending_count_ > 0) {
    int pi = PickPath();
    if (pi < 0) break;
    Slot* s = pending_[pending_head_];
    pending_head_ = (pending_head_ + 1) % pending_.size();
    --pending_count_;
    if (Send(s, paths_[size_t(pi)], now)) {
      sent_mask |= uint64_t(1) << (pi & 63);
    } else {
      PushPending(s);
      FailPath(paths_[size_t(pi)], "protocol_error", now);
    }
  }
  // Write what was queued now rather than at the next poll.
  for (auto& p : paths_) {
    if ((sent_mask >> (p.index & 63) & 1) && p.state == PathState::kActive) ServicePath(p, POLLOUT, now);
  }
  if (pending_count_ == 0 || ActivePaths() > 0) {
    no_path_since_ns_ = 0;
    return;
  }
  if (!no_path_since_ns_) no_path_since_ns_ = now;
  if (now - no_path_since_ns_ < opt_.no_path_timeout_ns) return;
  while (pending_count_ > 0) {
    Slot* s = pending_[pending_head_];
    pending_head_ = (pending_head_ + 1) % pending_.size();
    --pending_count_;
    s->io->result = -EIO;
    completed_.push_back(s->io);
  }
}

bool IscsiEngine::Send(Slot* s, Path& p, int64_t now) {
  Io* io = s->io;
  scsi_task& t = s->task;
  memset(&t, 0, sizeof t);
  const bool read = io->op == OpType::kRead;
  t.cdb[0] = read ? 0x88 : 0x8a;  // READ(16) / WRITE(16)
  PutBe(&t.cdb[2], io->offset / block_bytes_, 8);
  PutBe(&t.cdb[10], io->length / block_bytes_, 4);
  t.cdb_size = 16;
  t.xfer_dir = read ? SCSI_XFER_READ : SCSI_XFER_WRITE;
  t.expxferlen = int(io->length);
  s->iov = {io->buffer, io->length};
  if (read) {
    scsi_task_set_iov_in(&t, &s->iov, 1);
  } else {
    scsi_task_set_iov_out(&t, &s->iov, 1);
  }
  if (iscsi_scsi_command_async(p.ctx, p.url.lun, &t, IoCallback, nullptr, s) != 0) return false;
  s->path = p.index;
  s->path_sent_ns = now;
  ++p.inflight;
  return true;
}

void IscsiEngine::Poll(int64_t until_ns) {
  nfds_t n = 0;
  for (auto& p : paths_) {
    if (!p.ctx || p.state == PathState::kDown) continue;
    int ev = iscsi_which_events(p.ctx);
    if (ev == 0) continue;
    pfds_[n] = {iscsi_get_fd(p.ctx), short(ev | (p.state == PathState::kActive ? POLLRDHUP : 0)), 0};
    pfd_path_[n++] = p.index;
  }
  int64_t wait = std::max<int64_t>(until_ns - MonoNs(), 0);
  timespec ts{time_t(wait / kNsPerSec), long(wait % kNsPerSec)};
  int rc = ppoll(pfds_.data(), n, &ts, nullptr);
  if (rc <= 0) return;  // timeout or EINTR
  int64_t now = MonoNs();
  for (nfds_t i = 0; i < n; ++i) {
    if (pfds_[i].revents) ServicePath(paths_[size_t(pfd_path_[i])], pfds_[i].revents, now);
  }
}

}  // namespace iscsi_internal

std::unique_ptr<Engine> NewIscsiEngine() { return std::make_unique<iscsi_internal::IscsiEngine>(); }

}  // namespace fb
