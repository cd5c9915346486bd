// ProbeIscsiTarget: what the libiscsi engine needs to know before any I/O.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

// clang-format off
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>
// clang-format on

#include "core/clock.h"
#include "core/units.h"
#include "loadgen/iscsi_engine.h"
#include "loadgen/iscsi_session.h"
#include "loadgen/local_target.h"

namespace fb {

namespace {

constexpr int64_t kProbeTimeoutNs = 10 * kNsPerSec;  // per login and per command
constexpr uint32_t kSignatureBytes = 1u << 20;       // where partition tables and most superblocks live

struct PathInfo {
  IscsiUrl url;
  uint64_t size_bytes = 0;
  uint32_t block_bytes = 0;
  std::string device_id;  // LU designators of VPD 0x83, hex
};

std::string Hex(const char* p, int n) {
  static const char* kDigits = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < n; ++i) {
    s += kDigits[uint8_t(p[i]) >> 4];
    s += kDigits[uint8_t(p[i]) & 15];
  }
  return s;
}

Result<PathInfo> ProbePath(iscsi_context* ctx, const IscsiUrl& url) {
  FB_RETURN_IF_ERROR(ConnectSync(ctx, url, kProbeTimeoutNs));
  PathInfo info{url};
  auto cap = RunCommandSync(ctx, url, "READ CAPACITY(16)", kProbeTimeoutNs, [&](iscsi_context* c, iscsi_command_cb cb, void* w) {
    return iscsi_readcapacity16_task(c, url.lun, cb, w);
  });
  if (!cap.ok()) return cap.status();
  auto* rc16 = static_cast<scsi_readcapacity16*>(scsi_datain_unmarshall(cap->get()));
  if (!rc16 || rc16->block_length == 0) return Status::IoError(url.url + ": cannot parse READ CAPACITY(16) data");
  info.block_bytes = rc16->block_length;
  info.size_bytes = (rc16->returned_lba + 1) * uint64_t(rc16->block_length);

  auto inq = RunCommandSync(ctx, url, "INQUIRY VPD 0x83", kProbeTimeoutNs, [&](iscsi_context* c, iscsi_command_cb cb, void* w) {
    return iscsi_inquiry_task(c, url.lun, 1, SCSI_INQUIRY_PAGECODE_DEVICE_IDENTIFICATION, 255, cb, w);
  });
  if (inq.ok()) {
    auto* id = static_cast<scsi_inquiry_device_identification*>(scsi_datain_unmarshall(inq->get()));
    for (auto* d = id ? id->designators : nullptr; d; d = d->next) {
      if (d->association != SCSI_ASSOCIATION_LOGICAL_UNIT) continue;
      info.device_id += (info.device_id.empty() ? "" : ",") + std::to_string(int(d->designator_type)) + ":" +
                        Hex(d->designator, d->designator_length);
    }
  }
  return info;
}

// Refuses writes to a LUN whose first MiB carries a partition table or a
// filesystem, like PrepareLocalTarget does for block devices.
Status CheckSignature(iscsi_context* ctx, const PathInfo& p) {
  uint32_t len = uint32_t(std::min<uint64_t>(kSignatureBytes, p.size_bytes)) / p.block_bytes * p.block_bytes;
  if (len == 0) return Status::Ok();
  auto rd = RunCommandSync(ctx, p.url, "READ(16) of the first MiB", kProbeTimeoutNs, [&](iscsi_context* c, iscsi_command_cb cb, void* w) {
    return iscsi_read16_task(c, p.url.lun, 0, len, int(p.block_bytes), 0, 0, 0, 0, 0, cb, w);
  });
  if (!rd.ok()) return rd.status();
  int fd = memfd_create("faultbench-lun-head", MFD_CLOEXEC);
  if (fd < 0) return ErrnoStatus("memfd_create", errno);
  const scsi_task* t = rd->get();
  bool written = t->datain.size > 0 && ::write(fd, t->datain.data, size_t(t->datain.size)) == t->datain.size;
  Result<std::string> sig = written ? FindSignature("/proc/self/fd/" + std::to_string(fd)) : Result<std::string>("");
  ::close(fd);
  if (!sig.ok()) return sig.status().With(p.url.url);
  if (!sig->empty()) {
    return Status::InvalidInput(p.url.url + ": the LUN carries a " + *sig +
                                "; a write workload would destroy it (--allow-destroy permits it)");
  }
  return Status::Ok();
}

}  // namespace

Result<TargetInfo> ProbeIscsiTarget(const Workload& w) {
  if (w.targets.empty()) return Status::InvalidInput("no iSCSI URL given (--target iscsi://host[:port]/iqn/lun)");
  std::vector<IscsiUrl> urls;
  for (const auto& t : w.targets) {
    auto u = ParseIscsiUrl(t);
    if (!u.ok()) return u.status();
    for (const auto& prev : urls) {
      if (prev.portal == u->portal && prev.target == u->target && prev.lun == u->lun) {
        return Status::InvalidInput(t + ": the same path is given twice");
      }
    }
    urls.push_back(*u);
  }
  std::vector<PathInfo> found;
  std::string errors;
  IscsiContextPtr first_ctx;  // kept for the signature check
  for (const auto& u : urls) {
    auto ctx = NewIscsiContext(u);
    if (!ctx.ok()) return ctx.status();
    auto info = ProbePath(ctx->get(), u);
    if (!info.ok()) {
      if (info.status().code() == Status::Code::kInvalidInput) return info.status();
      errors += (errors.empty() ? "" : "; ") + info.status().message();
      continue;
    }
    found.push_back(*info);
    if (!first_ctx) first_ctx = std::move(*ctx);
  }
  if (found.empty()) return Status::Unavailable("no path to the LUN answers: " + errors);
  if (!errors.empty()) fprintf(stderr, "warning: some paths do not answer yet: %s\n", errors.c_str());
  const PathInfo& ref = found[0];
  for (const auto& p : found) {
    if (p.size_bytes != ref.size_bytes || p.block_bytes != ref.block_bytes) {
      return Status::InvalidInput("the paths are not one LUN: " + ref.url.url + " has " + FormatSize(ref.size_bytes) +
                                  " in " + std::to_string(ref.block_bytes) + "-byte blocks, " + p.url.url + " has " +
                                  FormatSize(p.size_bytes) + " in " + std::to_string(p.block_bytes) + "-byte blocks");
    }
    if (!p.device_id.empty() && !ref.device_id.empty() && p.device_id != ref.device_id) {
      return Status::InvalidInput("the paths are not one LUN: " + ref.url.url + " and " + p.url.url +
                                  " report different device identifications (VPD page 0x83)");
    }
  }
  if (w.HasWrites() && !w.allow_destroy) FB_RETURN_IF_ERROR(CheckSignature(first_ctx.get(), ref));

  TargetInfo t;
  for (const auto& u : w.targets) t.name += (t.name.empty() ? "" : ",") + u;
  t.paths = w.targets;
  t.size_bytes = ref.size_bytes;
  t.logical_block_bytes = ref.block_bytes;
  FB_RETURN_IF_ERROR(ValidateAgainstTarget(w, t.size_bytes, t.logical_block_bytes, t.name));
  return t;
}

}  // namespace fb
