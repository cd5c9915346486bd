// Data verification end to end: writes really lost, corrupted and misdirected
// behind the generator's back are found, each with the window it was
// acknowledged in; an honest target after kill -9 gives no false positive.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/clock.h"
#include "core/jsonl_writer.h"
#include "loadgen/ack_log.h"
#include "loadgen/verify.h"
#include "tests/support/test_util.h"

namespace fb {

namespace {

constexpr size_t kFile = 4 << 20;

// Reads or writes the whole test file with O_DIRECT (coherent with the load's I/O).
std::vector<uint8_t> ReadDirect(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_DIRECT);
  REQUIRE(fd >= 0);
  void* buf = nullptr;
  REQUIRE(posix_memalign(&buf, 4096, kFile) == 0);
  REQUIRE(pread(fd, buf, kFile, 0) == ssize_t(kFile));
  close(fd);
  std::vector<uint8_t> out(static_cast<uint8_t*>(buf), static_cast<uint8_t*>(buf) + kFile);
  free(buf);
  return out;
}

void WriteBlock(const std::string& path, uint64_t offset, const uint8_t* data) {
  int fd = open(path.c_str(), O_WRONLY | O_DIRECT);
  REQUIRE(fd >= 0);
  void* buf = nullptr;
  REQUIRE(posix_memalign(&buf, 4096, 4096) == 0);
  memcpy(buf, data, 4096);
  REQUIRE(pwrite(fd, buf, 4096, off_t(offset)) == 4096);
  close(fd);
  free(buf);
}

uint32_t GenerationAt(const std::vector<uint8_t>& image, uint64_t offset) {
  BlockHeader h;
  memcpy(&h, image.data() + offset, sizeof h);
  return h.magic == kVerifyMagic ? h.generation : 0;
}

}  // namespace

TEST_CASE(
    "verify: writes lost behind the generator's back are found, with the window they were acknowledged in" *
    doctest::test_suite("integration")) {
  TempDir tmp("/var/tmp");
  std::string file = tmp.path() + "/v.dat";
  std::vector<uint8_t> snapshot;
  int64_t snap_utc = 0, restore_utc = 0;
  // The saboteur paces itself by the load's own intervals (samples.jsonl, one
  // line per 100 ms): the snapshot after the first, the restore five later.
  auto samples = [&] {
    std::string dir = OnlyRunDir(tmp.path() + "/runs");
    return dir.empty() ? size_t(0) : ReadJsonl(dir + "/samples.jsonl").size();
  };
  bool paced = true;
  std::thread saboteur([&] {
    paced = WaitFor([&] { return samples() >= 1; }, 60000, 5) != 0;
    snap_utc = UtcNs();
    snapshot = ReadDirect(file);
    paced = paced && WaitFor([&] { return samples() >= 6; }, 60000, 5) != 0;
    // Put the old content back: every write acknowledged since the snapshot is lost.
    int fd = open(file.c_str(), O_WRONLY | O_DIRECT);
    void* buf = nullptr;
    REQUIRE(posix_memalign(&buf, 4096, kFile) == 0);
    memcpy(buf, snapshot.data(), kFile);
    REQUIRE(pwrite(fd, buf, kFile, 0) == ssize_t(kFile));
    close(fd);
    free(buf);
    restore_utc = UtcNs();
  });
  REQUIRE(RunChecked({"sh", "-c", "head -c 4194304 /dev/urandom > " + file}).ok());
  auto r = RunCli({"load", "--target", file, "--rw", "randrw", "--rwmixread", "50", "--rate-iops", "4000",
                   "--iodepth", "8", "--runtime", "3s", "--verify", "--out", tmp.path() + "/runs",
                   "--interval", "100ms"});
  saboteur.join();
  INFO(r.out << r.err);
  REQUIRE_MESSAGE(paced, "the load wrote no samples.jsonl lines to pace the saboteur by");
  CHECK(r.exit_code == 1);  // findings fail the run
  CHECK(r.out.find("lost") != std::string::npos);

  std::string dir = OnlyRunDir(tmp.path() + "/runs");
  auto info = nlohmann::json::parse(ReadFile(dir + "/run.json").value());
  auto v = info["load_summary"]["verify"];
  CHECK(v["lost_writes"].get<uint64_t>() > 10);
  CHECK(v["final_pass_complete"] == true);
  CHECK(v["blocks_written"].get<uint64_t>() > 100);
  // Every lost write was acknowledged between the snapshot and the restore.
  int64_t load_start_utc = info["load_start"]["t_utc_ns"].get<int64_t>();
  double snap_rel_s = double(snap_utc - load_start_utc) / 1e9;
  double restore_rel_s = double(restore_utc - load_start_utc) / 1e9;
  int lost_events = 0, outside = 0;
  double min_ack = 1e9, max_ack = 0;
  for (const auto& e : ReadJsonl(dir + "/events.jsonl")) {
    if (e["kind"] != "lost_write") continue;
    ++lost_events;
    double ack = e["attrs"]["acked_rel_load_s"].get<double>();
    // Acknowledgement times are whole milliseconds of the load's clock, taken when
    // the load reaps the completion: a write the restore overwrote may be reaped
    // a little after it (50 ms of slack), never one the snapshot already held.
    if (ack < snap_rel_s - 0.002 || ack > restore_rel_s + 0.05) ++outside;
    min_ack = std::min(min_ack, ack);
    max_ack = std::max(max_ack, ack);
  }
  MESSAGE("lost writes: " << lost_events << ", acknowledged between +" << min_ack << " and +" << max_ack
                          << " s; snapshot at +" << snap_rel_s << " s, restore at +" << restore_rel_s
                          << " s");
  CHECK(lost_events > 10);
  CHECK(outside == 0);
}

