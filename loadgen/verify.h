// Data verification: every written block carries a self-describing header, and
// the writer remembers per block the last acknowledged generation, so a read
// can tell a lost write (older than acknowledged), a misdirected write (another
// block's offset), corruption (bad CRC-32C) and a phantom (newer than anything
// submitted). Memory: 13 bytes per verify block (3.25 MiB per GiB at 4 KiB).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace fb {

constexpr uint64_t kVerifyMagic = 0x5946495245564246ULL;  // "FBVERIFY"
constexpr uint32_t kVerifyHeaderBytes = 48;

// The on-disk header at the start of each verify block (native little-endian).
struct BlockHeader {
  uint64_t magic;
  uint64_t run_id;
  uint64_t offset;        // the block's own byte offset on the target
  uint32_t generation;    // 1, 2, ... per block within a run
  uint32_t block_bytes;
  int64_t write_utc_ns;   // when the write was submitted
  uint32_t crc32c;        // over the whole block with this field zero
  uint32_t reserved;
};
static_assert(sizeof(BlockHeader) == kVerifyHeaderBytes);

// Writes the header into `block` (the rest stays as it is) and its checksum.
void StampBlock(uint8_t* block, uint32_t block_bytes, uint64_t run_id, uint64_t offset, uint32_t generation,
                int64_t write_utc_ns);

enum class BlockVerdict : uint8_t {
  kOk,           // holds an acceptable generation of this run
  kNotOurs,      // never written by this run and holds no header of it
  kLost,         // older than the last acknowledged write, or our data is gone
  kMisdirected,  // a valid block of this run, but stamped for another offset
  kCorrupt,      // our header, bad checksum
  kPhantom,      // a generation never submitted
};
const char* VerdictName(BlockVerdict v);

struct BlockCheck {
  BlockVerdict verdict = BlockVerdict::kOk;
  uint32_t found_generation = 0;
  uint64_t found_offset = 0;
  int64_t found_write_utc_ns = 0;
};

// `acked`: last acknowledged generation (0: none); `highest`: highest generation
// ever submitted for the block (>= acked; UINT32_MAX when unknown, e.g. after a
// crash, where any newer generation is acceptable).
BlockCheck CheckBlock(const uint8_t* block, uint32_t block_bytes, uint64_t run_id, uint64_t offset, uint32_t acked,
                      uint32_t highest);

// Per-job verification state over the job's own slice of the region (jobs
// never share blocks, so no synchronization is needed).
class VerifyMap {
 public:
  // generation_base: where this load's generations start (`highest` of every
  // block begins there). A load that continues a run after its generator died
  // (agent --boot) takes a base above every generation the dead one could have
  // stamped, so what it finds from before the restart is never a phantom and
  // what it writes is always newer than anything acknowledged before.
  VerifyMap(uint64_t slice_offset, uint64_t slice_bytes, uint32_t block_bytes, uint32_t generation_base = 0);
  uint32_t generation_base() const { return generation_base_; }
  uint64_t slice_offset() const { return slice_offset_; }
  uint64_t slice_bytes() const { return slice_bytes_; }
  uint32_t block_bytes() const { return block_bytes_; }
  size_t blocks() const { return acked_.size(); }
  size_t IndexOf(uint64_t offset) const { return size_t((offset - slice_offset_) / block_bytes_); }
  uint64_t OffsetOf(size_t index) const { return slice_offset_ + uint64_t(index) * block_bytes_; }

  // True if any block of [offset, offset+length) has an I/O in flight.
  bool Busy(uint64_t offset, uint32_t length) const;
  void SetBusy(uint64_t offset, uint32_t length, bool busy);

  uint32_t& acked(size_t i) { return acked_[i]; }
  uint32_t& highest(size_t i) { return highest_[i]; }
  uint32_t& ack_ms(size_t i) { return ack_ms_[i]; }

 private:
  uint64_t slice_offset_, slice_bytes_;
  uint32_t block_bytes_;
  uint32_t generation_base_;
  std::vector<uint32_t> acked_, highest_, ack_ms_;
  std::vector<uint8_t> busy_;
};

// A stable 64-bit id for a run id string (FNV-1a), stamped into every block.
uint64_t VerifyRunId(const std::string& run_id);

}  // namespace fb
