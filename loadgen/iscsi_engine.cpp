#include "loadgen/iscsi_engine.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

// clang-format off
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>
// clang-format on

#include "core/clock.h"
#include "core/units.h"
#include "loadgen/iscsi_session.h"

namespace fb {

IscsiCounters& GlobalIscsiCounters() {
  static IscsiCounters counters;
  return counters;
}

namespace {

constexpr int kMaxScsiRetries = 5;
constexpr int64_t kBackoffMinNs = 250 * kNsPerMs;
constexpr int64_t kOpenTimeoutNs = 10 * kNsPerSec;  // first login of every path in Open
constexpr int64_t kCloseTimeoutNs = 2 * kNsPerSec;  // Close waits this long for in-flight I/O

enum class PathState { kDown, kConnecting, kActive };

class IscsiEngine;

// One I/O slot of the job: the SCSI task lives here, so the hot path allocates
// no task and the data moves straight between the socket and io->buffer.
struct Slot {
  IscsiEngine* engine = nullptr;
  Io* io = nullptr;
  scsi_task task;
  scsi_iovec iov;
  int path = -1;             // the path it is in flight on, or -1
  int64_t path_sent_ns = 0;  // when it was sent on that path
  int scsi_retries = 0;
};

struct Path {
  IscsiEngine* engine = nullptr;
  int index = 0;
  IscsiUrl url;
  iscsi_context* ctx = nullptr;
  PathState state = PathState::kDown;
  bool was_active = false;        // a later activation is a reinstatement
  int64_t deadline_ns = 0;        // connecting: give up then
  int64_t next_connect_ns = 0;    // down: next attempt
  int64_t backoff_ns = kBackoffMinNs;
  int64_t next_check_ns = 0;      // active: next TEST UNIT READY
  bool tur_busy = false;
  int64_t tur_sent_ns = 0;
  scsi_task tur;
  uint32_t inflight = 0;
  bool cancelling = false;        // we are cancelling its tasks ourselves
  bool connect_done = false;      // set by the connect callback
  bool connect_ok = false;
  const char* lost_reason = nullptr;  // set by callbacks, acted on after iscsi_service returns
  std::string last_error;
};

void IoCallback(iscsi_context*, int status, void*, void* private_data);
void TurCallback(iscsi_context*, int status, void*, void* private_data);
void ConnectCallback(iscsi_context*, int status, void*, void* private_data);

int ErrnoForSense(int key) {
  switch (key) {
    case SCSI_SENSE_ILLEGAL_REQUEST: return EINVAL;
    case SCSI_SENSE_DATA_PROTECTION: return EROFS;
    default: return EIO;
  }
}

void PutBe(uint8_t* p, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i, v >>= 8) p[i] = uint8_t(v);
}

class IscsiEngine final : public Engine {
 public:
  ~IscsiEngine() override { Close(); }
  const char* name() const override { return "libiscsi"; }
  uint32_t caps() const override { return kCapNetwork | kCapMultipath; }
  void SetEventCallback(EngineEventFn fn) override { on_event_ = std::move(fn); }

