#include "lab/ha_sim_statefile.h"

// clang-format off
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>
// clang-format on

#include <deque>

#include "core/clock.h"
#include "loadgen/iscsi_session.h"

namespace fb::lab {

namespace {

struct Wait {
  bool done = false;
  int status = SCSI_STATUS_ERROR;
  std::string data;
};

void OnTask(iscsi_context*, int status, void* command_data, void* private_data) {
  auto* w = static_cast<Wait*>(private_data);
  auto* task = static_cast<scsi_task*>(command_data);
  if (!w->done) {
    w->status = status;
    if (status == SCSI_STATUS_GOOD && task && task->datain.data && task->datain.size > 0)
      w->data.assign(reinterpret_cast<const char*>(task->datain.data), size_t(task->datain.size));
  }
  w->done = true;
  if (task) scsi_free_scsi_task(task);
}

}  // namespace

struct HaStatefile::Conn {
  ~Conn() { ctx.reset(); }  // before the waiters: destroying the context may call them back
  IscsiUrl url;
  std::string error;  // why the URL cannot be used, when it cannot be parsed
  std::deque<std::unique_ptr<Wait>> waits;
  IscsiContextPtr ctx;
  bool connected = false;
};

HaStatefile::HaStatefile(std::vector<std::string> urls, int64_t timeout_ns) : timeout_ns_(timeout_ns) {
  for (const std::string& u : urls) {
    auto c = std::make_unique<Conn>();
    auto parsed = ParseIscsiUrl(u);
    if (parsed.ok())
      c->url = *parsed;
    else
      c->error = parsed.status().message();
    c->url.url = u;
    conns_.push_back(std::move(c));
  }
}

HaStatefile::~HaStatefile() = default;

Status HaStatefile::Connect(Conn& c) {
  if (!c.error.empty()) return Status::InvalidInput(c.error);
  if (c.connected) return Status::Ok();
  c.ctx.reset();
  c.waits.clear();
  auto ctx = NewIscsiContext(c.url);
  if (!ctx.ok()) return ctx.status();
  c.ctx = std::move(*ctx);
  Status s = ConnectSync(c.ctx.get(), c.url, timeout_ns_);
  if (!s.ok()) {
    c.ctx.reset();
    return s;
  }
  c.connected = true;
  return Status::Ok();
}

Result<std::string> HaStatefile::Run(Conn& c, bool write, uint64_t lba, std::string data, int blocks) {
  FB_RETURN_IF_ERROR(Connect(c));
  c.waits.push_back(std::make_unique<Wait>());
  Wait* w = c.waits.back().get();
  scsi_task* task =
      write ? iscsi_write16_task(c.ctx.get(), c.url.lun, lba, reinterpret_cast<unsigned char*>(data.data()),
                                 uint32_t(data.size()), kBlockBytes, 0, 0, 0, 0, 0, OnTask, w)
            : iscsi_read16_task(c.ctx.get(), c.url.lun, lba, uint32_t(blocks * kBlockBytes), kBlockBytes, 0,
                                0, 0, 0, 0, OnTask, w);
  auto fail = [&](const std::string& why) {
    std::string msg =
        c.url.url + ": " + (write ? "write" : "read") + " " + why + " (" + iscsi_get_error(c.ctx.get()) + ")";
    c.connected = false;
    c.ctx.reset();  // cancels what is in flight: the waiters are still alive
    c.waits.clear();
    return Status::Unavailable(msg);
  };
  if (!task) return fail("could not be queued");
  if (!ServiceUntil(c.ctx.get(), &w->done, MonoNs() + timeout_ns_))
    return fail("got no answer within " + std::to_string(timeout_ns_ / kNsPerMs) + " ms");
  if (w->status != SCSI_STATUS_GOOD) return fail("failed with SCSI status " + std::to_string(w->status));
  std::string out = std::move(w->data);
  c.waits.clear();
  return out;
}

Status HaStatefile::WriteBlock(uint64_t lba, const std::string& data) {
  std::string block = data.substr(0, kBlockBytes);
  block.resize(kBlockBytes, '\0');
  std::string errors;
  for (auto& c : conns_) {
    auto r = Run(*c, true, lba, block, 1);
    if (r.ok()) return Status::Ok();
    errors += (errors.empty() ? "" : "; ") + r.status().message();
  }
  return Status::Unavailable("statefile: " + (errors.empty() ? std::string("no URL") : errors));
}

Result<std::string> HaStatefile::ReadBlocks(int blocks) {
  std::string errors;
  for (auto& c : conns_) {
    auto r = Run(*c, false, 0, "", blocks);
    if (r.ok() && int(r->size()) == blocks * kBlockBytes) return r;
    errors += (errors.empty() ? "" : "; ") +
              (r.ok() ? c->url.url + ": short read of " + std::to_string(r->size()) + " bytes"
                      : r.status().message());
  }
  return Status::Unavailable("statefile: " + (errors.empty() ? std::string("no URL") : errors));
}

}  // namespace fb::lab
