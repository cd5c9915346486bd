// Latency percentiles over many intervals, jobs or agents: computed from the
// merged histograms the journal stores per interval (lat_hist), never by
// averaging percentiles. A journal written before lat_hist existed has only
// each interval's own percentiles: then the figure falls back to the median
// (or the worst) of those and is marked approximate.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "loadgen/histogram.h"
#include "reports/sample.h"

namespace fb::reports {

struct Latency {
  uint64_t ios = 0;  // completions counted
  std::optional<double> p50_us, p99_us, max_us;
  bool approximate = false;  // some interval had I/O but no lat_hist
};

// What an approximate figure is when the histograms are missing.
enum class LatencyFallback { kMedian, kWorst };

// Accumulates ops (of one or both kinds); about 36 KiB (one fb::Histogram).
class LatencyMerge {
 public:
  void Add(const OpSample& op);
  void Add(const Sample& s) {
    Add(s.read);
    Add(s.write);
  }
  void Add(const LatencyMerge& other);
  Latency Get(LatencyFallback fallback) const;
  const Histogram& histogram() const { return hist_; }

 private:
  Histogram hist_;
  uint64_t ios_ = 0;
  bool missing_ = false;
  std::vector<double> p50_, p99_;
  std::optional<double> max_us_;
};

// Adds op's lat_hist to `h`, keeping the op's exact min and max.
void AddBuckets(const OpSample& op, Histogram* h);
// The sum of two ascending bucket lists, ascending.
std::vector<std::pair<int, uint64_t>> MergeBuckets(const std::vector<std::pair<int, uint64_t>>& a,
                                                   const std::vector<std::pair<int, uint64_t>>& b);
// Microseconds as the journal writes them (loadgen/journal_sink.cpp).
inline double NsToUs(uint64_t ns) { return double(ns) / 1e3; }

}  // namespace fb::reports
