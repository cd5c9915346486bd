// Building blocks shared by the libiscsi engine and its prober: URL parsing,
// context setup (CHAP from the environment) and bounded waits on libiscsi's
// async API. A context is used by one thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/status.h"

struct iscsi_context;
struct scsi_task;

namespace fb {

// iscsi://host[:port]/target-iqn/lun. Credentials in the URL are refused: URLs
// reach plans and journals. CHAP secrets come from the environment:
// FAULTBENCH_ISCSI_USER / FAULTBENCH_ISCSI_PASSWORD, and for mutual CHAP also
// FAULTBENCH_ISCSI_TARGET_USER / FAULTBENCH_ISCSI_TARGET_PASSWORD.
struct IscsiUrl {
  std::string url;     // as given
  std::string portal;  // "host:port"
  std::string target;  // IQN
  int lun = 0;
};
Result<IscsiUrl> ParseIscsiUrl(const std::string& url);

// The initiator name faultbench logs in with.
constexpr const char* kIscsiInitiatorName = "iqn.2024-01.org.faultbench:initiator";

struct IscsiContextDeleter {
  void operator()(iscsi_context* ctx) const;
};
using IscsiContextPtr = std::unique_ptr<iscsi_context, IscsiContextDeleter>;

// A context for a normal session to `url`, CHAP set from the environment,
// libiscsi's automatic reconnect off (its reconnect blocks; the engine does its
// own). Not connected yet.
Result<IscsiContextPtr> NewIscsiContext(const IscsiUrl& url);

// Services `ctx` until `*done` is set by a callback or `deadline_ns` (MonoNs)
// passes. Returns false on timeout or a broken connection.
bool ServiceUntil(iscsi_context* ctx, const bool* done, int64_t deadline_ns);

// Connects, logs in and waits for the LUN to be ready (TEST UNIT READY),
// bounded by `timeout_ns`. Errors name the URL.
Status ConnectSync(iscsi_context* ctx, const IscsiUrl& url, int64_t timeout_ns);

struct ScsiTaskDeleter {
  void operator()(scsi_task* t) const;
};
using ScsiTaskPtr = std::unique_ptr<scsi_task, ScsiTaskDeleter>;

// The callback type of libiscsi's *_task functions (iscsi_command_cb).
using IscsiTaskCallback = void (*)(iscsi_context*, int, void*, void*);

// Runs one SCSI command that `start` begins (passing it the callback and its
// data, e.g. `iscsi_read16_task(c, lun, ..., cb, data)`), bounded by timeout_ns.
// Returns the completed task (status GOOD); other statuses are IoError with the
// sense key, a timeout or a refused start Unavailable, each naming `what` and
// the URL. A timed-out task is freed when libiscsi calls back (at the latest
// when the context is destroyed).
Result<ScsiTaskPtr> RunCommandSync(iscsi_context* ctx, const IscsiUrl& url, const char* what, int64_t timeout_ns,
                                   const std::function<scsi_task*(iscsi_context*, IscsiTaskCallback, void*)>& start);

}  // namespace fb
