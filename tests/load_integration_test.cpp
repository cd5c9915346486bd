// faultbench load end to end: the real CLI on real files, loop devices and a
// FUSE-backed loop device frozen for a known time.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/clock.h"
#include "core/jsonl_writer.h"
#include "tests/support/skip.h"
#include "tests/support/test_util.h"

namespace fb {

TEST_CASE("load on a new file: creates it, runs, and leaves a complete journal" *
          doctest::test_suite("integration")) {
  TempDir tmp("/var/tmp");
  std::string file = tmp.path() + "/test.dat";
  auto r =
      RunCli({"load", "--target", file, "--size", "64MiB", "--rw", "randrw", "--runtime", "2s", "--interval",
              "250ms", "--numjobs", "2", "--out", tmp.path() + "/runs", "--name", "itest"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  struct stat st;
  REQUIRE(stat(file.c_str(), &st) == 0);
  CHECK(st.st_size == 64 << 20);
  CHECK(r.out.find("Summary") != std::string::npos);

  std::string dir = OnlyRunDir(tmp.path() + "/runs");
  auto info = nlohmann::json::parse(ReadFile(dir + "/run.json").value());
  CHECK(info["status"] == "completed");
  CHECK(info["load"]["jobs"] == 2);
  auto samples = ReadJsonl(dir + "/samples.jsonl");
  // 8 intervals of 250 ms, each with a row per job and one for all.
  int all_rows = 0;
  for (const auto& s : samples) {
    if (s["job"] == "all" && !s.contains("drain")) {
      ++all_rows;
      CHECK(s["read"]["ios"].get<uint64_t>() > 0);
      CHECK(s["write"]["ios"].get<uint64_t>() > 0);
      CHECK(s["read"]["lat_p99_us"].get<double>() > 0);
    }
  }
  CHECK(all_rows == 8);
  CHECK(info["load_summary"]["read"]["ios"].get<uint64_t>() > 1000);
  CHECK(info["load_summary"]["errors_total"] == 0);
}

TEST_CASE("load rejects bad input with one clear line and exit 2, touching nothing" *
          doctest::test_suite("integration")) {
  TempDir tmp("/var/tmp");
  std::string file = tmp.path() + "/never.dat";
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  std::vector<Case> cases = {
      {{"--bs", "4kk"}, "\"4kk\""},
      {{"--runtime", "-1s"}, "\"-1s\""},
      {{"--runtime", "10 parsecs"}, "\"10 parsecs\""},
      {{"--rw", "randomread"}, "randomread"},
      {{"--iodepth", "0"}, "queue depth"},
      {{"--bs", "1000"}, "O_DIRECT"},
      {{"--bs", "128MiB"}, "larger than 64MiB"},
      {{"--interval", "1ms"}, "10ms"},
      {{"--spec", "60:4k:70"}, "access spec"},
      {{"--bogus-flag"}, "bogus"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> args{"load", "--target", file, "--size", "16MiB", "--out", tmp.path()};
    args.insert(args.end(), c.args.begin(), c.args.end());
    auto r = RunCli(args);
    INFO(c.args[0] << " -> " << r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find(c.says) != std::string::npos);
    CHECK(r.err.find("faultbench: ") == 0);
  }
  struct stat st;
  CHECK(stat(file.c_str(), &st) != 0);  // not created by a refused run
  auto missing = RunCli({"load", "--target", tmp.path() + "/nope.dat", "--runtime", "1s"});
  CHECK(missing.exit_code == 2);
  CHECK(missing.err.find("--size") != std::string::npos);
  auto beyond = RunCli({"load", "--target", "/dev/null", "--runtime", "1s"});
  CHECK(beyond.exit_code == 2);
  // A missing name in /dev itself is a device that is not there, said so; a
  // file system mounted below /dev (tmpfs /dev/shm) gets its file created.
  auto nodev = RunCli({"load", "--target", "/dev/fb-no-such-disk", "--size", "16MiB", "--runtime", "1s"});
  CHECK(nodev.exit_code == 2);
  CHECK(nodev.err.find("/dev/fb-no-such-disk: no such device") != std::string::npos);
  CHECK(nodev.err.find("/dev/shm") != std::string::npos);
  CHECK(access("/dev/fb-no-such-disk", F_OK) != 0);
  TempDir shm("/dev/shm");
  auto created = RunCli({"load", "--target", shm.path() + "/t.dat", "--size", "16MiB", "--runtime", "1s", "--out",
                         shm.path() + "/runs", "-q"});
  INFO(created.err);
  CHECK(created.exit_code == 0);
  CHECK(stat((shm.path() + "/t.dat").c_str(), &st) == 0);
  CHECK(st.st_size == 16 << 20);
  auto nodir = RunCli({"load", "--target", tmp.path() + "/no/such/dir/x.dat", "--size", "16MiB", "--runtime", "1s"});
  CHECK(nodir.exit_code == 2);
  CHECK(nodir.err.find(tmp.path() + "/no/such/dir") != std::string::npos);
}

TEST_CASE("load on a loop device, and writes to a device with a filesystem refused" *
          doctest::test_suite("integration")) {
  if (!IsRoot()) {
    Skip("needs root for loop devices");
    return;
  }
  TempDir tmp("/dev/shm");
  std::string img = tmp.path() + "/disk.img";
  REQUIRE(RunChecked({"truncate", "-s", "128M", img}).ok());
  LoopDevice loop(img, false);
  auto r = RunCli({"load", "--target", loop.path(), "--rw", "randrw", "--runtime", "2s", "--iodepth", "16",
                   "--out", tmp.path() + "/runs"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("write") != std::string::npos);

  REQUIRE(RunChecked({"mkfs.ext4", "-q", "-F", "-L", "precious", loop.path()}).ok());
  auto refused = RunCli({"load", "--target", loop.path(), "--rw", "randwrite", "--runtime", "1s", "--out",
                         tmp.path() + "/runs"});
  CHECK(refused.exit_code == 2);
  CHECK(refused.err.find("ext4") != std::string::npos);
  CHECK(refused.err.find("precious") != std::string::npos);
  CHECK(refused.err.find("--allow-destroy") != std::string::npos);
  // Reads never need the flag.
  auto reads = RunCli({"load", "--target", loop.path(), "--rw", "randread", "--runtime", "1s", "--out",
                       tmp.path() + "/runs"});
  CHECK(reads.exit_code == 0);

  std::string mnt = tmp.path() + "/mnt";
  std::filesystem::create_directory(mnt);
  REQUIRE(RunChecked({"mount", loop.path(), mnt}).ok());
  auto mounted = RunCli({"load", "--target", loop.path(), "--rw", "randwrite", "--runtime", "1s", "--out",
                         tmp.path() + "/runs"});
  (void)RunCommand({"umount", mnt});
  CHECK(mounted.exit_code == 2);
  CHECK(mounted.err.find("mounted") != std::string::npos);
}

TEST_CASE("a device frozen for 700 ms shows as one stall, to the millisecond" *
          doctest::test_suite("integration")) {
  if (!IsRoot() || !HaveCommand("bindfs")) {
    Skip("needs root and bindfs");
    return;
  }
  TempDir tmp("/dev/shm");
  std::string src = tmp.path() + "/src", mnt = tmp.path() + "/mnt";
  std::filesystem::create_directory(src);
  std::filesystem::create_directory(mnt);
  REQUIRE(RunChecked({"truncate", "-s", "64M", src + "/disk.img"}).ok());
  FreezableMount fuse(src, mnt);
  LoopDevice loop(mnt + "/disk.img", true);

  // Each signal's time is bracketed by clock reads before and after it: a
  // freezer thread preempted around its kill() widens the bracket instead of
  // moving the edge the stall is checked against.
  int64_t stop_utc = 0, stop_after = 0, cont_before = 0, cont_utc = 0;
  std::thread freezer([&] {
    // The freeze once the load has run three of its 100 ms intervals; 700 ms long.
    WaitFor(
        [&] {
          std::string dir = OnlyRunDir(tmp.path() + "/runs");
          return !dir.empty() && ReadJsonl(dir + "/samples.jsonl").size() >= 3;
        },
        30000, 5);
    stop_utc = UtcNs();
    kill(fuse.pid(), SIGSTOP);
    stop_after = UtcNs();
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    cont_before = UtcNs();
    kill(fuse.pid(), SIGCONT);
    cont_utc = UtcNs();
  });
  auto r = RunCli({"load", "--target", loop.path(), "--runtime", "3s", "--interval", "100ms", "--out",
                   tmp.path() + "/runs"});
  freezer.join();
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  std::string dir = OnlyRunDir(tmp.path() + "/runs");
  // One stall over the freeze (a job thread run late by a busy machine may
  // show a short one of its own elsewhere).
  std::vector<nlohmann::json> stalls;
  for (const auto& s : ReadJsonl(dir + "/stalls.jsonl")) {
    if (s["end_utc_ns"].get<int64_t>() > stop_utc && s["start_utc_ns"].get<int64_t>() < cont_utc)
      stalls.push_back(s);
  }
  REQUIRE(stalls.size() == 1);
  const int64_t start = stalls[0]["start_utc_ns"].get<int64_t>(), end = stalls[0]["end_utc_ns"].get<int64_t>();
  MESSAGE("stall start - SIGSTOP: " << double(start - stop_utc) / 1e6 << " ms; stall end - SIGCONT: "
                                    << double(end - cont_before) / 1e6 << " ms (signals sent within "
                                    << double(stop_after - stop_utc) / 1e6 << " and "
                                    << double(cont_utc - cont_before) / 1e6 << " ms)");
  CHECK(start > stop_utc - 5 * kNsPerMs);
  CHECK(start < stop_after + 5 * kNsPerMs);
  CHECK(end > cont_before - 1 * kNsPerMs);
  CHECK(end < cont_utc + 20 * kNsPerMs);
  // The intervals inside the freeze are explicit zero rows flagged as stalled.
  int zero_rows = 0;
  for (const auto& s : ReadJsonl(dir + "/samples.jsonl")) {
    if (s["job"] == "all" && s["read"]["ios"] == 0 && s["stall"] == true && s["inflight"].get<int>() > 0)
      ++zero_rows;
  }
  CHECK(zero_rows >= 5);
}

}  // namespace fb
