#include "loadgen/histogram.h"

#include <algorithm>
#include <cmath>

namespace fb {

void Histogram::Merge(const Histogram& other) {
  if (!other.count_) return;
  for (int i = 0; i < kBucketCount; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  max_ = std::max(max_, other.max_);
  min_ = std::min(min_, other.min_);
}

void Histogram::AddBucket(int index, uint64_t count, uint64_t low_ns, uint64_t high_ns) {
  if (!count || index < 0 || index >= kBucketCount) return;
  counts_[size_t(index)] += count;
  count_ += count;
  sum_ += count * (low_ns + (high_ns - low_ns) / 2);
  max_ = std::max(max_, high_ns);
  min_ = std::min(min_, low_ns);
}

void Histogram::Reset() {
  if (!count_) return;
  counts_.fill(0);
  count_ = 0;
  sum_ = 0;
  max_ = 0;
  min_ = UINT64_MAX;
}

uint64_t Histogram::BucketLow(int index) {
  if (index < int(2 * kSubCount)) return uint64_t(index);
  int rel = index - int(2 * kSubCount);
  int shift = rel / int(kSubCount) + 1;
  uint64_t sub = kSubCount + uint64_t(rel % int(kSubCount));
  return sub << shift;
}

uint64_t Histogram::BucketHigh(int index) {
  if (index < int(2 * kSubCount)) return uint64_t(index);
  int rel = index - int(2 * kSubCount);
  int shift = rel / int(kSubCount) + 1;
  uint64_t sub = kSubCount + uint64_t(rel % int(kSubCount));
  return ((sub + 1) << shift) - 1;
}

uint64_t Histogram::Percentile(double q) const {
  if (!count_) return 0;
  q = std::clamp(q, 0.0, 1.0);
  uint64_t rank = uint64_t(std::ceil(q * double(count_)));
  if (rank == 0) rank = 1;
  uint64_t seen = 0;
  for (int i = 0; i < kBucketCount; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      uint64_t mid = BucketLow(i) + (BucketHigh(i) - BucketLow(i)) / 2;
      return std::clamp(mid, min(), max());
    }
  }
  return max();
}

}  // namespace fb
