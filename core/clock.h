// Time: every duration is measured on CLOCK_MONOTONIC; wall-clock (UTC) time only
// enters through a ClockAnchor taken once per run.
#pragma once

#include <cstdint>
#include <string>

namespace fb {

constexpr int64_t kNsPerUs = 1000;
constexpr int64_t kNsPerMs = 1000 * kNsPerUs;
constexpr int64_t kNsPerSec = 1000 * kNsPerMs;

// CLOCK_MONOTONIC in nanoseconds. Cheap (vDSO); safe on the I/O path.
int64_t MonoNs();
// CLOCK_REALTIME in nanoseconds since the Unix epoch.
int64_t UtcNs();

// Pairs one monotonic reading with one UTC reading taken as close together as the
// machine allows, so monotonic times can be written as UTC and external UTC
// timestamps placed on the monotonic timeline.
struct ClockAnchor {
  int64_t mono_ns = 0;
  int64_t utc_ns = 0;
  int64_t uncertainty_ns = 0;  // half the window the two readings were taken in

  static ClockAnchor Take();
  int64_t ToUtc(int64_t mono) const { return mono - mono_ns + utc_ns; }
  int64_t ToMono(int64_t utc) const { return utc - utc_ns + mono_ns; }
};

// "2026-11-22T03:49:42.123456789Z"
std::string FormatUtcIso(int64_t utc_ns, int fraction_digits = 9);
// "20261122T034942Z", for run directory names.
std::string FormatUtcCompact(int64_t utc_ns);

// Sleeps until the monotonic time `deadline_ns` (absolute).
void SleepUntilMono(int64_t deadline_ns);

}  // namespace fb
