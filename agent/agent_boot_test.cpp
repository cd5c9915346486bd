// An agent process killed mid-run (as a crash or an HA restart would) and
// `faultbench agent --boot` continuing its run: the CLI as child processes.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <map>

#include "agent/protocol.h"
#include "agent/record_log.h"
#include "agent/run_state.h"
#include "core/clock.h"
#include "core/jsonl_writer.h"
#include "tests/support/test_util.h"

namespace fb {

namespace {

nlohmann::json BootWorkload(const std::string& file, const std::string& duration) {
  return {{"target", {{"path", file}, {"create_size", "8MiB"}}},
          {"rw", "randrw"},
          {"bs", "4k"},
          {"queue_depth", 4},
          {"duration", duration},
          {"interval", "200ms"},
          {"direct", false}};
}

// `faultbench agent ...` as a child process; with `pipes`, its stdin and stdout
// are ours, else /dev/null and a log file. SIGKILLed and reaped on destruction.
class AgentChild {
 public:
  AgentChild(const std::vector<std::string>& args, bool pipes, const std::string& log) {
    std::vector<std::string> argv{FB_CLI_PATH, "agent"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    int in[2] = {-1, -1}, out[2] = {-1, -1};
    if (pipes) {
      REQUIRE(pipe2(in, O_CLOEXEC) == 0);
      REQUIRE(pipe2(out, O_CLOEXEC) == 0);
    }
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    int logfd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    REQUIRE(devnull >= 0);
    REQUIRE(logfd >= 0);
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      dup2(pipes ? in[0] : devnull, 0);
      dup2(pipes ? out[1] : logfd, 1);
      dup2(logfd, 2);
      execv(cargv[0], cargv.data());
      _exit(127);
    }
    close(devnull);
    close(logfd);
    if (pipes) {
      close(in[0]);
      close(out[1]);
      to_ = in[1];
      from_ = out[0];
      fcntl(from_, F_SETFL, O_NONBLOCK);
    }
  }
  ~AgentChild() {
    if (to_ >= 0) close(to_);
    if (from_ >= 0) close(from_);
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  AgentChild(const AgentChild&) = delete;
  AgentChild& operator=(const AgentChild&) = delete;

  pid_t pid() const { return pid_; }
  void Send(const nlohmann::json& m) {
    std::string t = m.dump() + "\n";
    REQUIRE(write(to_, t.data(), t.size()) == ssize_t(t.size()));
  }
  // The next message, or null at EOF or after `timeout_ns`.
  nlohmann::json Next(int64_t timeout_ns) {
    int64_t deadline = MonoNs() + timeout_ns;
    for (;;) {
      size_t nl = buf_.find('\n');
      if (nl != std::string::npos) {
        std::string l = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return nlohmann::json::parse(l);
      }
      if (MonoNs() > deadline) return nullptr;
      char b[65536];
      ssize_t n = read(from_, b, sizeof b);
      if (n > 0)
        buf_.append(b, size_t(n));
      else if (n == 0)
        return nullptr;
      else
        usleep(5000);
    }
  }
  // The exit status (as waitpid's) within `timeout_ns`, or -1 (still running).
  int Wait(int64_t timeout_ns) {
    int64_t deadline = MonoNs() + timeout_ns;
    while (MonoNs() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        reaped_ = true;
        return status;
      }
      usleep(20000);
    }
    return -1;
  }
  void Kill() {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    reaped_ = true;
  }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int to_ = -1, from_ = -1;
  std::string buf_;
};

// Starts a load in an agent process; returns the `started` message.
nlohmann::json StartLoad(AgentChild* agent, const nlohmann::json& workload) {
  agent->Send({{"type", "hello"}, {"protocol", kAgentProtocolVersion}});
  auto hello = agent->Next(10 * kNsPerSec);
  REQUIRE(hello.is_object());
  CHECK(hello["type"] == "hello");
  agent->Send({{"type", "start"}, {"run_id", "boot"}, {"workload", workload}});
  auto started = agent->Next(10 * kNsPerSec);
  REQUIRE(started.is_object());
  REQUIRE_MESSAGE(started["type"] == "started", started.dump());
  return started;
}

// Attaches a new agent process to `run_id` and reads from seq 0 to `finished`.
std::vector<nlohmann::json> AttachAndReadAll(const std::string& state_dir, const std::string& run_id,
                                             const std::string& log, int64_t timeout_ns) {
  AgentChild attach({"--stdio", "--state-dir", state_dir, "--attach", run_id}, true, log);
  attach.Send({{"type", "hello"}, {"protocol", kAgentProtocolVersion}});
  auto hello = attach.Next(10 * kNsPerSec);
  REQUIRE(hello.is_object());
  CHECK(hello["run_id"] == run_id);
  attach.Send({{"type", "resume"}, {"from_seq", 0}});
  std::vector<nlohmann::json> got;
  int64_t deadline = MonoNs() + timeout_ns;
  while (MonoNs() < deadline) {
    auto m = attach.Next(deadline - MonoNs());
    if (!m.is_object()) break;
    REQUIRE_MESSAGE((m["type"] == "record" || m["type"] == "finished"), m.dump());
    got.push_back(m);
    if (m["type"] == "finished") break;
  }
  return got;
}

std::string Log(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

TEST_CASE("agent run state: owner.lock excludes a second owner, a torn last line is cut, state round-trips" *
          doctest::test_suite("unit")) {
  TempDir tmp;
  OwnerLock a, b;
  REQUIRE(a.TryLock(tmp.path()).ok());
  Status s = b.TryLock(tmp.path());
  CHECK(s.code() == Status::Code::kUnavailable);
  a.Release();
  CHECK(b.TryLock(tmp.path()).ok());

  std::string path = tmp.path() + "/r.jsonl";
  CHECK(TruncatePartialLine(path).ok());  // missing: nothing to do
  std::ofstream(path) << "{\"seq\":0}\n{\"seq\":1}\n{\"se";
  REQUIRE(TruncatePartialLine(path).ok());
  CHECK(Log(path) == "{\"seq\":0}\n{\"seq\":1}\n");
  REQUIRE(TruncatePartialLine(path).ok());
  CHECK(Log(path) == "{\"seq\":0}\n{\"seq\":1}\n");
  std::ofstream(path) << std::string(10000, 'x');
  REQUIRE(TruncatePartialLine(path).ok());
  CHECK(Log(path).empty());

  AgentRunState st;
  st.run_id = "r-1";
  st.workload_json = {{"target", "/x"}};
  st.verify_run_id = 0x1234567890abcdefULL;
  st.planned_end_utc_ns = 1'800'000'000'000'000'000;
  st.next_seq = 42;
  st.segment = 2;
  st.owner_pid = 7;
  REQUIRE(SaveRunState(tmp.path(), st).ok());
  auto back = LoadRunState(tmp.path());
  REQUIRE_MESSAGE(back.ok(), back.status().message());
  CHECK(back->verify_run_id == st.verify_run_id);
  CHECK(back->planned_end_utc_ns == st.planned_end_utc_ns);
  CHECK(back->next_seq == 42);
  CHECK(back->segment == 2);
  CHECK(back->status == "running");
  CHECK_FALSE(LoadRunState(tmp.path() + "/none").ok());
}

TEST_CASE("agent --boot: a load whose agent was SIGKILLed resumes to its planned end, seq without a gap" *
          doctest::test_suite("integration")) {
  signal(SIGPIPE, SIG_IGN);
  TempDir tmp;
  std::string state_dir = tmp.path() + "/state", log = tmp.path() + "/agent.log";
  AgentChild first({"--stdio", "--state-dir", state_dir}, true, log);
  auto started = StartLoad(&first, BootWorkload(tmp.path() + "/file", "6s"));
  std::string run_id = started["run_id"], run_dir = started["run_dir"];
  SleepUntilMono(MonoNs() + 1500 * kNsPerMs);
  first.Kill();
  int64_t killed_utc = UtcNs();
  auto st = LoadRunState(run_dir);
  REQUIRE_MESSAGE(st.ok(), st.status().message());
  CHECK(st->status == "running");
  CHECK(st->owner_pid == first.pid());
  int64_t planned_end = st->planned_end_utc_ns;
  CHECK(planned_end > killed_utc + 3 * kNsPerSec);

  AgentChild boot({"--boot", "--state-dir", state_dir}, false, log);
  // Wait until the boot agent owns the run.
  int64_t deadline = MonoNs() + 10 * kNsPerSec;
  while (MonoNs() < deadline) {
    auto s = LoadRunState(run_dir);
    if (s.ok() && s->owner_pid == boot.pid()) break;
    usleep(20000);
  }
  REQUIRE_MESSAGE(LoadRunState(run_dir)->owner_pid == boot.pid(), Log(log));
  // A second --boot while the first runs the load: the lock says it is owned.
  auto second = RunCli({"agent", "--boot", "--state-dir", state_dir}, 10 * kNsPerSec);
  CHECK_MESSAGE(second.success(), second.err);
  CHECK(second.err.find("no run to resume") != std::string::npos);
  CHECK(second.elapsed_ns < 3 * kNsPerSec);

  auto got = AttachAndReadAll(state_dir, run_id, tmp.path() + "/attach.log", 20 * kNsPerSec);
  int status = boot.Wait(10 * kNsPerSec);
  REQUIRE_MESSAGE(status != -1, "the --boot agent did not end: " << Log(log));
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  REQUIRE(!got.empty());
  REQUIRE_MESSAGE(got.back()["type"] == "finished", Log(log));
  CHECK(got.back()["status"] == "completed");
  for (size_t i = 0; i < got.size(); ++i) REQUIRE(got[i]["seq"] == i);

  int restarted = 0;
  int64_t restart_utc = 0, last_before_utc = 0, last_sample_utc = 0;
  double gap_ms = -1;
  size_t samples_before = 0, samples_after = 0, samples = 0;
  for (const auto& m : got) {
    if (m["type"] != "record") continue;
    const auto& b = m["body"];
    if (m["stream"] == "events" && b["kind"] == "agent_restarted") {
      ++restarted;
      restart_utc = b["t_utc_ns"];
      gap_ms = b["attrs"]["gap_ms"];
      CHECK(b["attrs"]["dead_pid"] == first.pid());
      CHECK(b["attrs"]["segment"] == 1);
      CHECK(b["attrs"]["first_seq"] == m["seq"]);
      continue;
    }
    if (restarted == 0 && b.contains("t_utc_ns"))
      last_before_utc = std::max(last_before_utc, b["t_utc_ns"].get<int64_t>());
    if (m["stream"] == "samples" && b["job"] == "all") {
      ++(restarted ? samples_after : samples_before);
      last_sample_utc = b["t_utc_ns"];
    }
    samples += m["stream"] == "samples";
  }
  REQUIRE(restarted == 1);
  // The gap runs from the dead process's last record to the restart.
  CHECK(last_before_utc <= killed_utc);
  CHECK(gap_ms == doctest::Approx(double(restart_utc - last_before_utc) / 1e6).epsilon(0.05));
  CHECK(gap_ms > 0);
  CHECK(gap_ms < 5000);
  CHECK(samples_before >= 3);
  CHECK(samples_after >= 5);
  double end_error_ms = double(last_sample_utc - planned_end) / 1e6;
  CHECK(std::abs(end_error_ms) <= 1500);
  // The run directory's journal holds both segments.
  CHECK(ReadJsonl(run_dir + "/samples.jsonl").size() == samples);
  CHECK(ReadJsonl(run_dir + "/" + kRecordLogFile).size() == got.size());
  CHECK(LoadRunState(run_dir)->status == "completed");
  MESSAGE("agent --boot: gap " << gap_ms << " ms (kill to restart " << double(restart_utc - killed_utc) / 1e6
                               << " ms), last sample " << end_error_ms << " ms from the planned end, "
                               << got.size() << " records, " << samples_before << " + " << samples_after
                               << " intervals");
}

TEST_CASE("agent --boot: a run whose planned end has passed is marked interrupted, nothing restarts" *
          doctest::test_suite("integration")) {
  signal(SIGPIPE, SIG_IGN);
  TempDir tmp;
  std::string state_dir = tmp.path() + "/state", log = tmp.path() + "/agent.log";
  AgentChild first({"--stdio", "--state-dir", state_dir}, true, log);
  auto started = StartLoad(&first, BootWorkload(tmp.path() + "/file", "1500ms"));
  std::string run_id = started["run_id"], run_dir = started["run_dir"];
  SleepUntilMono(MonoNs() + 500 * kNsPerMs);
  first.Kill();
  auto st = LoadRunState(run_dir);
  REQUIRE(st.ok());
  int64_t wait_ns = st->planned_end_utc_ns + 300 * kNsPerMs - UtcNs();
  if (wait_ns > 0) SleepUntilMono(MonoNs() + wait_ns);
  size_t before = ReadJsonl(run_dir + "/" + kRecordLogFile).size();

  auto boot = RunCli({"agent", "--boot", "--state-dir", state_dir}, 10 * kNsPerSec);
  CHECK_MESSAGE(boot.success(), boot.err);
  CHECK(boot.elapsed_ns < 3 * kNsPerSec);
  CHECK(boot.err.find("marked interrupted") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(run_dir + "/segments"));
  auto records = ReadJsonl(run_dir + "/" + kRecordLogFile);
  REQUIRE(records.size() == before + 1);
  CHECK(records.back()["stream"] == "finished");
  CHECK(records.back()["body"]["status"] == "interrupted");
  for (const auto& r : records) CHECK(r["body"].value("kind", "") != "agent_restarted");
  CHECK(LoadRunState(run_dir)->status == "interrupted");
  auto info = nlohmann::json::parse(*ReadFile(run_dir + "/run.json"));
  CHECK(info["status"] == "interrupted");

  // Booting again finds nothing to do; a controller attaching gets the end.
  auto again = RunCli({"agent", "--boot", "--state-dir", state_dir}, 10 * kNsPerSec);
  CHECK(again.success());
  CHECK(ReadJsonl(run_dir + "/" + kRecordLogFile).size() == records.size());
  auto got = AttachAndReadAll(state_dir, run_id, tmp.path() + "/attach.log", 10 * kNsPerSec);
  REQUIRE(got.size() == records.size());
  CHECK(got.back()["type"] == "finished");
  CHECK(got.back()["status"] == "interrupted");
}

namespace {

// Sums the verify counters of the "all" samples: [verified, lost, misdirected, corrupt, phantom].
std::array<uint64_t, 5> Integrity(const std::vector<nlohmann::json>& msgs, bool after_restart) {
  std::array<uint64_t, 5> sum{};
  bool restarted = false;
  for (const auto& m : msgs) {
    if (m["type"] != "record") continue;
    const auto& b = m["body"];
    if (m["stream"] == "events" && b.value("kind", "") == "agent_restarted") restarted = true;
    if (m["stream"] != "samples" || b["job"] != "all" || !b.contains("verify") || restarted != after_restart)
      continue;
    const auto& v = b["verify"];
    int i = 0;
    for (const char* k :
         {"verified_blocks", "lost_writes", "misdirected_writes", "corrupt_blocks", "phantom_writes"})
      sum[size_t(i++)] += v.value(k, uint64_t(0));
  }
  return sum;
}

}  // namespace

TEST_CASE("agent: SIGTERM is an orderly shutdown that --boot continues, and verify holds across the restart" *
          doctest::test_suite("integration")) {
  signal(SIGPIPE, SIG_IGN);
  TempDir tmp;
  std::string state_dir = tmp.path() + "/state", log = tmp.path() + "/agent.log";
  auto workload = BootWorkload(tmp.path() + "/file", "5s");
  workload["verify"] = true;
  AgentChild first({"--stdio", "--state-dir", state_dir}, true, log);
  auto started = StartLoad(&first, workload);
  std::string run_id = started["run_id"], run_dir = started["run_dir"];
  std::vector<nlohmann::json> streamed;  // what a controller saw before the shutdown
  int64_t until = MonoNs() + 1500 * kNsPerMs;
  while (MonoNs() < until) {
    auto m = first.Next(until - MonoNs());
    if (m.is_object()) streamed.push_back(m);
  }
  kill(first.pid(), SIGTERM);
  for (int64_t d = MonoNs() + 5 * kNsPerSec; MonoNs() < d;) {
    auto m = first.Next(d - MonoNs());
    if (!m.is_object()) break;  // EOF: the agent has sent everything and exited
    streamed.push_back(m);
  }
  int status = first.Wait(5 * kNsPerSec);
  REQUIRE_MESSAGE(status != -1, "the agent did not exit on SIGTERM: " << Log(log));
  CHECK(WIFEXITED(status));
  auto st = LoadRunState(run_dir);
  REQUIRE(st.ok());
  CHECK(st->status == "running");  // left for --boot
  bool shutdown_seen = false;
  for (const auto& m : streamed) {
    CHECK(m["type"] != "finished");
    if (m["type"] == "record" && m["stream"] == "events" && m["body"].value("kind", "") == "agent_shutdown")
      shutdown_seen = true;
  }
  CHECK_MESSAGE(shutdown_seen, "agent_shutdown was not streamed before the agent exited");

  AgentChild boot({"--boot", "--state-dir", state_dir}, false, log);
  auto got = AttachAndReadAll(state_dir, run_id, tmp.path() + "/attach.log", 20 * kNsPerSec);
  REQUIRE(boot.Wait(10 * kNsPerSec) != -1);
  REQUIRE(!got.empty());
  REQUIRE_MESSAGE(got.back()["type"] == "finished", Log(log));
  CHECK(got.back()["status"] == "completed");
  for (size_t i = 0; i < got.size(); ++i) REQUIRE(got[i]["seq"] == i);
  // Acknowledgements stream as records; the resumed segment's generations are
  // above everything the first process stamped.
  uint64_t acks_before = 0, acks_after = 0;
  uint32_t max_gen_before = 0, min_gen_after = UINT32_MAX;
  bool restarted = false;
  for (const auto& m : got) {
    if (m["type"] != "record") continue;
    if (m["stream"] == "events" && m["body"].value("kind", "") == "agent_restarted") restarted = true;
    if (m["stream"] != "acks") continue;
    for (const auto& a : m["body"]["acks"]) {
      uint32_t g = a[1];
      if (restarted) {
        ++acks_after;
        min_gen_after = std::min(min_gen_after, g);
      } else {
        ++acks_before;
        max_gen_before = std::max(max_gen_before, g);
      }
      CHECK(a[2].get<int64_t>() > 0);
    }
  }
  CHECK(acks_before > 100);
  CHECK(acks_after > 100);
  CHECK(min_gen_after > max_gen_before);
  auto before = Integrity(got, false), after = Integrity(got, true);
  CHECK(before[0] > 0);
  CHECK(after[0] > 0);  // the resumed load read blocks back, some written before the shutdown
  for (int i = 1; i < 5; ++i) {
    CHECK_MESSAGE(before[size_t(i)] == 0, "finding kind " << i << " before the restart");
    CHECK_MESSAGE(after[size_t(i)] == 0, "finding kind " << i << " after the restart");
  }
  MESSAGE("agent SIGTERM + --boot: " << acks_before << " + " << acks_after << " acks streamed, " << before[0]
                                     << " + " << after[0] << " blocks verified, no finding");
}

TEST_CASE("agent check: blocks the controller saw acknowledged are checked on disk after a SIGKILL" *
          doctest::test_suite("integration")) {
  signal(SIGPIPE, SIG_IGN);
  TempDir tmp;
  std::string state_dir = tmp.path() + "/state", log = tmp.path() + "/agent.log";
  std::string file = tmp.path() + "/file";
  auto workload = BootWorkload(file, "30s");
  workload["verify"] = true;
  AgentChild first({"--stdio", "--state-dir", state_dir}, true, log);
  auto started = StartLoad(&first, workload);
  std::string run_id = started["run_id"];
  std::map<uint64_t, std::pair<uint32_t, int64_t>> acked;  // offset -> generation, ack time
  int64_t until = MonoNs() + 1500 * kNsPerMs;
  while (MonoNs() < until) {
    auto m = first.Next(until - MonoNs());
    if (!m.is_object() || m["type"] != "record" || m["stream"] != "acks") continue;
    for (const auto& a : m["body"]["acks"])
      acked[a[0].get<uint64_t>()] = {a[1].get<uint32_t>(), a[2].get<int64_t>()};
  }
  first.Kill();
  REQUIRE(acked.size() > 50);
  // One acknowledged block is lost behind the agent's back.
  uint64_t lost = std::next(acked.begin(), long(acked.size() / 2))->first;
  {
    int fd = open(file.c_str(), O_WRONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    std::vector<char> zeros(4096, 0);
    REQUIRE(pwrite(fd, zeros.data(), zeros.size(), off_t(lost)) == 4096);
    close(fd);
  }
  nlohmann::json blocks = nlohmann::json::array();
  for (const auto& [off, ga] : acked) blocks.push_back({off, ga.first, ga.second});

  AgentChild attach({"--stdio", "--state-dir", state_dir, "--attach", run_id}, true,
                    tmp.path() + "/attach.log");
  attach.Send({{"type", "hello"}, {"protocol", kAgentProtocolVersion}});
  REQUIRE(attach.Next(10 * kNsPerSec).is_object());
  attach.Send({{"type", "check"}, {"id", 7}, {"blocks", blocks}});
  auto r = attach.Next(20 * kNsPerSec);
  REQUIRE(r.is_object());
  REQUIRE_MESSAGE(r["type"] == "check_result", r.dump());
  REQUIRE_MESSAGE(!r.contains("error"), r.dump());
  CHECK(r["id"] == 7);
  CHECK(r["checked"] == acked.size());
  CHECK(r["bad"] == 1);
  REQUIRE(r["findings"].size() == 1);
  CHECK(r["findings"][0]["offset"] == lost);
  CHECK(r["findings"][0]["verdict"] == "lost_write");
  CHECK(r["findings"][0]["ack_utc_ns"] == acked[lost].second);
  MESSAGE("agent check: " << r["checked"] << " blocks in " << r["elapsed_ms"] << " ms, " << r["newer"]
                          << " newer than acknowledged");
}

}  // namespace fb
