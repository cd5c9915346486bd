// Chooses each I/O of a job: which access spec, read or write, where. Pure
// arithmetic on a per-job PRNG; no allocation after construction.
#pragma once

#include <cstdint>
#include <vector>

#include "loadgen/workload.h"

namespace fb {

// xoshiro256**: fast, good enough for offsets and mixes, seedable per job.
class Rng {
 public:
  explicit Rng(uint64_t seed);
  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, n).
  uint64_t Below(uint64_t n) { return uint64_t((unsigned __int128)Next() * n >> 64); }
  // Uniform in [0, 1).
  double Unit() { return double(Next() >> 11) * 0x1.0p-53; }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

struct IoChoice {
  OpType op;
  uint64_t offset;
  uint32_t length;
};

class AccessPattern {
 public:
  // `job`/`jobs` stagger the sequential cursors so jobs do not read the same blocks.
  AccessPattern(const Workload& w, uint64_t region_offset, uint64_t region_size, int job, int jobs, uint64_t seed);
  IoChoice Next();
  Rng& rng() { return rng_; }

 private:
  struct Spec {
    double cumulative_weight;
    AccessSpec spec;
    uint32_t align;
    uint64_t slots;       // aligned positions in the region
    uint64_t seq_cursor;  // next sequential slot
  };
  std::vector<Spec> specs_;
  double total_weight_ = 0;
  uint64_t region_offset_;
  Rng rng_;
};

}  // namespace fb
