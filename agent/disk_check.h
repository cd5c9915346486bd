// Acknowledgements and disk checks of an agent's verify load (agent/protocol.h:
// the "acks" records and the `check` request).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "core/status.h"

namespace fb {

// Follows an ack log (loadgen/ack_log.h) as the load appends to it: skips the
// header line, then yields whole 16-byte records.
class AckTail {
 public:
  void Open(const std::string& path) { path_ = path; }
  bool is_open() const { return !path_.empty(); }
  // Appends [offset, generation, ack_ms] of the records added since the last call.
  Status Read(nlohmann::json* out);
  ~AckTail();

 private:
  std::string path_, pending_;
  int fd_ = -1;
  bool header_done_ = false;
};

// The reply to a `check` of the run in `run_dir`: reads every block the request
// names from the run's target (agent_state.json's workload) and compares it
// with the generation the controller saw acknowledged. Runs beside the load: a
// block found older is read once more 20 ms later (a write may have been in
// flight), and a newer generation is fine. Never throws; errors go into the
// reply's "error".
nlohmann::json CheckAckedBlocks(const std::string& run_dir, const nlohmann::json& request);

}  // namespace fb
