#include "reports/latency.h"

#include <algorithm>
#include <cmath>

#include "reports/correlator.h"

namespace fb::reports {

namespace {

uint64_t UsToNs(double us) { return uint64_t(std::llround(std::max(us, 0.0) * 1e3)); }

}  // namespace

void AddBuckets(const OpSample& op, Histogram* h) {
  if (op.lat_hist.empty()) return;
  const uint64_t min_ns = op.min_us ? UsToNs(*op.min_us) : 0;
  const uint64_t max_ns = op.max_us ? UsToNs(*op.max_us) : UINT64_MAX;
  for (const auto& [index, count] : op.lat_hist) {
    uint64_t low = Histogram::BucketLow(index), high = Histogram::BucketHigh(index);
    if (op.min_us && min_ns >= low && min_ns <= high) low = min_ns;
    if (op.max_us && max_ns >= low && max_ns <= high) high = max_ns;
    h->AddBucket(index, count, low, high);
  }
}

std::vector<std::pair<int, uint64_t>> MergeBuckets(const std::vector<std::pair<int, uint64_t>>& a,
                                                   const std::vector<std::pair<int, uint64_t>>& b) {
  std::vector<std::pair<int, uint64_t>> out;
  out.reserve(std::max(a.size(), b.size()));
  size_t i = 0, k = 0;
  while (i < a.size() || k < b.size()) {
    if (k == b.size() || (i < a.size() && a[i].first < b[k].first)) {
      out.push_back(a[i++]);
    } else if (i == a.size() || b[k].first < a[i].first) {
      out.push_back(b[k++]);
    } else {
      out.emplace_back(a[i].first, a[i].second + b[k].second);
      ++i, ++k;
    }
  }
  return out;
}

void LatencyMerge::Add(const OpSample& op) {
  if (!op.ios) return;
  ios_ += op.ios;
  if (op.max_us) max_us_ = std::max(max_us_.value_or(0), *op.max_us);
  if (op.lat_hist.empty()) {
    missing_ = true;
  } else {
    AddBuckets(op, &hist_);
  }
  if (op.p50_us) p50_.push_back(*op.p50_us);
  if (op.p99_us) p99_.push_back(*op.p99_us);
}

void LatencyMerge::Add(const LatencyMerge& other) {
  ios_ += other.ios_;
  if (other.max_us_) max_us_ = std::max(max_us_.value_or(0), *other.max_us_);
  missing_ = missing_ || other.missing_;
  hist_.Merge(other.hist_);
  p50_.insert(p50_.end(), other.p50_.begin(), other.p50_.end());
  p99_.insert(p99_.end(), other.p99_.begin(), other.p99_.end());
}

Latency LatencyMerge::Get(LatencyFallback fallback) const {
  Latency l;
  l.ios = ios_;
  l.max_us = max_us_;
  if (!ios_) return l;
  if (!missing_ && hist_.count()) {
    l.p50_us = NsToUs(hist_.Percentile(0.50));
    l.p99_us = NsToUs(hist_.Percentile(0.99));
    return l;
  }
  l.approximate = true;
  auto pick = [&](const std::vector<double>& v) -> std::optional<double> {
    if (v.empty()) return std::nullopt;
    if (fallback == LatencyFallback::kWorst) return *std::max_element(v.begin(), v.end());
    return StatOf(v).median;
  };
  l.p50_us = pick(p50_);
  l.p99_us = pick(p99_);
  return l;
}

}  // namespace fb::reports
