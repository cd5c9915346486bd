// The lab's event log (events.jsonl in the state directory), shared by the
// site simulators. One record per line:
//   {"t_utc_ns":..., "t":"2026-...Z", "source":"lab", "site":"site-a",
//    "kind":"io_paused", "severity":"warning", "message":"...", "attrs":{...}}
// `kind` is from docs/design.md's vocabulary: replication_down, io_paused,
// mediator_won, mediator_lost, io_resumed, replication_up, resync_start,
// resync_done. Each line is one O_APPEND write, so several processes may share it.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "core/event.h"
#include "core/jsonl_writer.h"
#include "core/status.h"

namespace fb::lab {

class LabEventLog {
 public:
  // source is the record's "source": "lab" (array simulators), "pool" (lab/pool.h), "ha".
  Status Open(const std::string& path, const std::string& site, const std::string& source = "lab");
  // t_utc_ns is when it happened (taken by the caller right at the act).
  Status Emit(int64_t t_utc_ns, const std::string& kind, Severity severity, const std::string& message,
              nlohmann::json attrs = nlohmann::json::object());

 private:
  JsonlWriter writer_;
  std::string site_;
  std::string source_ = "lab";
};

}  // namespace fb::lab
