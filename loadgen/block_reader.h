// Reads a load's target outside the load: `faultbench verify` after a crash and
// an agent's check of its disk after an HA restart. A file or block device
// (O_DIRECT unless told otherwise), or an iSCSI LUN through the first of the
// workload's portals that answers (a failed read moves on to the next).
// One thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace fb {

class BlockReader {
 public:
  virtual ~BlockReader() = default;
  // Reads `length` bytes at `offset` (both multiples of the target's logical
  // block) into `buf` (aligned to 4 KiB for O_DIRECT). Errors name the target.
  virtual Status Read(uint64_t offset, uint32_t length, uint8_t* buf) = 0;
  virtual uint64_t size_bytes() const = 0;
  virtual uint32_t logical_block_bytes() const = 0;
};

// `targets`: one path, or the iscsi:// URLs of one LUN. `timeout_ns` bounds each
// login and each read.
Result<std::unique_ptr<BlockReader>> OpenBlockReader(const std::vector<std::string>& targets, bool direct,
                                                     int64_t timeout_ns);

}  // namespace fb
