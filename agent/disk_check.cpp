#include "agent/disk_check.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "agent/run_state.h"
#include "agent/workload_json.h"
#include "core/clock.h"
#include "loadgen/block_reader.h"
#include "loadgen/verify.h"

namespace fb {

Status AckTail::Read(nlohmann::json* out) {
  if (fd_ < 0) {
    fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) return errno == ENOENT ? Status::Ok() : ErrnoStatus("open " + path_, errno);
  }
  char buf[64 * 1024];
  for (;;) {
    ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("read " + path_, errno);
    if (n == 0) break;
    pending_.append(buf, size_t(n));
    if (size_t(n) < sizeof buf) break;
  }
  if (!header_done_) {
    size_t nl = pending_.find('\n');
    if (nl == std::string::npos) return Status::Ok();
    pending_.erase(0, nl + 1);
    header_done_ = true;
  }
  size_t whole = pending_.size() / 16 * 16;
  for (size_t off = 0; off < whole; off += 16) {
    uint64_t offset;
    uint32_t generation, ack_ms;
    memcpy(&offset, pending_.data() + off, 8);
    memcpy(&generation, pending_.data() + off + 8, 4);
    memcpy(&ack_ms, pending_.data() + off + 12, 4);
    out->push_back({offset, generation, ack_ms});
  }
  pending_.erase(0, whole);
  return Status::Ok();
}

AckTail::~AckTail() {
  if (fd_ >= 0) ::close(fd_);
}

nlohmann::json CheckAckedBlocks(const std::string& run_dir, const nlohmann::json& m) {
  nlohmann::json reply = {{"type", "check_result"}, {"id", m.value("id", 0)}};
  auto fail = [&reply](const std::string& why) {
    reply["error"] = why;
    return reply;
  };
  int64_t t0 = MonoNs();
  auto st = LoadRunState(run_dir);
  if (!st.ok()) return fail(st.status().message());
  auto w = WorkloadFromJson(st->workload_json);
  if (!w.ok()) return fail("workload_json: " + w.status().message());
  if (!m.contains("blocks") || !m["blocks"].is_array()) return fail("check: blocks missing");
  auto reader = OpenBlockReader(w->targets, true, 10 * kNsPerSec);
  if (!reader.ok()) return fail(reader.status().message());
  const uint32_t vb = w->VerifyBlockBytes();
  uint8_t* buf = nullptr;
  if (posix_memalign(reinterpret_cast<void**>(&buf), 4096, vb) != 0) return fail("out of memory");
  std::unique_ptr<uint8_t, decltype(&free)> owner(buf, &free);
  uint64_t checked = 0, ok = 0, newer = 0;
  nlohmann::json findings = nlohmann::json::array();
  for (const auto& b : m["blocks"]) {
    if (!b.is_array() || b.size() < 3 || !b[0].is_number_unsigned() || !b[1].is_number_unsigned()) {
      return fail("check: a block is not [offset, generation, ack_utc_ns]: " + b.dump());
    }
    uint64_t offset = b[0].get<uint64_t>();
    uint32_t acked = b[1].get<uint32_t>();
    BlockCheck c;
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (attempt) SleepUntilMono(MonoNs() + 20 * kNsPerMs);
      Status r = (*reader)->Read(offset, vb, buf);
      if (!r.ok()) return fail(r.message());
      c = CheckBlock(buf, vb, st->verify_run_id, offset, acked, UINT32_MAX);
      if (c.verdict == BlockVerdict::kOk) break;
    }
    ++checked;
    if (c.verdict == BlockVerdict::kOk) {
      ++ok;
      if (c.found_generation > acked) ++newer;
      continue;
    }
    if (findings.size() < 10000)
      findings.push_back({{"offset", offset},
                          {"verdict", VerdictName(c.verdict)},
                          {"acked_generation", acked},
                          {"found_generation", c.found_generation},
                          {"found_write_utc_ns", c.found_write_utc_ns},
                          {"ack_utc_ns", b[2]}});
  }
  reply["checked"] = checked;
  reply["ok"] = ok;
  reply["newer"] = newer;
  reply["bad"] = checked - ok;
  reply["findings"] = std::move(findings);
  reply["elapsed_ms"] = double(MonoNs() - t0) / 1e6;
  return reply;
}

}  // namespace fb
