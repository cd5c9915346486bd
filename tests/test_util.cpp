#include "tests/test_util.h"

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>

namespace fb {

TempDir::TempDir(const std::string& base) {
  std::string tmpl = base + "/faultbench-test-XXXXXX";
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp under " + base + " failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

CommandResult RunCli(const std::vector<std::string>& args, int64_t timeout_ns) {
  std::vector<std::string> argv{FB_CLI_PATH};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = RunCommand(argv, {.timeout_ns = timeout_ns});
  if (!r.ok()) throw std::runtime_error(r.status().message());
  return r.value();
}

bool IsRoot() { return geteuid() == 0; }

}  // namespace fb

#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <thread>

namespace fb {

LoopDevice::LoopDevice(const std::string& file, bool direct_io) {
  std::vector<std::string> argv{"losetup", "--find", "--show"};
  if (direct_io) argv.push_back("--direct-io=on");
  argv.push_back(file);
  auto r = RunChecked(argv);
  if (!r.ok()) throw std::runtime_error(r.status().message());
  path_ = r.value().substr(0, r.value().find('\n'));
}

LoopDevice::~LoopDevice() {
  if (!path_.empty()) (void)RunCommand({"losetup", "-d", path_});
}

FreezableMount::FreezableMount(const std::string& source, const std::string& mountpoint) : mountpoint_(mountpoint) {
  pid_ = fork();
  if (pid_ == 0) {
    execlp("bindfs", "bindfs", "-f", "-o", "direct_io", source.c_str(), mountpoint.c_str(), (char*)nullptr);
    _exit(127);
  }
  if (pid_ < 0) throw std::runtime_error("fork for bindfs failed");
  // Wait (bounded) until the mount shows up.
  for (int i = 0; i < 200; ++i) {
    std::ifstream mounts("/proc/self/mounts");
    std::string line;
    while (std::getline(mounts, line)) {
      if (line.find(" " + mountpoint + " fuse") != std::string::npos) return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  throw std::runtime_error("bindfs did not mount " + mountpoint + " within 5 s");
}

FreezableMount::~FreezableMount() {
  kill(pid_, SIGCONT);
  (void)RunCommand({"umount", mountpoint_}, {.timeout_ns = 10'000'000'000});
  kill(pid_, SIGTERM);
  for (int i = 0; i < 100; ++i) {
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  (void)RunCommand({"umount", "-l", mountpoint_});
}

bool HaveCommand(const std::string& name) {
  auto r = RunShell("command -v " + name);
  return r.ok() && r->success();
}

}  // namespace fb
