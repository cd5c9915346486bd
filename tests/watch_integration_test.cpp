// faultbench watch, run as the real CLI: a plan's log probe follows a temp file,
// the test appends lines and reads them back as events while watch runs.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/clock.h"
#include "tests/support/test_util.h"

namespace fb {

namespace {

// The CLI running in the background with stdout and stderr on one pipe; killed
// and reaped on destruction.
class LiveCli {
 public:
  explicit LiveCli(const std::vector<std::string>& args) {
    std::vector<std::string> argv{FB_CLI_PATH};
    argv.insert(argv.end(), args.begin(), args.end());
    int p[2];
    REQUIRE(pipe2(p, O_CLOEXEC) == 0);
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      setpgid(0, 0);
      dup2(p[1], 1);
      dup2(p[1], 2);
      std::vector<char*> a;
      for (auto& s : argv) a.push_back(s.data());
      a.push_back(nullptr);
      execv(a[0], a.data());
      _exit(127);
    }
    close(p[1]);
    fd_ = p[0];
  }
  ~LiveCli() {
    if (pid_ > 0) {
      kill(-pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    close(fd_);
  }
  // Reads until the output contains `text` or `timeout_ms` passed.
  bool WaitForOutput(const std::string& text, int timeout_ms) {
    int64_t deadline = MonoNs() + int64_t(timeout_ms) * kNsPerMs;
    while (out_.find(text) == std::string::npos) {
      int64_t left = (deadline - MonoNs()) / kNsPerMs;
      if (left <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, int(left)) <= 0) continue;
      char buf[4096];
      ssize_t n = read(fd_, buf, sizeof buf);
      if (n <= 0) return out_.find(text) != std::string::npos;
      out_.append(buf, size_t(n));
    }
    return true;
  }
  // Sends `sig` and waits (at most 10 s) for the exit code; -1 if it did not end.
  int Signal(int sig) {
    kill(pid_, sig);
    for (int i = 0; i < 1000; ++i) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        WaitForOutput("\x01", 200);  // drain what is left
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
  }
  const std::string& output() const { return out_; }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  std::string out_;
};

void Append(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::app);
  f << text;
}

// A plan whose probes follow `log` (a file) and run a command.
std::string WritePlan(const TempDir& tmp, const std::string& log) {
  std::string plan = tmp.path() + "/watch-plan.yaml";
  std::ofstream f(plan);
  f << "name: watch-test\n"
    << "target: " << tmp.path() << "/target.dat\n"
    << "workload: {size: 1MiB, bs: 4k, rw: randread, duration: 10s}\n"
    << "probes:\n"
    << "  mpath:\n"
    << "    kind: log\n"
    << "    path: " << log << "\n"
    << "    poll_interval: 20ms\n"
    << "    rules: [multipathd]\n"
    << "  hello:\n"
    << "    kind: log\n"
    << "    command: \"echo hello from the command; sleep 30\"\n";
  return plan;
}

}  // namespace

TEST_CASE("watch: prints a plan's probe events live, counts them for Prometheus, ends on SIGTERM" *
          doctest::test_suite("integration")) {
  TempDir tmp;
  std::string log = tmp.path() + "/daemon.log";
  Append(log, "Dec  1 07:00:00 xcp1 multipathd: old line, not shown\n");
  std::string plan = WritePlan(tmp, log);
  int port = FreePort();
  LiveCli cli(
      {"watch", "--plan", plan, "--probe", "mpath", "--metrics", "127.0.0.1:" + std::to_string(port)});
  REQUIRE(cli.WaitForOutput("watching 1 probe(s)", 10000));

  Append(log, "multipathd: checker failed path 8:32 in map mpatha\n");
  REQUIRE(cli.WaitForOutput("path_failed", 5000));
  Append(log, "multipathd: mpatha: remaining active paths: 1\nsomething else entirely\n");
  REQUIRE(cli.WaitForOutput("something else entirely", 5000));

  HttpResponse m = HttpGet("127.0.0.1", port, "/metrics");
  CHECK(m.status == 200);
  INFO(m.body);
  CHECK(m.body.find(",kind=\"path_failed\",probe=\"mpath\"} 1\n") != std::string::npos);
  CHECK(m.body.find(",kind=\"log\",probe=\"mpath\"} 1\n") != std::string::npos);
  CHECK(m.body.find("faultbench_run_info{run=\"watch-watch-test-") != std::string::npos);

  CHECK(cli.Signal(SIGTERM) == 0);
  const std::string& out = cli.output();
  INFO(out);
  CHECK(out.find("old line") == std::string::npos);
  CHECK(out.find("hello from the command") == std::string::npos);  // not asked for
  // One line per event: UTC time to the ms, source, kind, severity, message.
  CHECK(
      out.find("Z  mpath  path_failed      warning   multipathd: checker failed path 8:32 in map mpatha\n") !=
      std::string::npos);
  CHECK(out.find("  mpath  paths_remaining  info      multipathd: mpatha: remaining active paths: 1\n") !=
        std::string::npos);
  CHECK(out.find("  mpath  log              debug     something else entirely\n") != std::string::npos);
  size_t at = out.find("Z  mpath  path_failed");
  REQUIRE(at != std::string::npos);
  REQUIRE(at >= 23);
  std::string stamp = out.substr(at - 23, 24);  // 2026-12-01T07:34:36.123Z
  CHECK(stamp[4] == '-');
  CHECK(stamp[10] == 'T');
  CHECK(stamp[19] == '.');
  CHECK(std::llabs(std::stoll(stamp.substr(20, 3))) < 1000);
}

