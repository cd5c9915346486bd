#include "tests/support/test_util.h"

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
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

std::vector<nlohmann::json> ReadJsonl(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<nlohmann::json> out;
  size_t line_no = 0;
  for (size_t at = 0; at < text.size();) {
    size_t nl = text.find('\n', at);
    // A last line without its newline is still being written by another process: not yet a record.
    if (nl == std::string::npos) break;
    ++line_no;
    std::string line = text.substr(at, nl - at);
    at = nl + 1;
    if (line.empty()) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded()) {
      throw std::runtime_error(path + ":" + std::to_string(line_no) +
                               ": not a JSON record: " + line.substr(0, 120));
    }
    out.push_back(std::move(j));
  }
  return out;
}

std::string OnlyRunDir(const std::string& out_dir) {
  std::string found;
  int n = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(out_dir, ec)) {
    if (!e.is_directory()) continue;
    found = e.path().string();
    ++n;
  }
  return n == 1 ? found : "";
}

std::vector<std::pair<int64_t, int64_t>> FreezesOf(const std::vector<nlohmann::json>& stalls,
                                                   int64_t max_gap_ns) {
  std::vector<std::pair<int64_t, int64_t>> spans;
  for (const auto& s : stalls)
    spans.push_back({s["start_utc_ns"].get<int64_t>(), s["end_utc_ns"].get<int64_t>()});
  std::sort(spans.begin(), spans.end());
  std::vector<std::pair<int64_t, int64_t>> out;
  for (const auto& sp : spans) {
    if (!out.empty() && sp.first - out.back().second <= max_gap_ns) {
      out.back().second = std::max(out.back().second, sp.second);
    } else {
      out.push_back(sp);
    }
  }
  return out;
}

std::string JournalDirOf(const std::string& cli_output) {
  size_t at = cli_output.find("journal: ");
  if (at == std::string::npos) return "";
  std::string dir = cli_output.substr(at + 9);
  return dir.substr(0, dir.find('\n'));
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

FreezableMount::FreezableMount(const std::string& source, const std::string& mountpoint)
    : mountpoint_(mountpoint) {
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

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

namespace fb {

HttpResponse HttpGet(const std::string& ip, int port, const std::string& path, int timeout_ms) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    throw std::runtime_error("connect " + ip + ":" + std::to_string(port) + " failed");
  }
  std::string req = "GET " + path + " HTTP/1.0\r\nHost: " + ip + "\r\nConnection: close\r\n\r\n";
  (void)!write(fd, req.data(), req.size());
  std::string raw;
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) raw.append(buf, size_t(n));
  close(fd);
  HttpResponse r;
  if (raw.rfind("HTTP/", 0) == 0) r.status = std::stoi(raw.substr(raw.find(' ') + 1, 3));
  size_t body = raw.find("\r\n\r\n");
  if (body != std::string::npos) r.body = raw.substr(body + 4);
  return r;
}

std::string UrlEncode(const std::string& s) {
  std::string out;
  char hex[4];
  for (unsigned char c : s) {
    if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(char(c));
    } else {
      snprintf(hex, sizeof hex, "%%%02X", c);
      out += hex;
    }
  }
  return out;
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

}  // namespace fb

#include <dirent.h>
#include <sys/stat.h>

namespace fb {

bool OpenAtEndElsewhere(const std::string& path) {
  struct stat target;
  if (stat(path.c_str(), &target) != 0) return false;
  std::string self = std::to_string(getpid());
  DIR* procs = opendir("/proc");
  if (!procs) return false;
  bool found = false;
  while (dirent* p = readdir(procs)) {
    std::string pid = p->d_name;
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos || pid == self) continue;
    std::string fd_dir = "/proc/" + pid + "/fd";
    DIR* fds = opendir(fd_dir.c_str());
    if (!fds) continue;  // gone, or not ours to read
    while (dirent* f = readdir(fds)) {
      struct stat st;
      if (f->d_name[0] == '.' || stat((fd_dir + "/" + f->d_name).c_str(), &st) != 0) continue;
      if (st.st_ino != target.st_ino || st.st_dev != target.st_dev) continue;
      std::ifstream info("/proc/" + pid + "/fdinfo/" + f->d_name);
      for (std::string line; std::getline(info, line);) {
        if (line.rfind("pos:", 0) == 0 && std::stoll(line.substr(4)) == int64_t(target.st_size)) found = true;
      }
      if (found) break;
    }
    closedir(fds);
    if (found) break;
  }
  closedir(procs);
  return found;
}

}  // namespace fb
