#include "loadgen/histogram.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace fb {

TEST_CASE("Histogram buckets cover every value with bounded width" * doctest::test_suite("unit")) {
  for (uint64_t v : {0ULL, 1ULL, 255ULL, 256ULL, 257ULL, 1000ULL, 123456789ULL, (1ULL << 39) + 12345}) {
    int i = Histogram::IndexOf(v);
    CHECK(Histogram::BucketLow(i) <= v);
    CHECK(Histogram::BucketHigh(i) >= v);
    double width = double(Histogram::BucketHigh(i) - Histogram::BucketLow(i) + 1);
    if (v < 256)
      CHECK(width == 1);  // exact below 256 ns
    else
      CHECK(width / double(v) <= 1.0 / 128 + 1e-12);
  }
  CHECK(Histogram::IndexOf(UINT64_MAX) == Histogram::kBucketCount - 1);
}

TEST_CASE("Histogram percentiles are within 1% of exact ones on random data" * doctest::test_suite("unit")) {
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> lat(std::log(200'000.0), 1.2);  // ~200us median, long tail
  std::vector<uint64_t> values;
  Histogram h;
  for (int i = 0; i < 200'000; ++i) {
    uint64_t v = uint64_t(lat(rng));
    values.push_back(v);
    h.Record(v);
  }
  std::sort(values.begin(), values.end());
  for (double q : {0.01, 0.5, 0.9, 0.99, 0.999, 0.9999}) {
    uint64_t exact = values[size_t(std::ceil(q * double(values.size()))) - 1];
    double got = double(h.Percentile(q));
    CHECK_MESSAGE(std::fabs(got - double(exact)) / double(exact) <= 0.01,
                  "q=" << q << " exact=" << exact << " got=" << got);
  }
  CHECK(h.max() == values.back());
  CHECK(h.min() == values.front());
  CHECK(h.Percentile(1.0) == values.back());
  CHECK(h.count() == values.size());
}

TEST_CASE("Merged histograms equal one histogram of all samples" * doctest::test_suite("unit")) {
  std::mt19937_64 rng(7);
  Histogram a, b, all;
  for (int i = 0; i < 50'000; ++i) {
    uint64_t v = rng() % 50'000'000;
    (i % 3 ? a : b).Record(v);
    all.Record(v);
  }
  a.Merge(b);
  for (double q : {0.5, 0.99, 0.999}) CHECK(a.Percentile(q) == all.Percentile(q));
  CHECK(a.mean() == doctest::Approx(all.mean()));
  a.Reset();
  CHECK(a.count() == 0);
  CHECK(a.Percentile(0.99) == 0);
}

}  // namespace fb
