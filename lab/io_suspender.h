// How a site stops and restarts serving I/O on its own tgtd. The simulator runs
// inside the site's namespace, so the nft commands here act on that namespace.
//
// Pause:   SIGSTOP of tgtd; every I/O to the site hangs, TCP stays up.
// Refuse:  (after Pause, for the loser in refuse mode) tgtd resumes behind an
//          nftables drop of its replies, the target goes offline and every
//          connection is closed, then the drop is lifted: initiators see their
//          connection end and every new login is refused ("Target error").
// Resume:  undoes whichever of the two is in effect.
// Restart: (a loser back after resync) instead of SIGCONT, tgtd is killed while
//          stopped and started afresh with the same target: the I/O it had
//          received while detached dies with it, as a real array discards it
//          and takes the winner's data. Initiators see their connection reset
//          and log in again. Without this, a write that timed out on the loser
//          and was retried on the winner would land again, stale, on the
//          shared LUN when the loser resumed: a lost write the lab invented.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <string>

#include "core/status.h"

namespace fb::lab {

class IoSuspender {
 public:
  struct TgtdSpec {
    std::string iqn, portal_addr, log_path, lun_file, pid_file;
  };
  IoSuspender(pid_t tgtd_pid, int tgtd_control_port, TgtdSpec spec = {})
      : pid_(tgtd_pid), control_port_(tgtd_control_port), spec_(std::move(spec)) {}

  // Each returns the UTC time (ns) taken right at the signal or state change:
  // after SIGSTOP (nothing is served after it), before SIGCONT (nothing is
  // served before it), so the lab's events bound what the load can see.
  Result<int64_t> Pause();
  Result<int64_t> Refuse();
  Result<int64_t> Resume();
  // Like Resume() when refusing or not paused; when paused, restarts tgtd
  // (needs the TgtdSpec). The time is when the new tgtd serves the LUN again.
  Result<int64_t> Restart();

  // How long the last Pause() or Resume() took to send its signal: the act
  // lies within that much before (Pause) or after (Resume) the time returned.
  // A busy machine that preempts the simulator around kill() widens it.
  int64_t signal_ns() const { return signal_ns_; }

  bool paused() const { return paused_; }
  bool refusing() const { return refusing_; }

 private:
  std::atomic<pid_t> pid_;
  int control_port_;
  int64_t signal_ns_ = 0;
  TgtdSpec spec_;
  // Written by the control thread, read by any.
  std::atomic<bool> paused_{false};
  std::atomic<bool> refusing_{false};
};

}  // namespace fb::lab
