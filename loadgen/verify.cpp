#include "loadgen/verify.h"

#include <cstring>

#include "core/crc32c.h"

namespace fb {

void StampBlock(uint8_t* block, uint32_t block_bytes, uint64_t run_id, uint64_t offset, uint32_t generation,
                int64_t write_utc_ns) {
  BlockHeader h{kVerifyMagic, run_id, offset, generation, block_bytes, write_utc_ns, 0, 0};
  memcpy(block, &h, sizeof h);
  h.crc32c = Crc32c(block, block_bytes);
  memcpy(block + offsetof(BlockHeader, crc32c), &h.crc32c, sizeof h.crc32c);
}

const char* VerdictName(BlockVerdict v) {
  switch (v) {
    case BlockVerdict::kOk: return "ok";
    case BlockVerdict::kNotOurs: return "not_ours";
    case BlockVerdict::kLost: return "lost_write";
    case BlockVerdict::kMisdirected: return "misdirected_write";
    case BlockVerdict::kCorrupt: return "corrupt_block";
    case BlockVerdict::kPhantom: return "phantom_write";
  }
  return "?";
}

BlockCheck CheckBlock(const uint8_t* block, uint32_t block_bytes, uint64_t run_id, uint64_t offset, uint32_t acked,
                      uint32_t highest) {
  BlockCheck c;
  BlockHeader h;
  memcpy(&h, block, sizeof h);
  const bool written = acked != 0;
  if (h.magic != kVerifyMagic || h.block_bytes != block_bytes) {
    c.verdict = written ? BlockVerdict::kLost : BlockVerdict::kNotOurs;
    return c;
  }
  c.found_generation = h.generation;
  c.found_offset = h.offset;
  c.found_write_utc_ns = h.write_utc_ns;
  uint32_t crc = 0;
  crc = Crc32c(block, offsetof(BlockHeader, crc32c));
  const uint32_t zero = 0;
  crc = Crc32c(&zero, sizeof zero, crc);
  crc = Crc32c(block + offsetof(BlockHeader, crc32c) + 4, block_bytes - offsetof(BlockHeader, crc32c) - 4, crc);
  if (crc != h.crc32c) {
    c.verdict = BlockVerdict::kCorrupt;
    return c;
  }
  if (h.run_id != run_id) {
    c.verdict = written ? BlockVerdict::kLost : BlockVerdict::kNotOurs;
    return c;
  }
  if (h.offset != offset) {
    c.verdict = BlockVerdict::kMisdirected;
    return c;
  }
  if (h.generation < acked) {
    c.verdict = BlockVerdict::kLost;
  } else if (h.generation > highest) {
    c.verdict = BlockVerdict::kPhantom;
  }
  return c;
}

VerifyMap::VerifyMap(uint64_t slice_offset, uint64_t slice_bytes, uint32_t block_bytes, uint32_t generation_base)
    : slice_offset_(slice_offset),
      slice_bytes_(slice_bytes),
      block_bytes_(block_bytes),
      generation_base_(generation_base),
      acked_(slice_bytes / block_bytes),
      highest_(slice_bytes / block_bytes, generation_base),
      ack_ms_(slice_bytes / block_bytes),
      busy_(slice_bytes / block_bytes) {}

bool VerifyMap::Busy(uint64_t offset, uint32_t length) const {
  for (size_t i = IndexOf(offset), end = IndexOf(offset + length - 1); i <= end; ++i) {
    if (busy_[i]) return true;
  }
  return false;
}

void VerifyMap::SetBusy(uint64_t offset, uint32_t length, bool busy) {
  for (size_t i = IndexOf(offset), end = IndexOf(offset + length - 1); i <= end; ++i) busy_[i] = busy;
}

uint64_t VerifyRunId(const std::string& run_id) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : run_id) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h ? h : 1;
}

}  // namespace fb