  Status Open(const TargetInfo& target, const Workload& w, std::vector<Io>& ios) override {
    opt_ = w.iscsi;
    block_bytes_ = target.logical_block_bytes;
    slots_.resize(ios.size());
    for (size_t i = 0; i < ios.size(); ++i) {
      slots_[i].engine = this;
      slots_[i].io = &ios[i];
      ios[i].engine_data = &slots_[i];
    }
    pending_.assign(ios.size(), nullptr);
    completed_.reserve(ios.size());
    paths_.resize(target.paths.size());
    pfds_.resize(paths_.size());
    pfd_path_.resize(paths_.size());
    int64_t now = MonoNs();
    for (size_t i = 0; i < paths_.size(); ++i) {
      auto url = ParseIscsiUrl(target.paths[i]);
      if (!url.ok()) return url.status();
      paths_[i].engine = this;
      paths_[i].index = int(i);
      paths_[i].url = *url;
      StartConnect(paths_[i], now, kOpenTimeoutNs);
    }
    // Wait for every path's first login (bounded); one is enough to run.
    while (true) {
      bool any_connecting = false;
      now = MonoNs();
      for (auto& p : paths_) {
        if (p.state != PathState::kConnecting) continue;
        if (now >= p.deadline_ns) {
          p.last_error = p.url.url + ": no login within " + FormatDuration(kOpenTimeoutNs);
          ConnectFailed(p, now);
        } else {
          any_connecting = true;
        }
      }
      if (!any_connecting) break;
      Poll(now + 100 * kNsPerMs);
    }
    std::string errors;
    for (auto& p : paths_) {
      if (p.state == PathState::kActive) continue;
      errors += (errors.empty() ? "" : "; ") + p.last_error;
      Emit("path_failed", p, "connect_failed", Severity::kWarning, p.url.portal + ": " + p.last_error);
    }
    if (ActivePaths() == 0) return Status::Unavailable("no path to the LUN answers: " + errors);
    return Status::Ok();
  }

  QueueResult Queue(Io* io) override {
    if (io->offset % block_bytes_ || io->length % block_bytes_ || io->length == 0) {
      io->result = -EINVAL;
      return QueueResult::kCompleted;
    }
    static_cast<Slot*>(io->engine_data)->scsi_retries = 0;
    PushPending(static_cast<Slot*>(io->engine_data));
    return QueueResult::kQueued;
  }

  Status Commit() override {
    Dispatch(MonoNs());
    return Status::Ok();
  }

