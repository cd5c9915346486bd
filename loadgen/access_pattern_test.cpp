#include "loadgen/access_pattern.h"

#include <doctest/doctest.h>

#include <cmath>
#include <map>

namespace fb {

TEST_CASE("Access spec mix: weights, read share and alignment hold" * doctest::test_suite("unit")) {
  Workload w;
  w.specs = {AccessSpec{60, 4096, 0.7, 1.0, 0}, AccessSpec{40, 65536, 0.0, 0.0, 4096}};
  const uint64_t region = 64 << 20;
  AccessPattern p(w, 1 << 20, region, 0, 1, 1234);
  const int n = 200'000;
  std::map<uint32_t, int> by_bs;
  int reads_4k = 0, seq_steps = 0;
  uint64_t last_64k = UINT64_MAX;
  for (int i = 0; i < n; ++i) {
    IoChoice c = p.Next();
    by_bs[c.length]++;
    CHECK(c.offset >= (1u << 20));
    CHECK(c.offset + c.length <= (1u << 20) + region);
    if (c.length == 4096) {
      CHECK(c.offset % 4096 == 0);
      reads_4k += c.op == OpType::kRead;
    } else {
      CHECK(c.op == OpType::kWrite);
      CHECK(c.offset % 4096 == 0);
      if (last_64k != UINT64_MAX && c.offset == last_64k + 4096) ++seq_steps;
      last_64k = c.offset;
    }
  }
  CHECK(std::fabs(by_bs[4096] / double(n) - 0.6) < 0.01);
  CHECK(std::fabs(reads_4k / double(by_bs[4096]) - 0.7) < 0.01);
  // The sequential spec advances by its alignment each time it is chosen.
  CHECK(seq_steps > by_bs[65536] * 0.99);
}

TEST_CASE("Random offsets cover the region uniformly" * doctest::test_suite("unit")) {
  Workload w;
  w.specs = {AccessSpec{1, 4096, 1.0, 1.0, 0}};
  AccessPattern p(w, 0, 1 << 20, 0, 1, 99);  // 256 blocks
  std::map<uint64_t, int> hits;
  for (int i = 0; i < 256 * 400; ++i) hits[p.Next().offset / 4096]++;
  CHECK(hits.size() == 256);
  for (auto& [block, count] : hits) {
    CHECK(count > 400 * 0.7);
    CHECK(count < 400 * 1.3);
  }
}

}  // namespace fb
