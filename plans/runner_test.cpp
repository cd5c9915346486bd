// faultbench run end to end, as root: a loop device over a file on a bindfs FUSE
// mount; the plan's `command` injector freezes the FUSE daemon (SIGSTOP), which
// hangs every I/O of the load until SIGCONT.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/jsonl_writer.h"
#include "tests/support/skip.h"
#include "tests/support/test_util.h"

extern char** environ;

namespace fb {

namespace {

// The state letter of /proc/PID/stat ('R', 'S', 'T' stopped, ...), '?' if gone.
char ProcState(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string s;
  std::getline(in, s);
  size_t p = s.rfind(')');
  return p == std::string::npos || p + 2 >= s.size() ? '?' : s[p + 2];
}

std::string FreezePlan(const std::string& device, int pid, const std::string& extra_steps,
                       const std::string& duration) {
  return "name: fuse-freeze\n"
         "target: " +
         device +
         "\n"
         "workload: {bs: 4k, rw: randread, queue_depth: 8, duration: " +
         duration +
         ", interval: 100ms, stall_threshold: 50ms}\n"
         "injectors:\n"
         "  freeze: {kind: command, inject: \"kill -STOP " +
         std::to_string(pid) + "\", revert: \"kill -CONT " + std::to_string(pid) +
         "\", check: \"grep -q '^State:.*stopped' /proc/" + std::to_string(pid) +
         "/status\", timeout: 5s}\n"
         "steps:\n"
         "  - {at: 0s, phase: baseline}\n" +
         extra_steps;
}

// The freezable device of these tests, torn down in reverse order whatever happens.
struct FrozenDeviceRig {
  TempDir tmp{"/dev/shm"};
  std::string src = tmp.path() + "/src", mnt = tmp.path() + "/mnt";
  std::unique_ptr<FreezableMount> fuse;
  std::unique_ptr<LoopDevice> loop;
  FrozenDeviceRig() {
    std::filesystem::create_directory(src);
    std::filesystem::create_directory(mnt);
    REQUIRE(RunChecked({"truncate", "-s", "64M", src + "/disk.img"}).ok());
    fuse = std::make_unique<FreezableMount>(src, mnt);
    loop = std::make_unique<LoopDevice>(mnt + "/disk.img", true);
  }
  ~FrozenDeviceRig() {
    if (fuse) kill(fuse->pid(), SIGCONT);
    loop.reset();
    fuse.reset();
  }
};

// A CLI process started in the background, killed and reaped on destruction.
struct BackgroundCli {
  pid_t pid = -1;
  BackgroundCli(const std::vector<std::string>& args, const std::string& log) {
    std::vector<std::string> argv{FB_CLI_PATH};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    REQUIRE(posix_spawn(&pid, FB_CLI_PATH, &fa, nullptr, cargv.data(), environ) == 0);
    posix_spawn_file_actions_destroy(&fa);
  }
  // The exit code, or -1 if it did not exit within `timeout_ms`.
  int Wait(int timeout_ms) {
    for (int i = 0; i < timeout_ms / 10; ++i) {
      int status = 0;
      if (waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
  }
  ~BackgroundCli() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
};

}  // namespace

TEST_CASE(
    "run: a plan freezes a FUSE-backed device for 1 s, steps on time, the stall inside the fault window" *
    doctest::test_suite("integration")) {
  if (!IsRoot() || !HaveCommand("bindfs")) {
    Skip("needs root (loop devices, FUSE mounts) and bindfs");
    return;
  }
  FrozenDeviceRig rig;
  std::string plan_path = rig.tmp.path() + "/plan.yaml";
  {
    std::ofstream plan(plan_path);
    plan << FreezePlan(rig.loop->path(), rig.fuse->pid(),
                       "  - {at: 1500ms, phase: fault, inject: freeze, max_duration: 5s}\n"
                       "  - {at: 2500ms, phase: recovery, revert: freeze}\n"
                       "  - {after: 500ms, mark: settled}\n"
                       "expect:\n"
                       "  max_stall: 2s\n"
                       "  io_errors: 0\n"
                       "  faults:\n"
                       "    freeze: {max_stall: 1500ms, recovery: {to: 20% of baseline, within: 1s}}\n",
                       "4s");
  }
  auto r = RunCli({"run", plan_path, "--out", rig.tmp.path() + "/runs"}, 60'000'000'000);
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(ProcState(rig.fuse->pid()) != 'T');
  std::string dir = OnlyRunDir(rig.tmp.path() + "/runs");
  auto info = nlohmann::json::parse(ReadFile(dir + "/run.json").value());
  CHECK(info["status"] == "completed");
  CHECK(info["verdict"] == "pass");
  CHECK(std::filesystem::exists(dir + "/plan.yaml"));
  CHECK(std::filesystem::exists(dir + "/summary.txt"));
  int64_t load_start = info["load_start"]["t_utc_ns"].get<int64_t>();

  int64_t injected = 0, reverted = 0;
  double inject_cmd_ms = 0, revert_cmd_ms = 0;  // the command ran within that much before its event
  int steps = 0;
  double worst_ms = 0;
  for (const auto& e : ReadJsonl(dir + "/events.jsonl")) {
    if (e["kind"] == "step") {
      ++steps;
      double actual_s = double(e["t_utc_ns"].get<int64_t>() - load_start) / 1e9;
      double err_ms = (actual_s - e["attrs"]["scheduled_rel_s"].get<double>()) * 1e3;
      worst_ms = std::max(worst_ms, std::fabs(err_ms));
      CHECK(std::fabs(err_ms) < 50);
    }
    if (e["kind"] == "fault_injected") {
      INFO(ReadFile(dir + "/samples.jsonl").value());
      injected = e["t_utc_ns"].get<int64_t>();
      inject_cmd_ms = e["attrs"]["command_ms"].get<double>();
      CHECK(e["attrs"]["verified"] == true);
    }
    if (e["kind"] == "fault_reverted") {
      reverted = e["t_utc_ns"].get<int64_t>();
      revert_cmd_ms = e["attrs"]["command_ms"].get<double>();
      CHECK(e["attrs"]["reason"] == "step");
    }
  }
  CHECK(steps == 4);
  REQUIRE(injected > 0);
  REQUIRE(reverted > injected);
  // One freeze over the fault (two stalls when one late completion lands
  // inside it); a job thread run late by a busy machine may show a short
  // stall of its own elsewhere.
  auto stalls = ReadJsonl(dir + "/stalls.jsonl");
  std::vector<std::pair<int64_t, int64_t>> freezes;
  for (const auto& f : FreezesOf(stalls)) {
    if (f.second > injected && f.first < reverted) freezes.push_back(f);
  }
  INFO("stalls: " << nlohmann::json(stalls).dump());
  REQUIRE(freezes.size() == 1);
  int64_t s0 = freezes[0].first, s1 = freezes[0].second;
  double start_vs_inject_ms = double(s0 - injected) / 1e6, end_vs_revert_ms = double(s1 - reverted) / 1e6;
  MESSAGE("worst step timing error " << worst_ms << " ms; stall start - inject " << start_vs_inject_ms
                                     << " ms; stall end - revert " << end_vs_revert_ms << " ms; fault window "
                                     << double(reverted - injected) / 1e6 << " ms, stall "
                                     << double(s1 - s0) / 1e6 << " ms");
  // Each fault event is stamped when its command returned: the signal went
  // within command_ms before it (a busy machine makes that longer).
  CHECK(start_vs_inject_ms > -50 - inject_cmd_ms);
  CHECK(start_vs_inject_ms < 50);
  CHECK(end_vs_revert_ms > -20 - revert_cmd_ms);
  CHECK(end_vs_revert_ms < 100);
  CHECK(r.out.find("PASS  fault freeze#1") != std::string::npos);

  // The same run with a limit it cannot meet: exit 1, the measured value shown.
  auto fail = RunCli({"run", plan_path, "--out", rig.tmp.path() + "/runs2", "--set",
                      "expect.faults.freeze.max_stall=300ms", "-q"},
                     60'000'000'000);
  INFO(fail.out << fail.err);
  CHECK(fail.exit_code == 1);
  CHECK(fail.out.find("FAIL  fault freeze#1   max_stall    <= 300ms: ") != std::string::npos);
  CHECK(ProcState(rig.fuse->pid()) != 'T');
}

TEST_CASE("run: SIGTERM mid-fault reverts the fault before the runner exits" *
          doctest::test_suite("integration")) {
  if (!IsRoot() || !HaveCommand("bindfs")) {
    Skip("needs root (loop devices, FUSE mounts) and bindfs");
    return;
  }
  FrozenDeviceRig rig;
  std::string plan_path = rig.tmp.path() + "/plan.yaml";
  {
    std::ofstream plan(plan_path);
    plan << FreezePlan(rig.loop->path(), rig.fuse->pid(),
                       "  - {at: 1s, phase: fault, inject: freeze, max_duration: 20s}\n"
                       "  - {at: 15s, revert: freeze}\n",
                       "20s");
  }
  BackgroundCli cli({"run", plan_path, "--out", rig.tmp.path() + "/runs"}, rig.tmp.path() + "/out.log");
  // The fault is on and journaled: then the abort.
  REQUIRE(WaitFor([&] { return ProcState(rig.fuse->pid()) == 'T'; }, 10000, 10));
  auto injected = [&] {
    std::string dir = OnlyRunDir(rig.tmp.path() + "/runs");
    if (dir.empty()) return false;
    for (const auto& e : ReadJsonl(dir + "/events.jsonl"))
      if (e["kind"] == "fault_injected") return true;
    return false;
  };
  REQUIRE(WaitFor(injected, 10000, 10));
  REQUIRE(kill(cli.pid, SIGTERM) == 0);
  int code = cli.Wait(20'000);
  INFO(ReadFile(rig.tmp.path() + "/out.log").value());
  CHECK(code == 3);
  CHECK(ProcState(rig.fuse->pid()) != 'T');
  std::string dir = OnlyRunDir(rig.tmp.path() + "/runs");
  auto info = nlohmann::json::parse(ReadFile(dir + "/run.json").value());
  CHECK(info["status"] == "aborted");
  int64_t reverted = 0, finished = 0;
  for (const auto& e : ReadJsonl(dir + "/events.jsonl")) {
    if (e["kind"] == "fault_reverted") {
      reverted = e["t_utc_ns"].get<int64_t>();
      CHECK(e["attrs"]["reason"] == "abort");
    }
    if (e["kind"] == "load_finished") finished = e["t_utc_ns"].get<int64_t>();
  }
  CHECK(reverted > 0);
  CHECK(finished > reverted);  // the fault was reverted before the load was stopped
}

}  // namespace fb
