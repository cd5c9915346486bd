#include "loadgen/verify.h"

#include <doctest/doctest.h>

#include <cstring>
#include <vector>

namespace fb {

TEST_CASE("CheckBlock tells lost, misdirected, corrupt and phantom blocks apart" *
          doctest::test_suite("unit")) {
  const uint32_t kBs = 4096;
  const uint64_t kRun = 0x1234, kOff = 8192;
  std::vector<uint8_t> block(kBs, 0xab);
  StampBlock(block.data(), kBs, kRun, kOff, 5, 111);

  CHECK(CheckBlock(block.data(), kBs, kRun, kOff, 5, 5).verdict == BlockVerdict::kOk);
  CHECK(CheckBlock(block.data(), kBs, kRun, kOff, 4, 6).verdict == BlockVerdict::kOk);  // gen 6 in flight
  auto lost = CheckBlock(block.data(), kBs, kRun, kOff, 6, 6);
  CHECK(lost.verdict == BlockVerdict::kLost);
  CHECK(lost.found_generation == 5);
  CHECK(CheckBlock(block.data(), kBs, kRun, kOff, 3, 4).verdict == BlockVerdict::kPhantom);
  auto mis = CheckBlock(block.data(), kBs, kRun, kOff + kBs, 5, 5);
  CHECK(mis.verdict == BlockVerdict::kMisdirected);
  CHECK(mis.found_offset == kOff);
  // Another run's block: stale if we wrote here, else simply not ours.
  CHECK(CheckBlock(block.data(), kBs, kRun + 1, kOff, 5, 5).verdict == BlockVerdict::kLost);
  CHECK(CheckBlock(block.data(), kBs, kRun + 1, kOff, 0, 0).verdict == BlockVerdict::kNotOurs);

  std::vector<uint8_t> flipped = block;
  flipped[3000] ^= 0x10;
  CHECK(CheckBlock(flipped.data(), kBs, kRun, kOff, 5, 5).verdict == BlockVerdict::kCorrupt);
  flipped = block;
  flipped[40] ^= 0x01;  // the write timestamp: header fields are covered too
  CHECK(CheckBlock(flipped.data(), kBs, kRun, kOff, 5, 5).verdict == BlockVerdict::kCorrupt);

  std::vector<uint8_t> zeros(kBs, 0);
  CHECK(CheckBlock(zeros.data(), kBs, kRun, kOff, 0, 0).verdict == BlockVerdict::kNotOurs);
  CHECK(CheckBlock(zeros.data(), kBs, kRun, kOff, 2, 2).verdict == BlockVerdict::kLost);
}

TEST_CASE("VerifyMap tracks busy blocks over multi-block I/Os" * doctest::test_suite("unit")) {
  VerifyMap m(1 << 20, 64 * 4096, 4096);
  CHECK(m.blocks() == 64);
  CHECK(m.IndexOf((1 << 20) + 8192) == 2);
  m.SetBusy((1 << 20) + 8192, 16384, true);
  CHECK(m.Busy((1 << 20) + 4096, 8192));
  CHECK(!m.Busy((1 << 20), 8192));
  CHECK(m.Busy((1 << 20) + 20480, 4096));
  CHECK(!m.Busy((1 << 20) + 24576, 4096));
  m.SetBusy((1 << 20) + 8192, 16384, false);
  CHECK(!m.Busy((1 << 20), 64 * 4096));
}

TEST_CASE("VerifyRunId is stable and never 0" * doctest::test_suite("unit")) {
  CHECK(VerifyRunId("demo-20261122T040000Z") == VerifyRunId("demo-20261122T040000Z"));
  CHECK(VerifyRunId("a") != VerifyRunId("b"));
  CHECK(VerifyRunId("") != 0);
}

}  // namespace fb
