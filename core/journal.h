// The run directory and its journal (layout in docs/design.md):
//   <base>/<name>-<UTC yyyymmddThhmmssZ>/
//     run.json  plan.yaml  samples.jsonl  stalls.jsonl  events.jsonl
// Records are appended and flushed as they happen. Every record carries
// `t_utc_ns` (UTC nanoseconds) and `t_rel_s` (seconds since the run started,
// measured on CLOCK_MONOTONIC); `t` repeats t_utc_ns as ISO 8601 for people.
#pragma once

#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "core/clock.h"
#include "core/event.h"
#include "core/jsonl_writer.h"
#include "core/status.h"

namespace fb {

constexpr int kJournalFormatVersion = 1;

class Journal {
 public:
  // Creates a fresh run directory under `base_dir` (made if missing), named
  // after `run_name` and the UTC time of `anchor`. Never reuses a directory.
  Status Create(const std::string& base_dir, const std::string& run_name, const ClockAnchor& anchor);

  const std::string& dir() const { return dir_; }
  const std::string& run_id() const { return run_id_; }
  const ClockAnchor& anchor() const { return anchor_; }
  std::string PathOf(const std::string& file) const { return dir_ + "/" + file; }

  // Adds the time fields for the monotonic time `mono_ns` to `record`.
  void Stamp(int64_t mono_ns, nlohmann::json* record) const;

  Status AppendSample(nlohmann::json record) { return samples_.Append(record); }
  Status AppendStall(nlohmann::json record) { return stalls_.Append(record); }
  Status AppendEvent(const Event& event);

  // run.json: replaced atomically on each call; `info` is merged over what was
  // written before, so status can be updated at the end of a run.
  Status UpdateRunInfo(const nlohmann::json& info);

  void Close();

 private:
  std::string dir_;
  std::string run_id_;
  ClockAnchor anchor_;
  JsonlWriter samples_, stalls_, events_;
  std::mutex info_mu_;
  nlohmann::json info_ = nlohmann::json::object();
};

// Turns a free-form name into something safe for a directory name.
std::string SanitizeName(const std::string& name);

}  // namespace fb
