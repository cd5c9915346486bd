// Checks a target against an ack log after the generator died (crash, kill -9,
// HA restart): every acknowledged generation must be on disk; a newer one is
// fine (a write in flight at the crash may or may not have landed).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"
#include "loadgen/ack_log.h"
#include "loadgen/verify.h"

namespace fb {

struct OfflineFinding {
  uint64_t offset = 0;
  BlockCheck check;
  uint32_t acked_generation = 0;
  uint32_t ack_ms = 0;  // since the original load's start
};

struct OfflineVerifyReport {
  uint64_t blocks_checked = 0;
  uint64_t newer_than_acked = 0;  // in-flight writes that landed
  std::array<uint64_t, 6> by_verdict{};
  std::vector<OfflineFinding> findings;  // every lost/misdirected/corrupt block
};

// Reads `target` (a file or block device, O_DIRECT unless `direct` is false)
// at every block of `log`. `progress` (may be empty) gets blocks done and total.
Result<OfflineVerifyReport> VerifyAgainstAckLog(const std::string& target, const AckLog& log, bool direct,
                                                const std::function<void(uint64_t, uint64_t)>& progress);

}  // namespace fb
