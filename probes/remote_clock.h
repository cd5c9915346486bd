// The offset of a remote host's wall clock from this host's, measured through
// the ssh connection of a CommandTarget: a few `date +%s.%N` round trips, the
// one with the smallest round trip kept (its reading is assumed to be taken
// half-way, so the uncertainty is half that round trip).
//
// The round trips run in one session on the ControlMaster connection (a remote
// `while read` loop answers each newline with `date +%s.%N`), so a round trip is
// the network plus one fork of date, not an ssh client start and a remote login
// (those are slow and, worse, one-sided: the reading would come late in the
// round trip). If that session gives no reading, one command per round trip is
// the fallback (and gives the error message).
#pragma once

#include <cstdint>

#include "core/status.h"
#include "plugin/command_target.h"

namespace fb {

struct ClockOffset {
  int64_t offset_ns = 0;       // remote UTC minus local UTC at the same instant
  int64_t uncertainty_ns = 0;  // rtt / 2 (+ 0.5 s when the remote date has no %N)
  int64_t rtt_ns = 0;          // of the kept round trip
  int samples = 0;             // round trips that gave a reading
};

// Errors (no round trip gave a reading) name the host and the command's output.
Result<ClockOffset> MeasureClockOffset(const CommandTarget& target, int rounds = 5);

// The remote loop of the session method, as run through CommandTarget::Wrap.
extern const char* const kClockLoopCommand;

// Parses `date +%s.%N` output ("1764574476.123456789\n") into UTC ns; `*coarse`
// is set when the fraction is missing or not digits (a date without %N).
bool ParseEpochSeconds(const std::string& text, int64_t* utc_ns, bool* coarse);

}  // namespace fb
