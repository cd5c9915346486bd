#include "core/clock.h"

#include <cerrno>
#include <cstdio>
#include <ctime>

namespace fb {

namespace {
int64_t Read(clockid_t id) {
  timespec ts;
  clock_gettime(id, &ts);
  return int64_t(ts.tv_sec) * kNsPerSec + ts.tv_nsec;
}
}  // namespace

int64_t MonoNs() { return Read(CLOCK_MONOTONIC); }
int64_t UtcNs() { return Read(CLOCK_REALTIME); }

ClockAnchor ClockAnchor::Take() {
  // Keep the tightest of a few bracketed readings.
  ClockAnchor best;
  int64_t best_window = INT64_MAX;
  for (int i = 0; i < 5; ++i) {
    int64_t m0 = MonoNs();
    int64_t u = UtcNs();
    int64_t m1 = MonoNs();
    if (m1 - m0 < best_window) {
      best_window = m1 - m0;
      best.mono_ns = m0 + (m1 - m0) / 2;
      best.utc_ns = u;
      best.uncertainty_ns = (m1 - m0 + 1) / 2;
    }
  }
  return best;
}

std::string FormatUtcIso(int64_t utc_ns, int fraction_digits) {
  time_t secs = time_t(utc_ns / kNsPerSec);
  int64_t frac = utc_ns % kNsPerSec;
  if (frac < 0) {
    frac += kNsPerSec;
    --secs;
  }
  tm t;
  gmtime_r(&secs, &t);
  char buf[64];
  size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &t);
  if (fraction_digits > 0) {
    if (fraction_digits > 9) fraction_digits = 9;
    int64_t div = 1;
    for (int i = fraction_digits; i < 9; ++i) div *= 10;
    n += snprintf(buf + n, sizeof buf - n, ".%0*lld", fraction_digits, (long long)(frac / div));
  }
  snprintf(buf + n, sizeof buf - n, "Z");
  return buf;
}

std::string FormatUtcCompact(int64_t utc_ns) {
  time_t secs = time_t(utc_ns / kNsPerSec);
  tm t;
  gmtime_r(&secs, &t);
  char buf[32];
  strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &t);
  return buf;
}

void SleepUntilMono(int64_t deadline_ns) {
  timespec ts{time_t(deadline_ns / kNsPerSec), long(deadline_ns % kNsPerSec)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

}  // namespace fb
