// The libiscsi engine's paths (IscsiEngine, iscsi_engine_impl.h): the first
// login of every path in Open and the bounded drain in Close, each path's
// state machine (down -> connecting -> active, reconnect with backoff), the
// TEST UNIT READY checker, the timers that fail a path (an I/O or a check
// unanswered for io_timeout), failing a path (its I/O retried elsewhere), and
// the path_failed / path_reinstated events.
#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "loadgen/iscsi_engine_impl.h"

namespace fb {
namespace iscsi_internal {
namespace {

void TurCallback(iscsi_context*, int status, void*, void* private_data) {
  auto* p = static_cast<Path*>(private_data);
  p->engine->OnTurDone(*p, status);
}

void ConnectCallback(iscsi_context*, int status, void*, void* private_data) {
  auto* p = static_cast<Path*>(private_data);
  p->engine->OnConnectDone(*p, status);
}

}  // namespace

Status IscsiEngine::Open(const TargetInfo& target, const Workload& w, std::vector<Io>& ios) {
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
  const int sessions = std::clamp(opt_.sessions_per_path, 1, kMaxSessionsPerPath);
  paths_.resize(target.paths.size() * size_t(sessions));
  pfds_.resize(paths_.size());
  pfd_path_.resize(paths_.size());
  // The ISID's random part (RFC 7143 10.12.5, type "random"): one per engine,
  // so that two processes logged in with the same initiator name, or two
  // sessions of this one, never take over each other's session.
  isid_random_ = uint32_t(getpid()) * 2654435761u ^ uint32_t(UtcNs() / 1000);
  int64_t now = MonoNs();
  for (size_t i = 0; i < paths_.size(); ++i) {
    auto url = ParseIscsiUrl(target.paths[i / size_t(sessions)]);
    if (!url.ok()) return url.status();
    Path& p = paths_[i];
    p.engine = this;
    p.index = int(i);
    p.portal = int(i) / sessions;
    p.session = sessions > 1 ? int(i) % sessions + 1 : 0;
    p.url = *url;
    StartConnect(p, now, kOpenTimeoutNs);
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
    Emit("path_failed", p, "connect_failed", Severity::kWarning, PathName(p) + ": " + p.last_error);
  }
  if (ActivePaths() == 0) return Status::Unavailable("no path to the LUN answers: " + errors);
  return Status::Ok();
}

void IscsiEngine::Close() {
  if (paths_.empty()) return;
  // Give in-flight I/O a bounded chance to finish; the rest is cancelled.
  int64_t deadline = MonoNs() + kCloseTimeoutNs;
  while (InFlight() > 0 && MonoNs() < deadline) Poll(deadline);
  closing_ = true;
  for (auto& p : paths_) DestroyContext(p);
  paths_.clear();
}

void IscsiEngine::OnTurDone(Path& p, int status) {
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

void IscsiEngine::OnConnectDone(Path& p, int status) {
  if (p.state == PathState::kActive) {  // libiscsi reports a torn-down session here too
    if (status != SCSI_STATUS_GOOD && !p.lost_reason) p.lost_reason = "connection_reset";
    return;
  }
  p.connect_done = true;
  p.connect_ok = status == SCSI_STATUS_GOOD;
  if (!p.connect_ok) p.last_error = p.url.url + ": login failed: " + iscsi_get_error(p.ctx);
}

void IscsiEngine::ServicePath(Path& p, short revents, int64_t now) {
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

void IscsiEngine::StartConnect(Path& p, int64_t now, int64_t timeout_ns) {
  auto ctx = NewIscsiContext(p.url);
  if (!ctx.ok()) {
    p.last_error = ctx.status().message();
    ScheduleReconnect(p, now);
    return;
  }
  p.ctx = ctx->release();
  iscsi_set_isid_random(p.ctx, isid_random_ & 0xffffff, uint32_t(p.index));  // the same on every reconnect
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

void IscsiEngine::Activate(Path& p, int64_t now) {
  p.state = PathState::kActive;
  p.backoff_ns = kBackoffMinNs;
  p.next_check_ns = now + opt_.checker_interval_ns;
  p.lost_reason = nullptr;
  if (p.was_active) {
    GlobalIscsiCounters().reinstatements.fetch_add(1, std::memory_order_relaxed);
    Emit("path_reinstated", p, "", Severity::kInfo, "path " + PathName(p) + " reinstated");
  }
  p.was_active = true;
}

void IscsiEngine::ConnectFailed(Path& p, int64_t now) {
  DestroyContext(p);
  ScheduleReconnect(p, now);
}

void IscsiEngine::ScheduleReconnect(Path& p, int64_t now) {
  p.state = PathState::kDown;
  p.next_connect_ns = now + p.backoff_ns;
  p.backoff_ns = std::min(p.backoff_ns * 2, std::max(opt_.checker_interval_ns, kBackoffMinNs));
}

void IscsiEngine::FailPath(Path& p, const char* reason, int64_t now) {
  bool was_active = p.state == PathState::kActive;
  DestroyContext(p);
  ScheduleReconnect(p, now);
  if (!was_active) return;
  GlobalIscsiCounters().path_failures.fetch_add(1, std::memory_order_relaxed);
  Emit("path_failed", p, reason, Severity::kWarning,
       "path " + PathName(p) + " failed (" + reason + ")" +
           (p.last_error.empty() ? "" : ": " + p.last_error));
  p.last_error.clear();
}

void IscsiEngine::DestroyContext(Path& p) {
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

void IscsiEngine::RunTimers(int64_t now) {
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

void IscsiEngine::SendTur(Path& p, int64_t now) {
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

int64_t IscsiEngine::NextTimer(int64_t now) const {
  int64_t t = INT64_MAX;
  for (const auto& p : paths_) {
    switch (p.state) {
      case PathState::kDown:
        t = std::min(t, p.next_connect_ns);
        break;
      case PathState::kConnecting:
        t = std::min(t, p.deadline_ns);
        break;
      case PathState::kActive:
        t = std::min(t, p.tur_busy ? p.tur_sent_ns + opt_.io_timeout_ns + 1 : p.next_check_ns);
        if (p.inflight) t = std::min(t, next_scan_ns_);
        break;
    }
  }
  if (pending_count_ && no_path_since_ns_) t = std::min(t, no_path_since_ns_ + opt_.no_path_timeout_ns);
  return std::max(t, now);
}

void IscsiEngine::Emit(const char* kind, const Path& p, const std::string& reason, Severity sev,
                       const std::string& message) {
  if (!on_event_) return;
  Event e;
  e.mono_ns = MonoNs();
  e.source = "libiscsi";
  e.kind = kind;
  e.severity = sev;
  e.message = message;
  e.attrs = {{"portal", p.url.portal},
             {"url", p.url.url},
             {"active_paths", ActivePaths()},
             {"paths", paths_.size()}};
  if (p.session) e.attrs["session"] = p.session;
  if (!reason.empty()) e.attrs["reason"] = reason;
  auto& c = GlobalIscsiCounters();
  e.attrs["retries_total"] = c.retries.load(std::memory_order_relaxed);
  e.attrs["scsi_errors_total"] = c.scsi_errors.load(std::memory_order_relaxed);
  on_event_(e);
}

}  // namespace iscsi_internal
}  // namespace fb
