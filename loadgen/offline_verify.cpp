#include "loadgen/offline_verify.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <memory>

namespace fb {

Result<OfflineVerifyReport> VerifyAgainstAckLog(const std::string& target, const AckLog& log, bool direct,
                                                const std::function<void(uint64_t, uint64_t)>& progress) {
  uint32_t vb = log.header.value("verify_block_bytes", 0u);
  if (vb < 512) return Status::InvalidInput("ack log header has no valid verify_block_bytes");
  uint64_t run_id = std::strtoull(log.header.value("verify_run_id", std::string("0")).c_str(), nullptr, 16);
  int fd = ::open(target.c_str(), O_RDONLY | O_CLOEXEC | (direct ? O_DIRECT : 0));
  if (fd < 0) return ErrnoStatus("open " + target, errno);
  std::unique_ptr<int, void (*)(int*)> closer(&fd, [](int* f) { ::close(*f); });
  // Contiguous blocks are read together, up to 1 MiB at a time.
  const size_t max_run = std::max<size_t>(vb, (1u << 20) / vb * vb);
  uint8_t* buf = nullptr;
  if (posix_memalign(reinterpret_cast<void**>(&buf), 4096, max_run) != 0) return Status::Internal("out of memory");
  std::unique_ptr<uint8_t, void (*)(void*)> buf_owner(buf, free);

  OfflineVerifyReport report;
  uint64_t done = 0, total = log.last.size();
  auto it = log.last.begin();
  while (it != log.last.end()) {
    uint64_t start = it->first;
    auto end = it;
    size_t len = 0;
    while (end != log.last.end() && end->first == start + len && len + vb <= max_run) {
      len += vb;
      ++end;
    }
    ssize_t got = ::pread(fd, buf, len, off_t(start));
    if (got != ssize_t(len)) {
      return got < 0 ? ErrnoStatus("read " + target + " at offset " + std::to_string(start), errno)
                     : Status::IoError("short read of " + target + " at offset " + std::to_string(start));
    }
    for (auto e = it; e != end; ++e) {
      BlockCheck c = CheckBlock(buf + (e->first - start), vb, run_id, e->first, e->second.generation, UINT32_MAX);
      ++report.blocks_checked;
      ++report.by_verdict[size_t(c.verdict)];
      if (c.verdict == BlockVerdict::kOk && c.found_generation > e->second.generation) ++report.newer_than_acked;
      if (c.verdict != BlockVerdict::kOk && c.verdict != BlockVerdict::kNotOurs) {
        report.findings.push_back({e->first, c, e->second.generation, e->second.ack_ms});
      }
    }
    done += uint64_t(std::distance(it, end));
    if (progress) progress(done, total);
    it = end;
  }
  return report;
}

}  // namespace fb
