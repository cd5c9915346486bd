// The offset of a remote host's wall clock from this host's, measured through
// the ssh connection of a CommandTarget: a few `date +%s.%N` round trips, the
// one with the smallest round trip kept (its reading is assumed to be taken
// half-way, so the uncertainty is half that round trip). The round trip
// includes starting the ssh client on the ControlMaster connection, so the
// figure is an honest bound, not a network RTT.
#pragma once

#include <cstdint>

#include "core/status.h"
#include "injectors/command_target.h"

namespace fb {

struct ClockOffset {
  int64_t offset_ns = 0;       // remote UTC minus local UTC at the same instant
  int64_t uncertainty_ns = 0;  // rtt / 2 (+ 0.5 s when the remote date has no %N)
  int64_t rtt_ns = 0;          // of the kept round trip
  int samples = 0;             // round trips that gave a reading
};

// Errors (no round trip gave a reading) name the host and the command's output.
Result<ClockOffset> MeasureClockOffset(const CommandTarget& target, int rounds = 5);

// Parses `date +%s.%N` output ("1764574476.123456789\n") into UTC ns; `*coarse`
// is set when the fraction is missing or not digits (a date without %N).
bool ParseEpochSeconds(const std::string& text, int64_t* utc_ns, bool* coarse);

}  // namespace fb
