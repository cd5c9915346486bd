// Helpers of the end-to-end tests on the metro lab (lab/README.md): a session
// that holds the LabLock, brings the lab up and always takes it down, and
// readers for run journals and the lab's own event log.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "lab/lab.h"
#include "lab/lab_lock.h"
#include "tests/support/test_util.h"

namespace fb::labtest {

using nlohmann::json;

// Holds the LabLock, brings the lab up with `options` (the simulator beside the
// CLI under test) and takes it down on destruction, also when a check failed.
class LabSession {
 public:
  explicit LabSession(lab::LabOptions options);
  ~LabSession();
  LabSession(const LabSession&) = delete;
  LabSession& operator=(const LabSession&) = delete;

  // Empty when the lab is up; else why not.
  const std::string& error() const { return error_; }
  const lab::LabInfo& info() const { return info_; }
  const lab::LabSiteInfo& site(int i) const { return info_.sites.at(size_t(i)); }

 private:
  std::optional<lab::LabLock> lock_;
  lab::Lab lab_;
  lab::LabInfo info_;
  std::string error_;
};

// False (with a MESSAGE saying why) when the lab cannot run here: not root.
bool CanRunLab();

// The first record of `kind` (and `site`, when not empty) at or after since_utc_ns.
std::optional<json> FindEvent(const std::vector<json>& events, const std::string& kind,
                              const std::string& site = "", int64_t since_utc_ns = 0);
int64_t TimeOf(const std::optional<json>& event);  // its t_utc_ns, 0 when absent
// A simulator's io_paused or io_resumed: how long its signal took (attrs
// signal_ms), 0 when absent. The pause lies within that much before its time,
// the resume within that much after.
int64_t SignalNsOf(const std::optional<json>& event);


// Polls the lab's event log until pred holds, at most timeout_ns.
std::vector<json> WaitForLabEvents(const std::string& path, int64_t timeout_ns,
                                   bool (*pred)(const std::vector<json>&, int64_t), int64_t since_utc_ns);

double Ms(int64_t ns);

}  // namespace fb::labtest
