// IscsiEngine: private to the libiscsi engine's .cpp files (iscsi_engine.h is
// the public side), split by concern:
//   iscsi_engine.cpp        the Engine hooks and the I/O path: queue, dispatch
//                           onto a path, send, poll the sockets, reap, and what
//                           each SCSI status of a completed I/O means
//   iscsi_engine_paths.cpp  the paths: login at Open and logout at Close, the
//                           connect / reconnect state machine, the TEST UNIT READY
//                           checker, the timers (io_timeout, backoff), failing a
//                           path, and the path events
#pragma once

#include <poll.h>

#include <string>
#include <vector>

// clang-format off
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>
// clang-format on

#include "core/clock.h"
#include "core/units.h"
#include "loadgen/iscsi_engine.h"
#include "loadgen/iscsi_session.h"

namespace fb {
namespace iscsi_internal {

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

// One iSCSI session: a path. With sessions_per_path S, each URL gives S of
// them (session 1..S), each with its own ISID, failing and coming back alone.
struct Path {
  IscsiEngine* engine = nullptr;
  int index = 0;
  int portal = 0;   // index of its URL
  int session = 0;  // 1..S; 0 when S = 1 (then events carry no session)
  IscsiUrl url;
  iscsi_context* ctx = nullptr;
  PathState state = PathState::kDown;
  bool was_active = false;      // a later activation is a reinstatement
  int64_t deadline_ns = 0;      // connecting: give up then
  int64_t next_connect_ns = 0;  // down: next attempt
  int64_t backoff_ns = kBackoffMinNs;
  int64_t next_check_ns = 0;  // active: next TEST UNIT READY
  bool tur_busy = false;
  int64_t tur_sent_ns = 0;
  scsi_task tur;
  uint32_t inflight = 0;
  bool cancelling = false;    // we are cancelling its tasks ourselves
  bool connect_done = false;  // set by the connect callback
  bool connect_ok = false;
  const char* lost_reason = nullptr;  // set by callbacks, acted on after iscsi_service returns
  std::string last_error;
};

class IscsiEngine final : public Engine {
 public:
  ~IscsiEngine() override { Close(); }
  const char* name() const override { return "libiscsi"; }
  uint32_t caps() const override { return kCapNetwork | kCapMultipath; }
  void SetEventCallback(EngineEventFn fn) override { on_event_ = std::move(fn); }

  Status Open(const TargetInfo& target, const Workload& w, std::vector<Io>& ios) override;
  QueueResult Queue(Io* io) override;
  Status Commit() override;
  int Reap(int min, int max, int64_t timeout_ns, Io** out) override;
  void Close() override;

  // Called from libiscsi callbacks (inside iscsi_service or a cancel).
  void OnIoDone(Slot* s, int status);
  void OnTurDone(Path& p, int status);
  void OnConnectDone(Path& p, int status);

 private:
  // Both files: the ring of I/Os waiting for a path, and the path counts.
  void PushPending(Slot* s) {
    size_t cap = pending_.size();
    pending_[(pending_head_ + pending_count_) % cap] = s;
    ++pending_count_;
  }

  void Retry(Slot* s) {
    if (!closing_) GlobalIscsiCounters().retries.fetch_add(1, std::memory_order_relaxed);
    PushPending(s);
  }

  // "PORTAL", or "PORTAL session K" with several sessions per portal.
  static std::string PathName(const Path& p) {
    return p.session ? p.url.portal + " session " + std::to_string(p.session) : p.url.portal;
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

  // iscsi_engine.cpp: the I/O path.
  int PickPath();
  // Sends queued and retried I/Os on active paths; with no active path, fails
  // them once no_path_timeout has passed.
  void Dispatch(int64_t now);
  bool Send(Slot* s, Path& p, int64_t now);
  // Waits until `until_ns` (MonoNs) for any path's socket, and services it.
  void Poll(int64_t until_ns);

  // iscsi_engine_paths.cpp: the paths.
  void ServicePath(Path& p, short revents, int64_t now);
  void StartConnect(Path& p, int64_t now, int64_t timeout_ns);
  void Activate(Path& p, int64_t now);
  void ConnectFailed(Path& p, int64_t now);
  void ScheduleReconnect(Path& p, int64_t now);
  // Cancels the path's I/O locally (it is retried elsewhere), drops the
  // session and schedules a reconnect.
  void FailPath(Path& p, const char* reason, int64_t now);
  void DestroyContext(Path& p);
  void RunTimers(int64_t now);
  void SendTur(Path& p, int64_t now);
  int64_t NextTimer(int64_t now) const;
  void Emit(const char* kind, const Path& p, const std::string& reason, Severity sev,
            const std::string& message);

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
  uint32_t isid_random_ = 0;  // the ISIDs' random part, one per engine (the session index qualifies it)
  int64_t next_scan_ns_ = 0;
  int64_t no_path_since_ns_ = 0;
  EngineEventFn on_event_;
};

}  // namespace iscsi_internal
}  // namespace fb