  int Reap(int min, int max, int64_t timeout_ns, Io** out) override {
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

  void Close() override {
    if (paths_.empty()) return;
    // Give in-flight I/O a bounded chance to finish; the rest is cancelled.
    int64_t deadline = MonoNs() + kCloseTimeoutNs;
    while (InFlight() > 0 && MonoNs() < deadline) Poll(deadline);
    closing_ = true;
    for (auto& p : paths_) DestroyContext(p);
    paths_.clear();
  }

  // Called from libiscsi callbacks (inside iscsi_service or a cancel).
  void OnIoDone(Slot* s, int status) {
    Path& p = paths_[size_t(s->path)];
    --p.inflight;
    s->path = -1;
    Io* io = s->io;
    scsi_task& t = s->task;
    auto& counters = GlobalIscsiCounters();
    switch (status) {
      case SCSI_STATUS_GOOD:
        io->result = int64_t(io->length) - (t.residual_status == SCSI_RESIDUAL_UNDERFLOW ? int64_t(t.residual) : 0);
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

  void OnTurDone(Path& p, int status) {
    p.tur_busy = false;
    p.next_check_ns = MonoNs() + opt_.checker_interval_ns;
    if (status == SCSI_STATUS_GOOD) return;
    if (status == SCSI_STATUS_CHECK_CONDITION) {
      int key = int(p.tur.sense.key) & 0xf;
      free(p.tur.datain.data);
      p.tur.datain.data = nullptr;
      GlobalIscsiCounters().sense_keys[size_t(key)].fetch_add(1, std::memory_order_relaxed);
      if (key == SCSI_SENSE_UNIT_ATTENTION) return;  // reported once after a reset: ready
      if (!p.lost_reason) p.lost_reason = "scsi_status";
      p.last_error = std::string("TEST UNIT READY: ") + scsi_sense_key_str(key);
      return;
    }
    if (status == SCSI_STATUS_CANCELLED && p.cancelling) return;
    if (!p.lost_reason) p.lost_reason = status == SCSI_STATUS_CANCELLED ? "connection_reset" : "protocol_error";
  }

  void OnConnectDone(Path& p, int status) {
    if (p.state == PathState::kActive) {  // libiscsi reports a torn-down session here too
      if (status != SCSI_STATUS_GOOD && !p.lost_reason) p.lost_reason = "connection_reset";
      return;
    }
    p.connect_done = true;
    p.connect_ok = status == SCSI_STATUS_GOOD;
    if (!p.connect_ok) p.last_error = p.url.url + ": login failed: " + iscsi_get_error(p.ctx);
  }

 private:
  void PushPending(Slot* s) {
    size_t cap = pending_.size();
    pending_[(pending_head_ + pending_count_) % cap] = s;
    ++pending_count_;
  }

  void Retry(Slot* s) {
    if (!closing_) GlobalIscsiCounters().retries.fetch_add(1, std::memory_order_relaxed);
    PushPending(s);
  }

  int ActivePaths() const {
    int n = 0;
    for (const auto& p : paths_) n += p.state == PathState::kActive;
    return n;
  }

  uint32_t InFlight() const {
    uint32_t n = 0;
    for (const auto& p : paths_) n += p.inflight;
    return n;
  }

  int PickPath() {
    const int n = int(paths_.size());
    if (opt_.path_policy == PathPolicy::kFailover) {
      for (int i = 0; i < n; ++i) {
        if (paths_[size_t(i)].state == PathState::kActive) return i;
      }
      return -1;
    }
    for (int k = 1; k <= n; ++k) {
      int i = (rr_ + k) % n;
      if (paths_[size_t(i)].state == PathState::kActive) {
        rr_ = i;
        return i;
      }
    }
    return -1;
  }

  // Sends queued and retried I/Os on active paths; with no active path, fails
  // them once no_path_timeout has passed.
  void Dispatch(int64_t now) {
    uint32_t sent_mask = 0;
    while (pending_count_ > 0) {
      int pi = PickPath();
      if (pi < 0) break;
      Slot* s = pending_[pending_head_];
      pending_head_ = (pending_head_ + 1) % pending_.size();
      --pending_count_;
      if (Send(s, paths_[size_t(pi)], now)) {
        sent_mask |= 1u << (pi & 31);
      } else {
        PushPending(s);
        FailPath(paths_[size_t(pi)], "protocol_error", now);
      }
    }
    // Write what was queued now rather than at the next poll.
    for (auto& p : paths_) {
      if ((sent_mask >> (p.index & 31) & 1) && p.state == PathState::kActive) ServicePath(p, POLLOUT, now);
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

  bool Send(Slot* s, Path& p, int64_t now) {
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

  // Waits until `until_ns` (MonoNs) for any path's socket, and services it.
  void Poll(int64_t until_ns) {
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

  void ServicePath(Path& p, short revents, int64_t now) {
    if (!p.ctx) return;
    int rc = iscsi_service(p.ctx, revents & ~POLLRDHUP);
    if (p.state == PathState::kActive) {
      if (!p.lost_reason && (rc < 0 || (revents & (POLLERR | POLLHUP | POLLRDHUP | POLLNVAL)))) {
        p.lost_reason = "connection_reset";
        p.last_error = p.url.url + ": " + iscsi_get_error(p.ctx);
      }
      if (p.lost_reason) FailPath(p, p.lost_reason, now);
    } else if (p.state == PathState::kConnecting) {
      if (p.connect_done) {
        p.connect_ok ? Activate(p, now) : ConnectFailed(p, now);
      } else if (rc < 0 || (revents & (POLLERR | POLLHUP | POLLNVAL))) {
        p.last_error = p.url.url + ": " + iscsi_get_error(p.ctx);
        ConnectFailed(p, now);
      }
    }
  }

  void StartConnect(Path& p, int64_t now, int64_t timeout_ns) {
    auto ctx = NewIscsiContext(p.url);
    if (!ctx.ok()) {
      p.last_error = ctx.status().message();
      ScheduleReconnect(p, now);
      return;
    }
    p.ctx = ctx->release();
    p.connect_done = false;
    p.lost_reason = nullptr;
    if (iscsi_full_connect_async(p.ctx, p.url.portal.c_str(), p.url.lun, ConnectCallback, &p) != 0) {
      p.last_error = p.url.url + ": " + iscsi_get_error(p.ctx);
      DestroyContext(p);
      ScheduleReconnect(p, now);
      return;
    }
    p.state = PathState::kConnecting;
    p.deadline_ns = now + timeout_ns;
  }

  void Activate(Path& p, int64_t now) {
    p.state = PathState::kActive;
    p.backoff_ns = kBackoffMinNs;
    p.next_check_ns = now + opt_.checker_interval_ns;
    p.lost_reason = nullptr;
    if (p.was_active) {
      GlobalIscsiCounters().reinstatements.fetch_add(1, std::memory_order_relaxed);
      Emit("path_reinstated", p, "", Severity::kInfo, "path " + p.url.portal + " reinstated");
    }
    p.was_active = true;
  }

  void ConnectFailed(Path& p, int64_t now) {
    DestroyContext(p);
    ScheduleReconnect(p, now);
  }

  void ScheduleReconnect(Path& p, int64_t now) {
    p.state = PathState::kDown;
    p.next_connect_ns = now + p.backoff_ns;
    p.backoff_ns = std::min(p.backoff_ns * 2, std::max(opt_.checker_interval_ns, kBackoffMinNs));
  }

  // Cancels the path's I/O locally (it is retried elsewhere), drops the
  // session and schedules a reconnect.
  void FailPath(Path& p, const char* reason, int64_t now) {
    bool was_active = p.state == PathState::kActive;
    DestroyContext(p);
    ScheduleReconnect(p, now);
    if (!was_active) return;
    GlobalIscsiCounters().path_failures.fetch_add(1, std::memory_order_relaxed);
    Emit("path_failed", p, reason, Severity::kWarning,
         "path " + p.url.portal + " failed (" + reason + ")" + (p.last_error.empty() ? "" : ": " + p.last_error));
    p.last_error.clear();
  }

  void DestroyContext(Path& p) {
    if (!p.ctx) return;
    p.cancelling = true;
    iscsi_scsi_cancel_all_tasks(p.ctx);  // I/O callbacks queue the retries
    iscsi_destroy_context(p.ctx);
    p.cancelling = false;
    p.ctx = nullptr;
    p.tur_busy = false;
    p.connect_done = false;
    p.lost_reason = nullptr;
    // Anything still counted on this path is gone with the context.
    for (auto& s : slots_) {
      if (s.path == p.index) {
        s.path = -1;
        Retry(&s);
      }
    }
    p.inflight = 0;
  }

  void RunTimers(int64_t now) {
    if (now >= next_scan_ns_) {
      next_scan_ns_ = now + std::clamp<int64_t>(opt_.io_timeout_ns / 20, kNsPerMs, 50 * kNsPerMs);
      for (auto& s : slots_) {
        if (s.path >= 0 && now - s.path_sent_ns > opt_.io_timeout_ns) {
          Path& p = paths_[size_t(s.path)];
          p.last_error = std::string(OpName(s.io->op)) + " at offset " + std::to_string(s.io->offset) +
                         " unanswered for " + FormatDuration(now - s.path_sent_ns);
          FailPath(p, "timeout", now);
        }
      }
    }
    for (auto& p : paths_) {
      switch (p.state) {
        case PathState::kDown:
          if (now >= p.next_connect_ns) StartConnect(p, now, opt_.io_timeout_ns);
          break;
        case PathState::kConnecting:
          if (now >= p.deadline_ns) {
            p.last_error = p.url.url + ": no login within " + FormatDuration(opt_.io_timeout_ns);
            ConnectFailed(p, now);
          }
          break;
        case PathState::kActive:
          if (p.tur_busy && now - p.tur_sent_ns > opt_.io_timeout_ns) {
            p.last_error = "TEST UNIT READY unanswered for " + FormatDuration(now - p.tur_sent_ns);
            FailPath(p, "timeout", now);
          } else if (!p.tur_busy && now >= p.next_check_ns) {
            SendTur(p, now);
          }
          break;
      }
    }
  }

  void SendTur(Path& p, int64_t now) {
    memset(&p.tur, 0, sizeof p.tur);
    p.tur.cdb_size = 6;  // TEST UNIT READY: all zeros
    p.tur.xfer_dir = SCSI_XFER_NONE;
    if (iscsi_scsi_command_async(p.ctx, p.url.lun, &p.tur, TurCallback, nullptr, &p) != 0) {
      p.last_error = std::string("TEST UNIT READY: ") + iscsi_get_error(p.ctx);
      FailPath(p, "protocol_error", now);
      return;
    }
    p.tur_busy = true;
    p.tur_sent_ns = now;
    ServicePath(p, POLLOUT, now);
  }

  int64_t NextTimer(int64_t now) const {
    int64_t t = INT64_MAX;
    for (const auto& p : paths_) {
      switch (p.state) {
        case PathState::kDown: t = std::min(t, p.next_connect_ns); break;
        case PathState::kConnecting: t = std::min(t, p.deadline_ns); break;
        case PathState::kActive:
          t = std::min(t, p.tur_busy ? p.tur_sent_ns + opt_.io_timeout_ns + 1 : p.next_check_ns);
          if (p.inflight) t = std::min(t, next_scan_ns_);
          break;
      }
    }
    if (pending_count_ && no_path_since_ns_) t = std::min(t, no_path_since_ns_ + opt_.no_path_timeout_ns);
    return std::max(t, now);
  }

  void Emit(const char* kind, const Path& p, const std::string& reason, Severity sev, const std::string& message) {
    if (!on_event_) return;
    Event e;
    e.mono_ns = MonoNs();
    e.source = "libiscsi";
    e.kind = kind;
    e.severity = sev;
    e.message = message;
    e.attrs = {{"portal", p.url.portal}, {"url", p.url.url}, {"active_paths", ActivePaths()},
               {"paths", paths_.size()}};
    if (!reason.empty()) e.attrs["reason"] = reason;
    auto& c = GlobalIscsiCounters();
    e.attrs["retries_total"] = c.retries.load(std::memory_order_relaxed);
    e.attrs["scsi_errors_total"] = c.scsi_errors.load(std::memory_order_relaxed);
    on_event_(e);
  }

  IscsiOptions opt_;
  uint32_t block_bytes_ = 512;
  std::vector<Slot> slots_;
  std::vector<Path> paths_;
  std::vector<pollfd> pfds_;
  std::vector<int> pfd_path_;
  std::vector<Slot*> pending_;  // ring: new and retried I/O waiting for a path
  size_t pending_head_ = 0, pending_count_ = 0;
  std::vector<Io*> completed_;  // filled by callbacks, drained by Reap
  bool closing_ = false;
  int rr_ = -1;
  int64_t next_scan_ns_ = 0;
  int64_t no_path_since_ns_ = 0;
  EngineEventFn on_event_;
};

void IoCallback(iscsi_context*, int status, void*, void* private_data) {
  auto* s = static_cast<Slot*>(private_data);
  if (s->path < 0) return;  // already given up with its context
  s->engine->OnIoDone(s, status);
}

void TurCallback(iscsi_context*, int status, void*, void* private_data) {
  auto* p = static_cast<Path*>(private_data);
  p->engine->OnTurDone(*p, status);
}

void ConnectCallback(iscsi_context*, int status, void*, void* private_data) {
  auto* p = static_cast<Path*>(private_data);
  p->engine->OnConnectDone(*p, status);
}

}  // namespace

std::unique_ptr<Engine> NewIscsiEngine() { return std::make_unique<IscsiEngine>(); }

}  // namespace fb
