#include "probes/remote_clock.h"

#include "core/clock.h"

namespace fb {

bool ParseEpochSeconds(const std::string& text, int64_t* utc_ns, bool* coarse) {
  size_t end = text.find_first_of("\r\n");
  std::string s = text.substr(0, end);
  size_t dot = s.find('.');
  std::string whole = s.substr(0, dot);
  if (whole.empty() || whole.size() > 12 || whole.find_first_not_of("0123456789") != std::string::npos)
    return false;
  int64_t ns = std::stoll(whole) * kNsPerSec;
  std::string frac = dot == std::string::npos ? "" : s.substr(dot + 1);
  *coarse = frac.empty() || frac.find_first_not_of("0123456789") != std::string::npos;
  if (!*coarse) {
    int64_t scale = kNsPerSec;
    for (size_t i = 0; i < frac.size() && i < 9; ++i) {
      scale /= 10;
      ns += (frac[i] - '0') * scale;
    }
  }
  *utc_ns = ns;
  return true;
}

Result<ClockOffset> MeasureClockOffset(const CommandTarget& target, int rounds) {
  const std::vector<std::string> argv = {"date", "+%s.%N"};
  ClockOffset best;
  std::string last_problem;
  for (int i = 0; i < rounds; ++i) {
    ClockAnchor a = ClockAnchor::Take();
    int64_t t0 = MonoNs();
    auto r = target.Run(argv);
    int64_t t1 = MonoNs();
    if (!r.ok()) {
      last_problem = r.status().message();
      continue;
    }
    int64_t remote_ns = 0;
    bool coarse = false;
    if (!r->success() || !ParseEpochSeconds(r->out, &remote_ns, &coarse)) {
      last_problem = r->success() ? "unexpected output \"" + r->out.substr(0, 80) + "\"" : r->Describe();
      continue;
    }
    int64_t rtt = t1 - t0;
    ++best.samples;
    if (best.samples > 1 && rtt >= best.rtt_ns) continue;
    best.rtt_ns = rtt;
    best.offset_ns = remote_ns - a.ToUtc(t0 + rtt / 2);
    // A whole-second reading is up to 1 s early: centre it and widen the bound.
    if (coarse) best.offset_ns += kNsPerSec / 2;
    best.uncertainty_ns = rtt / 2 + (coarse ? kNsPerSec / 2 : 0);
  }
  if (best.samples == 0) {
    return Status::Unavailable("measure the clock of " + target.where() +
                               " (`date +%s.%N`): " + last_problem);
  }
  return best;
}

}  // namespace fb
