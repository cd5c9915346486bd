// The agent's TCP transport: `faultbench agent --listen` (the built binary) on
// 127.0.0.1 with a token file, driven by AgentClient over tcp.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "agent/agent_client.h"
#include "agent/agent_listener.h"
#include "agent/agent_token.h"
#include "core/clock.h"
#include "tests/support/test_util.h"

namespace fb {

namespace {

constexpr const char* kToken = "tcp-test-token-5f0c9e";

void WriteFile(const std::string& path, const std::string& text, mode_t mode) {
  std::ofstream(path) << text;
  chmod(path.c_str(), mode);
}

std::vector<pid_t> ChildrenOf(pid_t pid) {
  std::vector<pid_t> out;
  std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
  for (pid_t c; in >> c;) out.push_back(c);
  return out;
}

// `faultbench agent --listen 127.0.0.1:0 --token-file ...` as a child; the
// port from its "listening on" line. Destruction stops the listener (SIGTERM)
// and kills every session it forked that is still there after a bounded wait.
class Listener {
 public:
  Listener(const std::string& token_file, const std::string& state_dir) {
    int err[2];
    REQUIRE(pipe2(err, O_CLOEXEC) == 0);
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      dup2(err[1], 2);
      execl(FB_CLI_PATH, FB_CLI_PATH, "agent", "--listen", "127.0.0.1:0", "--token-file", token_file.c_str(),
            "--state-dir", state_dir.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    ::close(err[1]);
    err_fd_ = err[0];
    fcntl(err_fd_, F_SETFL, O_NONBLOCK);
    int64_t deadline = MonoNs() + 15 * kNsPerSec;
    while (port_ == 0 && MonoNs() < deadline) {
      char buf[512];
      ssize_t n = ::read(err_fd_, buf, sizeof buf);
      if (n > 0) stderr_.append(buf, size_t(n));
      size_t at = stderr_.find("listening on 127.0.0.1:");
      if (at != std::string::npos && stderr_.find('\n', at) != std::string::npos)
        port_ = std::stoi(stderr_.substr(at + 23));
      if (n <= 0) usleep(20'000);
    }
  }
  ~Listener() {
    if (pid_ <= 0) return;
    std::vector<pid_t> sessions = ChildrenOf(pid_);
    kill(pid_, SIGTERM);
    int st;
    int64_t deadline = MonoNs() + 5 * kNsPerSec;
    while (waitpid(pid_, &st, WNOHANG) == 0) {
      if (MonoNs() > deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &st, 0);
        break;
      }
      usleep(10'000);
    }
    // Sessions end by themselves once their load has ended and the controller
    // is gone; a failed test may leave one running.
    deadline = MonoNs() + 5 * kNsPerSec;
    for (pid_t s : sessions) {
      while (kill(s, 0) == 0 && MonoNs() < deadline) usleep(20'000);
      if (kill(s, 0) == 0) kill(s, SIGKILL);
    }
    ::close(err_fd_);
  }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string stderr_text() {
    char buf[4096];
    ssize_t n;
    while ((n = ::read(err_fd_, buf, sizeof buf)) > 0) stderr_.append(buf, size_t(n));
    return stderr_;
  }

 private:
  pid_t pid_ = -1;
  int err_fd_ = -1;
  int port_ = 0;
  std::string stderr_;
};

class Sink : public AgentRecordSink {
 public:
  void OnAgentSample(const std::string&, nlohmann::json r) override { Add(r); }
  void OnAgentStall(const std::string&, nlohmann::json r) override { Add(r); }
  void OnAgentEvent(const std::string&, const Event& e) override {
    std::lock_guard<std::mutex> lock(mu);
    if (e.attrs.contains("agent_seq")) seqs.push_back(e.attrs["agent_seq"].get<uint64_t>());
    kinds.push_back(e.kind);
  }
  void Add(const nlohmann::json& r) {
    std::lock_guard<std::mutex> lock(mu);
    seqs.push_back(r["agent_seq"].get<uint64_t>());
    if (r.value("job", nlohmann::json()) == "all") ++samples_all;
  }
  std::mutex mu;
  std::vector<uint64_t> seqs;  // the agent's records in the order they arrived
  std::vector<std::string> kinds;
  int samples_all = 0;
};

AgentClientOptions TcpOptions(const TempDir& tmp, int port, Sink* sink, const ClockAnchor* anchor) {
  AgentClientOptions o;
  o.name = "tcpagent";
  o.transport = "tcp";
  o.address = "127.0.0.1";
  o.port = port;
  o.token_file = tmp.path() + "/token";
  o.journal_dir = tmp.path() + "/controller";
  o.own_journal = false;
  o.sink = sink;
  o.anchor = anchor;
  o.reconnect_initial_ns = 100 * kNsPerMs;
  return o;
}

nlohmann::json Workload(const TempDir& tmp, const std::string& duration) {
  return {{"target", {{"path", tmp.path() + "/file"}, {"create_size", "4MiB"}}},
          {"rw", "randrw"},
          {"queue_depth", 1},
          {"rate_iops", 200},
          {"duration", duration},
          {"interval", "200ms"},
          {"direct", false}};
}

// Every record the agent wrote (seq 0 .. records()-2, `finished` last) arrived
// exactly once.
void CheckEveryRecord(const AgentClient& c, Sink& sink) {
  std::lock_guard<std::mutex> lock(sink.mu);
  std::set<uint64_t> seen(sink.seqs.begin(), sink.seqs.end());
  CHECK(seen.size() == sink.seqs.size());  // none twice
  REQUIRE(c.records() >= 2);
  CHECK(seen.size() == c.records() - 1);  // + finished
  CHECK(*seen.begin() == 0);
  CHECK(*seen.rbegin() == c.records() - 2);
  CHECK(c.seq_gaps() == 0);
  CHECK(c.finished()["seq"] == c.records() - 1);
}

// Whether `needle` occurs in any file under `dir`.
bool AnyFileHolds(const std::string& dir, const std::string& needle) {
  std::error_code ec;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (!e.is_regular_file(ec)) continue;
    std::ifstream in(e.path());
    std::stringstream ss;
    ss << in.rdbuf();
    if (ss.str().find(needle) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("agent tcp: a token file that is missing, empty or readable by everyone is refused, exit 2" *
          doctest::test_suite("integration")) {
  TempDir tmp;
  WriteFile(tmp.path() + "/empty", "\n", 0600);
  WriteFile(tmp.path() + "/open", "x\n", 0644);
  for (const std::string name : {"missing", "empty", "open"}) {
    std::string path = tmp.path() + "/" + name;
    CommandResult r = RunCli(
        {"agent", "--listen", "127.0.0.1:0", "--token-file", path, "--state-dir", tmp.path() + "/state"},
        20 * kNsPerSec);
    CHECK_MESSAGE(r.exit_code == 2, name << ": " << r.err);
    CHECK_MESSAGE(r.err.find(path) != std::string::npos, r.err);
  }
  CommandResult r = RunCli({"agent", "--listen", "127.0.0.1:0"}, 20 * kNsPerSec);
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("--token-file") != std::string::npos);
  WriteFile(tmp.path() + "/token", std::string(kToken) + "\n", 0600);
  auto t = ReadAgentToken(tmp.path() + "/token");
  REQUIRE(t.ok());
  CHECK(*t == kToken);  // the final newline is not part of it
  CHECK(AgentTokensEqual(kToken, kToken));
  CHECK_FALSE(AgentTokensEqual(kToken, std::string(kToken) + "x"));
  CHECK_FALSE(AgentTokensEqual(kToken, "tcp-test-token-5f0c9f"));
}

TEST_CASE("agent tcp: a load over tcp runs to finished, every record arrives, the token is in no file" *
          doctest::test_suite("integration")) {
  signal(SIGPIPE, SIG_IGN);
  TempDir tmp;
  WriteFile(tmp.path() + "/token", std::string(kToken) + "\n", 0600);
  Listener listener(tmp.path() + "/token", tmp.path() + "/state");
  REQUIRE_MESSAGE(listener.port() > 0, listener.stderr_text());
  Sink sink;
  ClockAnchor anchor = ClockAnchor::Take();
  AgentClient c(TcpOptions(tmp, listener.port(), &sink, &anchor));
  Status s = c.Connect();
  REQUIRE_MESSAGE(s.ok(), s.message());
  CHECK(c.agent_pid() != listener.pid());  // a forked session
  CHECK(std::llabs(c.clock().offset_ns) <= c.clock().uncertainty_ns + 2 * kNsPerMs);
  s = c.Start("tcprun", Workload(tmp, "2s"));
  REQUIRE_MESSAGE(s.ok(), s.message());
  s = c.RunToEnd(30 * kNsPerSec);
  REQUIRE_MESSAGE(s.ok(), s.message());
  CHECK(c.finished()["status"] == "completed");
  CHECK(c.reconnects() == 0);
  CHECK(c.completed_ios() > 200);  // 2 s at 200 IOPS: ~400
  CheckEveryRecord(c, sink);
  CHECK(sink.samples_all >= 5);
  CHECK(c.agent_run_dir().rfind(tmp.path() + "/state/tcprun-", 0) == 0);
  CHECK_FALSE(AnyFileHolds(tmp.path() + "/state", kToken));
  CHECK(listener.stderr_text().find(kToken) == std::string::npos);
}

TEST_CASE("agent tcp: a wrong token is refused with a clear error naming host and port" *
          doctest::test_suite("integration")) {
  signal(SIGPIPE, SIG_IGN);
  TempDir tmp;
  WriteFile(tmp.path() + "/token", std::string(kToken) + "\n", 0600);
  WriteFile(tmp.path() + "/wrong", "not-the-token\n", 0600);
  Listener listener(tmp.path() + "/token", tmp.path() + "/state");
  REQUIRE_MESSAGE(listener.port() > 0, listener.stderr_text());
  Sink sink;
  ClockAnchor anchor = ClockAnchor::Take();
  AgentClientOptions o = TcpOptions(tmp, listener.port(), &sink, &anchor);
  o.token_file = tmp.path() + "/wrong";
  o.reply_timeout_ns = 5 * kNsPerSec;
  AgentClient c(o);
  int64_t t0 = MonoNs();
  Status s = c.Connect();
  REQUIRE_FALSE(s.ok());
  MESSAGE(s.message());
  CHECK(MonoNs() - t0 < 4 * kNsPerSec);  // an answer, not a timeout
  CHECK(s.message().find("token") != std::string::npos);
  CHECK(s.message().find("127.0.0.1:" + std::to_string(listener.port())) != std::string::npos);
  CHECK(s.message().find("not-the-token") == std::string::npos);
  // The listener goes on: the right token still gets in.
  o.token_file = tmp.path() + "/token";
  AgentClient ok(o);
  s = ok.Connect();
  CHECK_MESSAGE(s.ok(), s.message());
  // A port nobody listens on: the error names it.
  o.port = FreePort();
  o.connect_timeout_ns = 2 * kNsPerSec;
  AgentClient none(o);
  s = none.Connect();
  REQUIRE_FALSE(s.ok());
  CHECK(s.message().find("127.0.0.1:" + std::to_string(o.port)) != std::string::npos);
}

TEST_CASE("agent tcp: the client's socket shut down mid-run, reconnect and resume get every record" *
          doctest::test_suite("integration")) {
  signal(SIGPIPE, SIG_IGN);
  TempDir tmp;
  WriteFile(tmp.path() + "/token", std::string(kToken) + "\n", 0600);
  Listener listener(tmp.path() + "/token", tmp.path() + "/state");
  REQUIRE_MESSAGE(listener.port() > 0, listener.stderr_text());
  Sink sink;
  ClockAnchor anchor = ClockAnchor::Take();
  AgentClient c(TcpOptions(tmp, listener.port(), &sink, &anchor));
  Status s = c.Connect();
  REQUIRE_MESSAGE(s.ok(), s.message());
  s = c.Start("tcpcut", Workload(tmp, "4s"));
  REQUIRE_MESSAGE(s.ok(), s.message());
  int first_pid = c.agent_pid();
  Status run_status;
  std::thread controller([&] { run_status = c.RunToEnd(40 * kNsPerSec); });
  SleepUntilMono(MonoNs() + 1500 * kNsPerMs);
  int fd = c.tcp_fd();
  REQUIRE(fd >= 0);
  CHECK(::shutdown(fd, SHUT_RDWR) == 0);  // as a broken network would
  int64_t cut = MonoNs();
  controller.join();
  REQUIRE_MESSAGE(run_status.ok(), run_status.message());
  CHECK(c.finished()["status"] == "completed");  // the load went on while the connection was gone
  CHECK(c.reconnects() == 1);
  CHECK(c.agent_pid() != first_pid);  // a second session attached to the run
  CHECK(MonoNs() - cut > 1 * kNsPerSec);
  CheckEveryRecord(c, sink);
  std::lock_guard<std::mutex> lock(sink.mu);
  CHECK(std::count(sink.kinds.begin(), sink.kinds.end(), "agent_lost") == 1);
  CHECK(std::count(sink.kinds.begin(), sink.kinds.end(), "agent_back") == 1);
  CHECK(std::count(sink.kinds.begin(), sink.kinds.end(), "agent_seq_gap") == 0);
}

}  // namespace fb
