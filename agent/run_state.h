// What an agent needs to continue a run after its process died (a crash, or the
// VM restarted by HA): <run_dir>/agent_state.json, replaced atomically (write a
// temporary file, fsync, rename, fsync the directory) at the start of every
// segment and at the end of the run:
//   {"run_id":"<dir name>", "name":"...", "workload_json":{...}, "verify_run_id":"...",
//    "planned_end_utc_ns":T, "next_seq":N, "segment":K, "owner_pid":P,
//    "status":"running|completed|interrupted|max-errors|failed"}
// next_seq is the first seq of the segment (records.jsonl stays the truth).
// The process that runs a segment holds an exclusive flock on
// <run_dir>/owner.lock for as long as it runs it; the kernel drops the lock when
// the process dies, so a lock that can be taken means nobody runs the load.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "core/status.h"

namespace fb {

constexpr const char* kAgentStateFile = "agent_state.json";
constexpr const char* kOwnerLockFile = "owner.lock";

struct AgentRunState {
  std::string run_id;
  std::string name;
  nlohmann::json workload_json;
  uint64_t verify_run_id = 0;  // Workload::verify_run_id, kept across segments
  int64_t planned_end_utc_ns = 0;
  uint64_t next_seq = 0;
  int segment = 0;
  int owner_pid = 0;
  std::string status = "running";
};

Status SaveRunState(const std::string& run_dir, const AgentRunState& state);
Result<AgentRunState> LoadRunState(const std::string& run_dir);

// An exclusive, non-blocking flock on <run_dir>/owner.lock. Move-only.
class OwnerLock {
 public:
  OwnerLock() = default;
  ~OwnerLock() { Release(); }
  OwnerLock(OwnerLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  OwnerLock& operator=(OwnerLock&& o) noexcept;
  OwnerLock(const OwnerLock&) = delete;
  OwnerLock& operator=(const OwnerLock&) = delete;

  // Ok when taken; Unavailable when a live process holds it; other errors
  // name the file.
  Status TryLock(const std::string& run_dir);
  bool held() const { return fd_ >= 0; }
  void Release();

 private:
  int fd_ = -1;
};

// Cuts a torn last line (a write cut by a power loss) off a JSON-lines file, so
// appends after it start on a line of their own. A missing file is fine.
Status TruncatePartialLine(const std::string& path);

// Merges `patch` into the JSON object in `path` and replaces the file atomically.
Status MergeJsonFile(const std::string& path, const nlohmann::json& patch);

}  // namespace fb