TEST_CASE("verify after kill -9: no false positive on an honest target, every planted fault found" *
          doctest::test_suite("integration")) {
  TempDir tmp("/var/tmp");
  std::string file = tmp.path() + "/k.dat", ack = tmp.path() + "/acks.bin";
  REQUIRE(RunChecked({"sh", "-c", "head -c 4194304 /dev/urandom > " + file}).ok());
  pid_t pid = fork();
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    execl(FB_CLI_PATH, FB_CLI_PATH, "load", "--target", file.c_str(), "--rw", "randwrite", "--iodepth", "16",
          "--runtime", "30s", "--ack-log", ack.c_str(), "--out", (tmp.path() + "/runs").c_str(),
          (char*)nullptr);
    _exit(127);
  }
  // The snapshot once the load has written most blocks, the kill once it has
  // written over them again: counted in acknowledged writes, not in time.
  auto acked = [&] {
    auto a = ReadAckLog(ack);
    return a.ok() ? a->records : uint64_t(0);
  };
  REQUIRE(WaitFor([&] { return acked() >= 2000; }, 60000, 20));
  std::vector<uint8_t> early = ReadDirect(file);
  uint64_t at_snapshot = acked();
  REQUIRE(WaitFor([&] { return acked() >= at_snapshot + 4000; }, 60000, 20));
  kill(pid, SIGKILL);
  int st;
  waitpid(pid, &st, 0);

  auto honest = RunCli({"verify", "--target", file, "--ack-log", ack});
  INFO(honest.out << honest.err);
  CHECK(honest.exit_code == 0);
  CHECK(honest.out.find("lost 0, misdirected 0, corrupt 0") != std::string::npos);

  auto log = ReadAckLog(ack);
  REQUIRE(log.ok());
  REQUIRE(log->last.size() > 100);
  std::vector<uint8_t> now = ReadDirect(file);
  // Plant: a stale block (older than its last acknowledged write), a flipped
  // bit, and one block's content written at another offset.
  uint64_t stale = UINT64_MAX, flip = UINT64_MAX, victim = UINT64_MAX, source = UINT64_MAX;
  for (const auto& [off, entry] : log->last) {
    uint32_t old_gen = GenerationAt(early, off), cur_gen = GenerationAt(now, off);
    if (stale == UINT64_MAX && old_gen > 0 && old_gen < entry.generation && cur_gen == entry.generation) {
      stale = off;
    } else if (flip == UINT64_MAX && cur_gen == entry.generation) {
      flip = off;
    } else if (source == UINT64_MAX && cur_gen == entry.generation) {
      source = off;
    } else if (victim == UINT64_MAX && cur_gen == entry.generation) {
      victim = off;
    }
  }
  REQUIRE(stale != UINT64_MAX);
  REQUIRE(victim != UINT64_MAX);
  WriteBlock(file, stale, early.data() + stale);
  std::vector<uint8_t> flipped(now.begin() + long(flip), now.begin() + long(flip) + 4096);
  flipped[2345] ^= 0x04;
  WriteBlock(file, flip, flipped.data());
  WriteBlock(file, victim, now.data() + source);

  auto found = RunCli({"verify", "--target", file, "--ack-log", ack});
  INFO(found.out);
  CHECK(found.exit_code == 1);
  CHECK(found.out.find("lost 1, misdirected 1, corrupt 1") != std::string::npos);
  CHECK(found.out.find("lost_write at offset " + std::to_string(stale)) != std::string::npos);
  CHECK(found.out.find("corrupt_block at offset " + std::to_string(flip)) != std::string::npos);
  CHECK(found.out.find("misdirected_write at offset " + std::to_string(victim)) != std::string::npos);
}

}  // namespace fb
