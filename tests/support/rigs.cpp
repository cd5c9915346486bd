#include "tests/support/rigs.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "core/subprocess.h"

namespace fb {

NetnsPair::NetnsPair(int net) : net_(net) {
  std::string pid = std::to_string(getpid());
  a_ = "fbt-a-" + pid;
  b_ = "fbt-b-" + pid;
  std::vector<std::vector<std::string>> steps = {
      {"ip", "netns", "add", a_},
      {"ip", "netns", "add", b_},
      {"ip", "-n", a_, "link", "add", "fbva", "type", "veth", "peer", "name", "fbvb", "netns", b_},
      {"ip", "-n", a_, "addr", "add", addr_a() + "/30", "dev", "fbva"},
      {"ip", "-n", b_, "addr", "add", addr_b() + "/30", "dev", "fbvb"},
      {"ip", "-n", a_, "link", "set", "fbva", "up"},
      {"ip", "-n", b_, "link", "set", "fbvb", "up"},
      {"ip", "-n", a_, "link", "set", "lo", "up"},
      {"ip", "-n", b_, "link", "set", "lo", "up"},
  };
  for (const auto& s : steps) {
    if (!RunChecked(s).ok()) return;
  }
  ok_ = true;
}

NetnsPair::~NetnsPair() {
  // Deleting the namespaces removes the veth pair and every nft table in them.
  (void)RunCommand({"ip", "netns", "del", a_});
  (void)RunCommand({"ip", "netns", "del", b_});
}

bool NetnsPair::Reachable() const {
  // A TCP connect to a closed port of b: a quick "refused" (RST) proves packets
  // flow both ways; a drop leaves it hanging until the 300 ms timeout.
  auto r = RunCommand(
      {"ip", "netns", "exec", a_, "timeout", "0.3", "bash", "-c", "exec 3<>/dev/tcp/" + addr_b() + "/9"},
      {.timeout_ns = 2 * kNsPerSec});
  return r.ok() && (r->success() || r->err.find("refused") != std::string::npos);
}

Background::Background(const std::vector<std::string>& argv, const std::string& stdout_file) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_ = fork();
  if (pid_ == 0) {
    setpgid(0, 0);
    if (!stdout_file.empty()) {
      int fd = open(stdout_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
      }
    }
    execvp(args[0], args.data());
    _exit(127);
  }
}

Background::~Background() { Kill(); }

void Background::Kill() {
  if (pid_ <= 0) return;
  kill(-pid_, SIGKILL);
  kill(pid_, SIGKILL);
  for (int i = 0; i < 500; ++i) {
    if (waitpid(pid_, nullptr, WNOHANG) != 0) break;
    usleep(2000);
  }
  pid_ = -1;
}

ScopedEnv::ScopedEnv(const std::string& name, const std::string& value) : name_(name) {
  const char* old = getenv(name.c_str());
  had_ = old != nullptr;
  if (old) old_ = old;
  setenv(name.c_str(), value.c_str(), 1);
}

ScopedEnv::~ScopedEnv() {
  if (had_) {
    setenv(name_.c_str(), old_.c_str(), 1);
  } else {
    unsetenv(name_.c_str());
  }
}

void WriteScript(const std::string& path, const std::string& text) {
  std::ofstream(path) << "#!/bin/sh\n" << text;
  chmod(path.c_str(), 0755);
}

bool NftTableExists(const std::string& ns, const std::string& table) {
  std::vector<std::string> argv;
  if (!ns.empty()) argv = {"ip", "netns", "exec", ns};
  argv.insert(argv.end(), {"nft", "list", "table", "inet", table});
  auto r = RunCommand(argv, {.timeout_ns = 2 * kNsPerSec});
  return r.ok() && r->success();
}

}  // namespace fb
