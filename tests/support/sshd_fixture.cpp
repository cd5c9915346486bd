#include "tests/support/sshd_fixture.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace fb {

namespace {

constexpr const char* kSshd = "/usr/sbin/sshd";

std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool Accepts(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

}  // namespace

bool SshdFixture::Available() { return IsRoot() && access(kSshd, X_OK) == 0 && HaveCommand("ssh-keygen"); }

SshdFixture::SshdFixture() {
  const std::string& d = dir_.path();
  identity_ = d + "/id_ed25519";
  known_hosts_ = d + "/known_hosts";
  for (const std::string& key : {d + "/host_ed25519", identity_}) {
    auto r = RunChecked({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "faultbench-test", "-f", key});
    if (!r.ok()) throw std::runtime_error(r.status().message());
  }
  std::ofstream(d + "/authorized_keys") << ReadFile(identity_ + ".pub");
  port_ = FreePort();
  std::ofstream(known_hosts_) << "[127.0.0.1]:" << port_ << " " << ReadFile(d + "/host_ed25519.pub");
  std::ofstream(d + "/sshd_config") << "Port " << port_ << "\nListenAddress 127.0.0.1\n"
                                    << "HostKey " << d << "/host_ed25519\n"
                                    << "AuthorizedKeysFile " << d << "/authorized_keys\n"
                                    << "PidFile " << d << "/sshd.pid\n"
                                    << "StrictModes no\nPasswordAuthentication no\n"
                                    << "KbdInteractiveAuthentication no\nUsePAM no\n"
                                    << "PermitRootLogin prohibit-password\nLogLevel ERROR\n";
  // sshd needs its privilege separation directory; Debian's unit creates it at boot.
  if (access("/run/sshd", F_OK) != 0) (void)RunCommand({"mkdir", "-p", "-m", "0755", "/run/sshd"});
  pid_t parent = getpid();
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork for sshd failed");
  if (pid_ == 0) {
    setpgid(0, 0);
    // A test binary killed outright (a timeout, SIGKILL) runs no destructor:
    // its sshd goes with it instead of staying behind.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(1);
    int log = open((d + "/sshd.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (log >= 0) dup2(log, 2);
    execl(kSshd, kSshd, "-D", "-e", "-f", (d + "/sshd_config").c_str(), (char*)nullptr);
    _exit(127);
  }
  for (int i = 0; i < 200; ++i) {
    if (Accepts(port_)) return;
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("sshd exited: " + ReadFile(d + "/sshd.log"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  kill(-pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
  throw std::runtime_error("sshd did not listen on 127.0.0.1:" + std::to_string(port_) + " within 5 s");
}

SshdFixture::~SshdFixture() {
  if (pid_ <= 0) return;
  // Sessions first (each connection is a child of the listener in a session of
  // its own, so no process-group kill reaches them), then the listener.
  std::istringstream children(
      ReadFile("/proc/" + std::to_string(pid_) + "/task/" + std::to_string(pid_) + "/children"));
  for (int child; children >> child;) kill(child, SIGTERM);
  kill(pid_, SIGTERM);
  for (int i = 0; i < 200 && waitpid(pid_, nullptr, WNOHANG) == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (kill(pid_, 0) == 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

nlohmann::json SshdFixture::Settings() const {
  return {{"host", "127.0.0.1"},
          {"user", "root"},
          {"ssh_port", std::to_string(port_)},
          {"identity_file", identity_},
          {"known_hosts", known_hosts_}};
}

}  // namespace fb
