// The ack log: every acknowledged write of a verify block (offset, generation,
// ms since load start), streamed to storage that survives the generator's host,
// so `faultbench verify --ack-log` can check a disk after a crash or an HA
// restart. Format: one JSON header line, then 16-byte little-endian records
// {u64 offset, u32 generation, u32 ack_ms}. Records reach the destination within
// a sampler tick (~2 ms) and stable storage within 100 ms: that is the window of
// acknowledgements a crash of the generator's host can lose.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "loadgen/interval_stats.h"

namespace fb {

class AckLogWriter {
 public:
  ~AckLogWriter();
  // `dest`: a file path, or ssh://[user@]host/path (appended through the
  // OpenSSH client in BatchMode).
  Status Open(const std::string& dest, const nlohmann::json& header);
  void Add(const AckRecord& r) { pending_.push_back(r); }
  // Writes what was added; syncs a file destination when `sync`.
  Status Flush(bool sync);
  Status Close();
  const std::string& dest() const { return dest_; }

 private:
  std::string dest_;
  int fd_ = -1;
  int ssh_pid_ = -1;
  std::vector<AckRecord> pending_;
};

struct AckLog {
  nlohmann::json header;
  struct Entry {
    uint32_t generation;
    uint32_t ack_ms;
  };
  std::map<uint64_t, Entry> last;  // by block offset: the last acknowledged write
  uint64_t records = 0;
  bool truncated = false;  // a partial record at the end (the writer died mid-write)
};

Result<AckLog> ReadAckLog(const std::string& path);

}  // namespace fb
