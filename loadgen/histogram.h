// Log-linear latency histogram in nanoseconds (the HdrHistogram layout): values
// below 256 ns are exact; above, each power of two is split into 128 linear
// buckets, so a percentile is off by at most 1/256 of its value (< 0.4%).
// Values from 0 to 2^40 ns (about 18 minutes); larger ones land in the top bucket
// and still count in max(). Record() is branch-light and allocation-free; one
// histogram is about 36 KiB.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace fb {

class Histogram {
 public:
  static constexpr int kSubBits = 7;
  static constexpr uint64_t kSubCount = 1u << kSubBits;  // 128
  static constexpr int kMaxBits = 40;
  static constexpr int kBucketCount = int(2 * kSubCount + (kMaxBits - kSubBits - 1) * kSubCount);

  void Record(uint64_t value_ns) {
    ++counts_[IndexOf(value_ns)];
    ++count_;
    sum_ += value_ns;
    if (value_ns > max_) max_ = value_ns;
    if (value_ns < min_) min_ = value_ns;
  }
  void Merge(const Histogram& other);
  // Adds `count` values known only by their bucket (a histogram read back from
  // its nonzero buckets, e.g. a journal's lat_hist). They are taken to lie in
  // [low_ns, high_ns]: the bucket's bounds, narrowed to the source's exact min
  // or max when those fall in it, so min(), max() and Percentile() match the
  // source's. sum() grows by their middle: mean() is approximate.
  void AddBucket(int index, uint64_t count, uint64_t low_ns, uint64_t high_ns);
  void Reset();

  uint64_t count() const { return count_; }
  uint64_t sum() const { return sum_; }
  uint64_t CountAt(int index) const { return counts_[size_t(index)]; }
  uint64_t max() const { return count_ ? max_ : 0; }
  uint64_t min() const { return count_ ? min_ : 0; }
  double mean() const { return count_ ? double(sum_) / double(count_) : 0.0; }
  // The value at fraction q (0..1] of the recorded values, e.g. 0.99 for p99.
  // Returns the middle of the bucket holding it, clamped to [min, max].
  uint64_t Percentile(double q) const;

  static int IndexOf(uint64_t v) {
    if (v >= (uint64_t(1) << kMaxBits)) v = (uint64_t(1) << kMaxBits) - 1;
    if (v < 2 * kSubCount) return int(v);
    int msb = 63 - __builtin_clzll(v);
    int shift = msb - kSubBits;
    return int(2 * kSubCount + uint64_t(shift - 1) * kSubCount + ((v >> shift) - kSubCount));
  }
  // Lowest and highest value that map to bucket `index`.
  static uint64_t BucketLow(int index);
  static uint64_t BucketHigh(int index);

 private:
  std::array<uint64_t, kBucketCount> counts_{};
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t max_ = 0;
  uint64_t min_ = UINT64_MAX;
};

}  // namespace fb
