#include "loadgen/iscsi_session.h"

#include <poll.h>

#include <cstdlib>

// clang-format off
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>
// clang-format on

#include "core/clock.h"

namespace fb {

void IscsiContextDeleter::operator()(iscsi_context* ctx) const {
  if (ctx) iscsi_destroy_context(ctx);
}

Result<IscsiUrl> ParseIscsiUrl(const std::string& url) {
  if (url.rfind("iscsi://", 0) != 0) {
    return Status::InvalidInput(url + ": not an iSCSI URL (iscsi://host[:port]/target-iqn/lun)");
  }
  std::string rest = url.substr(8);
  size_t slash = rest.find('/');
  if (rest.substr(0, slash).find('@') != std::string::npos) {
    return Status::InvalidInput(url.substr(0, 8) + "...@" + rest.substr(rest.find('@') + 1) +
                                ": credentials do not belong in the URL; set FAULTBENCH_ISCSI_USER and "
                                "FAULTBENCH_ISCSI_PASSWORD");
  }
  iscsi_context* ctx = iscsi_create_context(kIscsiInitiatorName);
  if (!ctx) return Status::Internal("cannot create an iSCSI context");
  IscsiContextPtr owner(ctx);
  iscsi_url* parsed = iscsi_parse_full_url(ctx, url.c_str());
  if (!parsed) {
    return Status::InvalidInput(url + ": " + iscsi_get_error(ctx) + " (expected iscsi://host[:port]/target-iqn/lun)");
  }
  IscsiUrl out{url, parsed->portal, parsed->target, parsed->lun};
  iscsi_destroy_url(parsed);
  if (out.target.empty()) return Status::InvalidInput(url + ": no target name");
  return out;
}

Result<IscsiContextPtr> NewIscsiContext(const IscsiUrl& url) {
  IscsiContextPtr ctx(iscsi_create_context(kIscsiInitiatorName));
  if (!ctx) return Status::Internal("cannot create an iSCSI context for " + url.url);
  iscsi_set_targetname(ctx.get(), url.target.c_str());
  iscsi_set_session_type(ctx.get(), ISCSI_SESSION_NORMAL);
  iscsi_set_header_digest(ctx.get(), ISCSI_HEADER_DIGEST_NONE_CRC32C);
  iscsi_set_noautoreconnect(ctx.get(), 1);
  const char* user = getenv("FAULTBENCH_ISCSI_USER");
  const char* password = getenv("FAULTBENCH_ISCSI_PASSWORD");
  if (user && *user) {
    if (!password) return Status::InvalidInput("FAULTBENCH_ISCSI_USER is set but FAULTBENCH_ISCSI_PASSWORD is not");
    if (iscsi_set_initiator_username_pwd(ctx.get(), user, password) != 0) {
      return Status::InvalidInput(url.url + ": CHAP: " + iscsi_get_error(ctx.get()));
    }
    const char* tuser = getenv("FAULTBENCH_ISCSI_TARGET_USER");
    const char* tpassword = getenv("FAULTBENCH_ISCSI_TARGET_PASSWORD");
    if (tuser && *tuser && tpassword && iscsi_set_target_username_pwd(ctx.get(), tuser, tpassword) != 0) {
      return Status::InvalidInput(url.url + ": mutual CHAP: " + iscsi_get_error(ctx.get()));
    }
  }
  return ctx;
}

bool ServiceUntil(iscsi_context* ctx, const bool* done, int64_t deadline_ns) {
  while (!*done) {
    int64_t now = MonoNs();
    if (now >= deadline_ns) return false;
    pollfd pfd{iscsi_get_fd(ctx), short(iscsi_which_events(ctx)), 0};
    int wait_ms = int(std::min<int64_t>((deadline_ns - now) / kNsPerMs + 1, 100));
    if (pfd.events == 0) {  // libiscsi asks to wait (see iscsi_which_events)
      SleepUntilMono(std::min(deadline_ns, now + wait_ms * kNsPerMs));
      continue;
    }
    int rc = poll(&pfd, 1, wait_ms);
    if (rc < 0) continue;  // EINTR
    if (rc == 0) continue;
    if (iscsi_service(ctx, pfd.revents) < 0) return false;
  }
  return true;
}

namespace {
struct ConnectWait {
  bool done = false;
  int status = SCSI_STATUS_ERROR;
};
void OnConnect(iscsi_context*, int status, void*, void* private_data) {
  auto* w = static_cast<ConnectWait*>(private_data);
  if (w->done) return;  // a second call when the connection goes down later
  w->done = true;
  w->status = status;
}
}  // namespace

Status ConnectSync(iscsi_context* ctx, const IscsiUrl& url, int64_t timeout_ns) {
  // libiscsi may call back after a timeout here (when the caller destroys the
  // context), so the waiter must outlive this call: one per thread, and a late
  // callback finds it done and is ignored.
  static thread_local ConnectWait wait;
  wait = ConnectWait{};
  if (iscsi_full_connect_async(ctx, url.portal.c_str(), url.lun, OnConnect, &wait) != 0) {
    return Status::Unavailable(url.url + ": cannot start connecting: " + iscsi_get_error(ctx));
  }
  bool finished = ServiceUntil(ctx, &wait.done, MonoNs() + timeout_ns);
  if (!finished && !wait.done) {
    return Status::Unavailable(url.url + ": no login within " + std::to_string(timeout_ns / kNsPerMs) + " ms (" +
                               iscsi_get_error(ctx) + ")");
  }
  wait.done = true;  // later callbacks are ignored
  if (wait.status != SCSI_STATUS_GOOD) {
    return Status::Unavailable(url.url + ": login failed: " + iscsi_get_error(ctx));
  }
  return Status::Ok();
}

void ScsiTaskDeleter::operator()(scsi_task* t) const {
  if (t) scsi_free_scsi_task(t);
}

namespace {
// Outlives a timed-out command: libiscsi calls back (CANCELLED) when the
// context is destroyed, and then the callback frees the task and itself.
struct TaskWait {
  bool done = false;
  bool abandoned = false;
  int status = SCSI_STATUS_ERROR;
  scsi_task* task = nullptr;
};

void OnTask(iscsi_context*, int status, void* command_data, void* private_data) {
  auto* w = static_cast<TaskWait*>(private_data);
  if (w->abandoned) {
    if (command_data) scsi_free_scsi_task(static_cast<scsi_task*>(command_data));
    delete w;
    return;
  }
  w->done = true;
  w->status = status;
  w->task = static_cast<scsi_task*>(command_data);
}
}  // namespace

Result<ScsiTaskPtr> RunCommandSync(iscsi_context* ctx, const IscsiUrl& url, const char* what, int64_t timeout_ns,
                                   const std::function<scsi_task*(iscsi_context*, IscsiTaskCallback, void*)>& start) {
  auto* w = new TaskWait;
  scsi_task* t = start(ctx, OnTask, w);
  if (!t) {
    delete w;
    return Status::Unavailable(url.url + ": " + what + ": " + iscsi_get_error(ctx));
  }
  if (!ServiceUntil(ctx, &w->done, MonoNs() + timeout_ns) && !w->done) {
    w->abandoned = true;
    return Status::Unavailable(url.url + ": " + what + ": no answer within " + std::to_string(timeout_ns / kNsPerMs) +
                               " ms");
  }
  ScsiTaskPtr task(t);
  int status = w->status;
  delete w;
  if (status != SCSI_STATUS_GOOD) {
    std::string why = status == SCSI_STATUS_CHECK_CONDITION
                          ? std::string(scsi_sense_key_str(task->sense.key)) + " " + scsi_sense_ascq_str(task->sense.ascq)
                          : iscsi_get_error(ctx);
    return Status::IoError(url.url + ": " + what + " failed: " + why);
  }
  return task;
}

}  // namespace fb