TEST_CASE("watch: an unknown probe name exits 2 naming the plan and the closest probe" *
          doctest::test_suite("integration")) {
  TempDir tmp;
  std::string plan = WritePlan(tmp, tmp.path() + "/daemon.log");
  CommandResult r = RunCli({"watch", "--plan", plan, "--probe", "mpth"}, 30 * kNsPerSec);
  CHECK(r.exit_code == 2);
  CHECK(r.err.find(plan + ": no probe \"mpth\" (did you mean \"mpath\"?); probes: mpath, hello") !=
        std::string::npos);
  CHECK(r.out.empty());

  std::ofstream(tmp.path() + "/bad.yaml") << "name: x\nprobes: {a: {kind: lgo}}\n";
  r = RunCli({"watch", "--plan", tmp.path() + "/bad.yaml"}, 30 * kNsPerSec);
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("bad.yaml:") != std::string::npos);
}

TEST_CASE("watch: --duration ends it, --json prints one object per event" *
          doctest::test_suite("integration")) {
  TempDir tmp;
  std::string plan = WritePlan(tmp, tmp.path() + "/daemon.log");
  int64_t t0 = MonoNs();
  CommandResult r = RunCli({"watch", "--plan", plan, "--json", "--duration", "1500ms"}, 30 * kNsPerSec);
  double elapsed_s = double(MonoNs() - t0) / 1e9;
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(elapsed_s >= 1.5);
  CHECK(elapsed_s < 10);
  auto line = r.out.substr(0, r.out.find('\n'));
  nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
  REQUIRE(j.is_object());
  CHECK(j["source"] == "hello");
  CHECK(j["kind"] == "log");
  CHECK(j["message"] == "hello from the command");
  CHECK(j["t"].get<std::string>().size() == 24);
  CHECK(j.contains("t_utc_ns"));
  CHECK(r.err.find("watching 2 probe(s)") != std::string::npos);
}

TEST_CASE("watch: a probe that cannot start exits 3" * doctest::test_suite("integration")) {
  TempDir tmp;
  std::string bin = tmp.path() + "/bin";
  REQUIRE(mkdir(bin.c_str(), 0755) == 0);
  // An ssh client that never gets through.
  {
    std::ofstream f(bin + "/ssh");
    f << "#!/bin/sh\necho 'ssh: connect to host 198.18.0.10 port 22: Connection refused' >&2\nexit 255\n";
  }
  chmod((bin + "/ssh").c_str(), 0755);
  std::string plan = tmp.path() + "/remote.yaml";
  std::ofstream(plan)
      << "name: remote\ntarget: " << tmp.path() << "/t.dat\n"
      << "workload: {size: 1MiB, duration: 10s}\n"
      << "probes:\n  far:\n    kind: log\n    host: 198.18.0.10\n    path: /var/log/daemon.log\n";
  std::string old = getenv("PATH") ? getenv("PATH") : "";
  setenv("PATH", (bin + ":" + old).c_str(), 1);
  CommandResult r = RunCli({"watch", "--plan", plan}, 30 * kNsPerSec);
  setenv("PATH", old.c_str(), 1);
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("probe far of " + plan + " cannot start") != std::string::npos);
  CHECK(r.err.find("Connection refused") != std::string::npos);
}

}  // namespace fb
