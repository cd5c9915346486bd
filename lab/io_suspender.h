// How a site stops and restarts serving I/O on its own tgtd. The simulator runs
// inside the site's namespace, so the nft commands here act on that namespace.
//
// Pause:   SIGSTOP of tgtd; every I/O to the site hangs, TCP stays up.
// Refuse:  (after Pause, for the loser in refuse mode) tgtd resumes behind an
//          nftables drop of its replies, the target goes offline and every
//          connection is closed, then the drop is lifted: initiators see their
//          connection end and every new login is refused ("Target error").
// Resume:  undoes whichever of the two is in effect.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>

#include "core/status.h"

namespace fb::lab {

class IoSuspender {
 public:
  IoSuspender(pid_t tgtd_pid, int tgtd_control_port) : pid_(tgtd_pid), control_port_(tgtd_control_port) {}

  // Each returns the UTC time (ns) taken right at the signal or state change.
  Result<int64_t> Pause();
  Result<int64_t> Refuse();
  Result<int64_t> Resume();

  bool paused() const { return paused_; }
  bool refusing() const { return refusing_; }

 private:
  pid_t pid_;
  int control_port_;
  // Written by the control thread, read by any.
  std::atomic<bool> paused_{false};
  std::atomic<bool> refusing_{false};
};

}  // namespace fb::lab
