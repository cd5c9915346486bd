#include "loadgen/interval_stats.h"

#include <algorithm>

namespace fb {

void IntervalStats::Merge(const IntervalStats& o) {
  for (int i = 0; i < kOpCount; ++i) {
    op[size_t(i)].Merge(o.op[size_t(i)]);
    for (int e = 0; e < kErrnoSlots; ++e)
      errors_by_errno[size_t(i)][size_t(e)] += o.errors_by_errno[size_t(i)][size_t(e)];
  }
  if (o.first_completion_ns && (!first_completion_ns || o.first_completion_ns < first_completion_ns)) {
    first_completion_ns = o.first_completion_ns;
  }
  last_completion_ns = std::max(last_completion_ns, o.last_completion_ns);
  inflight += o.inflight;
  oldest_inflight_age_ns = std::max(oldest_inflight_age_ns, o.oldest_inflight_age_ns);
  missed_ios += o.missed_ios;
  stall_active = stall_active || o.stall_active;
  verified_blocks += o.verified_blocks;
  for (size_t i = 0; i < integrity.size(); ++i) integrity[i] += o.integrity[i];
  ramp = ramp || o.ramp;
  drain = drain || o.drain;
}

void IntervalStats::ResetCounters() {
  for (auto& c : op) c.Reset();
  for (auto& a : errors_by_errno) a.fill(0);
  first_completion_ns = last_completion_ns = 0;
  inflight = 0;
  oldest_inflight_age_ns = 0;
  missed_ios = 0;
  stall_active = false;
  ramp = drain = false;
  verified_blocks = 0;
  integrity.fill(0);
}

}  // namespace fb
