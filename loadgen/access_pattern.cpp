#include "loadgen/access_pattern.h"

namespace fb {

Rng::Rng(uint64_t seed) {
  // splitmix64 to spread the seed over the state.
  for (auto& s : s_) {
    seed += 0x9e3779b97f4a7c15ULL;
    uint64_t z = seed;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    s = z ^ (z >> 31);
  }
}

AccessPattern::AccessPattern(const Workload& w, uint64_t region_offset, uint64_t region_size, int job, int jobs,
                             uint64_t seed)
    : region_offset_(region_offset), rng_(seed) {
  for (const AccessSpec& s : w.specs) {
    if (s.weight <= 0) continue;
    uint32_t align = s.alignment ? s.alignment : s.block_size;
    uint64_t slots = (region_size - s.block_size) / align + 1;
    total_weight_ += s.weight;
    specs_.push_back({total_weight_, s, align, slots, slots * uint64_t(job) / uint64_t(jobs)});
  }
}

IoChoice AccessPattern::Next() {
  Spec* sp = &specs_[0];
  if (specs_.size() > 1) {
    double pick = rng_.Unit() * total_weight_;
    for (auto& s : specs_) {
      sp = &s;
      if (pick < s.cumulative_weight) break;
    }
  }
  const AccessSpec& s = sp->spec;
  IoChoice c;
  c.length = s.block_size;
  c.op = (s.read_fraction >= 1.0 || (s.read_fraction > 0 && rng_.Unit() < s.read_fraction)) ? OpType::kRead : OpType::kWrite;
  uint64_t slot;
  if (s.random_fraction >= 1.0 || (s.random_fraction > 0 && rng_.Unit() < s.random_fraction)) {
    slot = rng_.Below(sp->slots);
  } else {
    slot = sp->seq_cursor;
    if (++sp->seq_cursor >= sp->slots) sp->seq_cursor = 0;
  }
  c.offset = region_offset_ + slot * sp->align;
  return c;
}

}  // namespace fb
