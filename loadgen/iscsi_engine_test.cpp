// The libiscsi engine: URL checks without a target, then loads through two
// real tgtd instances on loopback serving one backing file as one LUN (so both
// portals are paths to the same data, as with a stretched LUN).
#include "loadgen/iscsi_engine.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "core/clock.h"
#include "core/jsonl_writer.h"
#include "core/subprocess.h"
#include "loadgen/iscsi_session.h"
#include "loadgen/load_generator.h"
#include "reports/correlator.h"
#include "tests/support/skip.h"
#include "tests/support/test_util.h"

namespace fb {

namespace {

constexpr const char* kIqn = "iqn.2024-01.org.faultbench:enginetest";
constexpr int kPorts[2] = {3271, 3272};
constexpr int kControlPorts[2] = {71, 72};

// Two tgtd on 127.0.0.1 serving one file as LUN 1 of one target name. Cleans
// up on destruction, also when a test fails: SIGCONT, targets deleted, tgtd
// killed and reaped, the backing file removed with its directory.
class TgtdPair {
 public:
  TgtdPair() : dir_() {
    file_ = dir_.path() + "/lun.img";
    int fd = ::open(file_.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0 || ftruncate(fd, 64 << 20) != 0) error_ = "cannot create " + file_;
    if (fd >= 0) ::close(fd);
    for (int i = 0; i < 2 && error_.empty(); ++i) Start(i);
  }
  ~TgtdPair() {
    for (int i = 0; i < 2; ++i) {
      if (pids_[i] <= 0) continue;
      kill(pids_[i], SIGCONT);
      (void)RunCommand({"tgtadm", "-C", std::to_string(kControlPorts[i]), "--lld", "iscsi", "--op", "delete",
                        "--mode", "target", "--tid", "1", "--force"},
                       {.timeout_ns = 5 * kNsPerSec});
      kill(pids_[i], SIGTERM);
      int64_t deadline = MonoNs() + 2 * kNsPerSec;
      while (waitpid(pids_[i], nullptr, WNOHANG) == 0) {
        if (MonoNs() > deadline) {
          kill(pids_[i], SIGKILL);
          waitpid(pids_[i], nullptr, 0);
          break;
        }
        SleepUntilMono(MonoNs() + 20 * kNsPerMs);
      }
      // tgtd leaves its control socket and lock file behind.
      std::string socket = "/var/run/tgtd/socket." + std::to_string(kControlPorts[i]);
      unlink(socket.c_str());
      unlink((socket + ".lock").c_str());
    }
  }
  const std::string& error() const { return error_; }
  pid_t pid(int i) const { return pids_[i]; }
  static std::string Url(int i) {
    return "iscsi://127.0.0.1:" + std::to_string(kPorts[i]) + "/" + kIqn + "/1";
  }

 private:
  void Start(int i) {
    std::string cp = std::to_string(kControlPorts[i]);
    std::string portal = "portal=127.0.0.1:" + std::to_string(kPorts[i]);
    pid_t pid = fork();
    if (pid == 0) {
      int null = ::open("/dev/null", O_RDWR);
      dup2(null, 0), dup2(null, 1), dup2(null, 2);
      execlp("tgtd", "tgtd", "-f", "-C", cp.c_str(), "--iscsi", portal.c_str(), (char*)nullptr);
      _exit(127);
    }
    pids_[i] = pid;
    auto tgtadm = [&](std::vector<std::string> args) {
      args.insert(args.begin(), {"tgtadm", "-C", cp, "--lld", "iscsi"});
      return RunCommand(args, {.timeout_ns = 5 * kNsPerSec});
    };
    // tgtd takes a moment to open its control socket.
    int64_t deadline = MonoNs() + 5 * kNsPerSec;
    while (true) {
      auto r = tgtadm({"--op", "show", "--mode", "target"});
      if (r.ok() && r->success()) break;
      if (MonoNs() > deadline) {
        error_ = "tgtd -C " + cp + " does not answer";
        return;
      }
      SleepUntilMono(MonoNs() + 50 * kNsPerMs);
    }
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"--op", "new", "--mode", "target", "--tid", "1", "-T", kIqn},
             {"--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun", "1", "-b", file_},
             {"--op", "bind", "--mode", "target", "--tid", "1", "-I", "ALL"}}) {
      auto r = tgtadm(args);
      if (!r.ok() || !r->success()) {
        error_ = "tgtadm " + JoinArgv(args) + ": " + (r.ok() ? r->Describe() : r.status().message());
        return;
      }
    }
  }

  TempDir dir_;
  std::string file_;
  pid_t pids_[2] = {-1, -1};
  std::string error_;
};

bool CanRunTgtd() {
  if (!IsRoot()) {
    Skip("needs root to run tgtd");
    return false;
  }
  if (!HaveCommand("tgtd") || !HaveCommand("tgtadm")) {
    Skip("tgtd/tgtadm not installed (Debian: tgt)");
    return false;
  }
  return true;
}

struct Capture : LoadSink {
  std::vector<IntervalStats> intervals;
  std::vector<Event> events;
  LoadSummary summary;
  void OnInterval(const IntervalReport& r) override { intervals.push_back(*r.total); }
  void OnEvent(const Event& e) override { events.push_back(e); }
  void OnFinish(const LoadSummary& s) override { summary = s; }
};

// The target closes a session's connection (tgtadm --op delete --mode conn).
void DropTgtSession(int control, const std::string& sid) {
  (void)RunCommand({"tgtadm", "-C", std::to_string(control), "--lld", "iscsi", "--op", "delete", "--mode", "conn",
                    "--tid", "1", "--sid", sid, "--cid", "0"},
                   {.timeout_ns = 5 * kNsPerSec});
}

// The I/O errors of a run's journal: job "all" over samples.jsonl.
uint64_t SampleErrors(const std::string& dir) {
  uint64_t errors = 0;
  for (const auto& s : ReadJsonl(dir + "/samples.jsonl")) {
    if (s["job"] == "all") errors += s["errors"].get<uint64_t>();
  }
  return errors;
}

}  // namespace

TEST_CASE("iSCSI URLs are parsed, and bad ones are refused naming the URL" * doctest::test_suite("unit")) {
  auto u = ParseIscsiUrl("iscsi://127.0.0.1:3261/iqn.2024-01.org.faultbench:test/1");
  REQUIRE(u.ok());
  CHECK(u->portal == "127.0.0.1:3261");
  CHECK(u->target == "iqn.2024-01.org.faultbench:test");
  CHECK(u->lun == 1);
  auto bad = ParseIscsiUrl("iscsi://127.0.0.1/iqn.x");
  CHECK(bad.status().code() == Status::Code::kInvalidInput);
  CHECK(bad.status().message().find("iscsi://127.0.0.1/iqn.x") != std::string::npos);
  auto secret = ParseIscsiUrl("iscsi://user%secret@127.0.0.1/iqn.x/1");
  CHECK(secret.status().code() == Status::Code::kInvalidInput);
  CHECK(secret.status().message().find("secret") == std::string::npos);
  CHECK(ParseIscsiUrl("/dev/sdb").status().code() == Status::Code::kInvalidInput);
}

TEST_CASE("libiscsi engine: reads and writes through two paths to one LUN, without errors" *
          doctest::test_suite("integration")) {
  if (!CanRunTgtd()) return;
  TgtdPair tgt;
  REQUIRE_MESSAGE(tgt.error().empty(), tgt.error());
  Workload w;
  w.engine = "libiscsi";
  w.targets = {TgtdPair::Url(0), TgtdPair::Url(1)};
  w.specs[0].read_fraction = 0.7;
  w.duration_ns = 3 * kNsPerSec;
  w.allow_destroy = true;  // a fresh scratch LUN
  LoadGenerator gen(w);
  Capture cap;
  gen.AddSink(&cap);
  Status s = gen.Prepare();
  REQUIRE_MESSAGE(s.ok(), s.message());
  CHECK(gen.target().size_bytes == 64u << 20);
  CHECK(gen.target().logical_block_bytes == 512);
  REQUIRE(gen.Run().ok());
  double iops = double(cap.summary.op[0].ios + cap.summary.op[1].ios) / cap.summary.measured_s;
  MESSAGE("4k randrw 70/30 QD32 over two paths: " << int(iops) << " IOPS");
  CHECK(cap.summary.errors_total == 0);
  CHECK(cap.summary.op[1].ios > 0);
  CHECK(iops > 2000);
  CHECK(std::none_of(cap.events.begin(), cap.events.end(),
                     [](const Event& e) { return e.source == "libiscsi"; }));

  // A malformed path in the list is refused before any I/O (exit 2).
  Workload bad = w;
  bad.targets = {TgtdPair::Url(0), "iscsi://127.0.0.1:" + std::to_string(kPorts[1]) + "/" + kIqn};
  LoadGenerator gen2(bad);
  CHECK(gen2.Prepare().exit_code() == kExitUsage);
}

TEST_CASE(
    "libiscsi engine: a paused target fails its path after io_timeout, I/O goes on, the path comes back" *
    doctest::test_suite("integration")) {
  if (!CanRunTgtd()) return;
  TgtdPair tgt;
  REQUIRE_MESSAGE(tgt.error().empty(), tgt.error());
  TempDir out;
  // Pause site 0 two seconds in for three seconds: like an array that stops
  // answering with its TCP connection up. Each signal is bracketed by clock
  // reads before and after it (a preempted pauser widens the bracket).
  int64_t stop_utc = 0, stop_after = 0, cont_before = 0, cont_utc = 0;
  std::thread pauser([&] {
    SleepUntilMono(MonoNs() + 2500 * kNsPerMs);
    stop_utc = UtcNs();
    kill(tgt.pid(0), SIGSTOP);
    stop_after = UtcNs();
    SleepUntilMono(MonoNs() + 3 * kNsPerSec);
    cont_before = UtcNs();
    kill(tgt.pid(0), SIGCONT);
    cont_utc = UtcNs();
  });
  CommandResult r =
      RunCli({"load", "--engine", "libiscsi", "--target", TgtdPair::Url(0) + "," + TgtdPair::Url(1), "--rw",
              "randrw", "--allow-destroy", "--runtime", "8s", "--interval", "250ms", "--io-timeout", "1s",
              "--checker-interval", "250ms", "--out", out.path(), "-q"},
             60 * kNsPerSec);
  pauser.join();
  REQUIRE_MESSAGE(r.exit_code == 0, r.out << r.err);
  const std::string dir = JournalDirOf(r.out);
  REQUIRE(!dir.empty());

  auto events = ReadJsonl(dir + "/events.jsonl");
  const nlohmann::json* failed = nullptr;
  const nlohmann::json* reinstated = nullptr;
  for (const auto& e : events) {
    if (e.value("source", "") != "libiscsi") continue;
    if (e["kind"] == "path_failed" && !failed) failed = &e;
    if (e["kind"] == "path_reinstated" && !reinstated) reinstated = &e;
  }
  REQUIRE(failed);
  CHECK((*failed)["attrs"]["reason"] == "timeout");
  CHECK((*failed)["attrs"]["portal"] == "127.0.0.1:" + std::to_string(kPorts[0]));
  CHECK((*failed)["attrs"]["active_paths"] == 1);
  double detect_s = double((*failed)["t_utc_ns"].get<int64_t>() - stop_utc) / 1e9;
  CHECK(detect_s > 0.9);
  CHECK(double((*failed)["t_utc_ns"].get<int64_t>() - stop_after) / 1e9 < 1.5);
  REQUIRE(reinstated);
  double back_s = double((*reinstated)["t_utc_ns"].get<int64_t>() - cont_before) / 1e9;
  CHECK(back_s > -0.05);  // not before the target answers again
  CHECK(back_s < 2.0);

  // The I/Os on the paused path stall until their path is failed, then
  // continue on the other one; none fails.
  auto stalls = ReadJsonl(dir + "/stalls.jsonl");
  REQUIRE(!stalls.empty());
  // A busy machine may let one stray completion (a slot of the other path
  // refilled) split the pause: the pause then is the run of stalls from the
  // first one to the one that ends when the path is failed, each piece
  // starting right where the one before ended.
  int64_t failed_utc = (*failed)["t_utc_ns"].get<int64_t>();
  auto end_of = [](const nlohmann::json& st) {  // an open stall never ends
    return st["end_utc_ns"].is_number() ? st["end_utc_ns"].get<int64_t>() : INT64_MAX;
  };
  size_t first = 0, last = 0;
  for (size_t i = 0; i < stalls.size(); ++i) {
    if (end_of(stalls[i]) <= failed_utc + 50 * kNsPerMs) last = i;
  }
  for (size_t i = last; i > first; --i) {
    int64_t gap = stalls[i]["start_utc_ns"].get<int64_t>() - end_of(stalls[i - 1]);
    if (gap > 50 * kNsPerMs) {
      first = i;
      break;
    }
  }
  double start_s = double(stalls[first]["start_utc_ns"].get<int64_t>() - stop_utc) / 1e9;
  double len_s = double(end_of(stalls[last]) - stalls[first]["start_utc_ns"].get<int64_t>()) / 1e9;
  MESSAGE("pause at +2.5s: stall " << len_s << " s in " << (last - first + 1) << " piece(s) starting "
                                   << start_s * 1e3 << " ms after SIGSTOP; path_failed after " << detect_s
                                   << " s; reinstated " << back_s << " s after SIGCONT");
  CHECK(start_s > -0.1);
  CHECK(double(stalls[first]["start_utc_ns"].get<int64_t>() - stop_after) / 1e9 < 0.2);
  CHECK(len_s > 0.8);
  CHECK(len_s < 1.5);
  CHECK(std::llabs(end_of(stalls[last]) - failed_utc) <= 50 * kNsPerMs);
  for (size_t i = 0; i < stalls.size(); ++i) {
    if (i < first || i > last) CHECK(stalls[i]["duration_ms"].get<double>() < 300);  // no second long stall
  }
  auto samples = ReadJsonl(dir + "/samples.jsonl");
  uint64_t ios_while_paused = 0;
  for (const auto& s : samples) {
    if (s["job"] != "all") continue;
    int64_t t = s["t_utc_ns"].get<int64_t>();  // the end of the interval
    if (t > stop_utc + 1500 * kNsPerMs && t < cont_utc - 100 * kNsPerMs) {
      for (const char* op : {"read", "write"}) {
        if (s.contains(op) && s[op].contains("ios")) ios_while_paused += s[op]["ios"].get<uint64_t>();
      }
    }
  }
  CHECK(ios_while_paused > 1000);
  CHECK(SampleErrors(dir) == 0);
}

}  // namespace fb

namespace fb {

TEST_CASE("libiscsi engine: a 1 s freeze of the target reads as one stall within 5 ms at 10 ms intervals, "
          "three times in a row" *
          doctest::test_suite("integration")) {
  if (!CanRunTgtd()) return;
  TgtdPair tgt;
  REQUIRE_MESSAGE(tgt.error().empty(), tgt.error());
  TempDir out;
  // Three freezes of one second (SIGSTOP: TCP stays up, nothing answers).
  // Each signal's time is bracketed by a clock read before and after it, so a
  // pauser thread preempted around its kill() widens the bracket instead of
  // moving the edge the load is checked against.
  struct Freeze {
    int64_t stop_before, stop_after, cont_before, cont_after;
  };
  std::vector<Freeze> freezes;
  std::thread pauser([&] {
    int64_t t = MonoNs();
    for (int i = 0; i < 3; ++i) {
      t += 1500 * kNsPerMs;
      SleepUntilMono(t);
      Freeze f;
      f.stop_before = UtcNs();
      kill(tgt.pid(0), SIGSTOP);
      f.stop_after = UtcNs();
      t += 1000 * kNsPerMs;
      SleepUntilMono(t);
      f.cont_before = UtcNs();
      kill(tgt.pid(0), SIGCONT);
      f.cont_after = UtcNs();
      freezes.push_back(f);
    }
  });
  CommandResult r = RunCli({"load", "--engine", "libiscsi", "--target", TgtdPair::Url(0), "--rw", "randread",
                            "--runtime", "8500ms", "--interval", "10ms", "--iodepth", "16", "--out", out.path(), "-q"},
                           60 * kNsPerSec);
  pauser.join();
  REQUIRE_MESSAGE(r.exit_code == 0, r.out << r.err);
  const std::string dir = JournalDirOf(r.out);
  REQUIRE(!dir.empty());
  auto a = reports::AnalyzeRun(dir);
  REQUIRE(a.ok());
  INFO("stalls.jsonl: " << ReadFile(dir + "/stalls.jsonl").value());
  REQUIRE(freezes.size() == 3);
  for (const Freeze& f : freezes) {
    std::vector<const reports::Stall*> hit;
    for (const auto& s : a->journal.stalls) {
      if (s.end_utc_ns > f.stop_before && s.start_utc_ns < f.cont_after) hit.push_back(&s);
    }
    REQUIRE(hit.size() == 1);
    const reports::Stall& s = *hit[0];
    double freeze_ms = double(f.cont_before - f.stop_after) / 1e6, stall_ms = double(s.length_ns()) / 1e6;
    double start_ms = double(s.start_utc_ns - f.stop_before) / 1e6;
    MESSAGE("freeze " << freeze_ms << " ms: one stall of " << stall_ms << " ms ("
                      << std::max<size_t>(s.pieces.size(), 1) << " gap(s)), starting " << start_ms
                      << " ms from SIGSTOP (signals sent within " << double(f.stop_after - f.stop_before) / 1e6
                      << " and " << double(f.cont_after - f.cont_before) / 1e6 << " ms)");
    // Within 5 ms of the signals' brackets, at both ends.
    CHECK(s.start_utc_ns >= f.stop_before - 5 * kNsPerMs);
    CHECK(s.start_utc_ns <= f.stop_after + 5 * kNsPerMs);
    CHECK(s.end_utc_ns >= f.cont_before - 5 * kNsPerMs);
    CHECK(s.end_utc_ns <= f.cont_after + 5 * kNsPerMs);
  }
}

}  // namespace fb

namespace fb {

namespace {

// The session ids tgtd (control port `control`) lists for target 1.
std::vector<std::string> TgtSessions(int control) {
  auto r = RunCommand({"tgtadm", "-C", std::to_string(control), "--lld", "iscsi", "--op", "show", "--mode", "conn",
                       "--tid", "1"},
                      {.timeout_ns = 5 * kNsPerSec});
  std::vector<std::string> ids;
  if (!r.ok() || !r->success()) return ids;
  std::istringstream in(r->out);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("Session: ", 0) == 0) ids.push_back(line.substr(9));
  }
  return ids;
}

// A run directory under `out` whose samples.jsonl has a record: the load runs.
bool LoadRunning(const std::string& out) {
  std::error_code ec;
  for (const auto& d : std::filesystem::directory_iterator(out, ec)) {
    if (std::filesystem::file_size(d.path() / "samples.jsonl", ec) > 0 && !ec) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("libiscsi engine: three sessions per path share the I/O, a session the target drops fails alone, "
          "I/O goes on without a stall and the session logs in again" *
          doctest::test_suite("integration")) {
  if (!CanRunTgtd()) return;
  TgtdPair tgt;
  REQUIRE_MESSAGE(tgt.error().empty(), tgt.error());
  TempDir out;
  // Once the load runs: the sessions tgtd sees, one dropped by the target
  // (its connection closed), then the sessions once three are back.
  std::vector<std::string> during, after;
  std::string dropped;
  int64_t dropped_utc = 0;
  std::thread dropper([&] {
    int64_t deadline = MonoNs() + 20 * kNsPerSec;
    while (!LoadRunning(out.path()) && MonoNs() < deadline) SleepUntilMono(MonoNs() + 20 * kNsPerMs);
    during = TgtSessions(kControlPorts[0]);
    if (during.size() != 3) return;
    SleepUntilMono(MonoNs() + 500 * kNsPerMs);  // some load on all three first
    dropped = during[0];
    dropped_utc = UtcNs();
    DropTgtSession(kControlPorts[0], dropped);
    while (MonoNs() < deadline) {
      after = TgtSessions(kControlPorts[0]);
      if (after.size() == 3 && std::find(after.begin(), after.end(), dropped) == after.end()) break;
      SleepUntilMono(MonoNs() + 20 * kNsPerMs);
    }
  });
  // A stall of 300 ms or more would be the dropped session's I/O waiting for
  // io_timeout (1 s) instead of going on at once over the other two.
  CommandResult r =
      RunCli({"load", "--engine", "libiscsi", "--target", TgtdPair::Url(0), "--sessions-per-path", "3", "--rw",
              "randread", "--runtime", "4s", "--interval", "250ms", "--io-timeout", "1s", "--checker-interval",
              "250ms", "--stall-threshold", "300ms", "--out", out.path(), "-q"},
             60 * kNsPerSec);
  dropper.join();
  REQUIRE_MESSAGE(r.exit_code == 0, r.out << r.err);
  const std::string dir = JournalDirOf(r.out);
  REQUIRE(!dir.empty());
  INFO("events.jsonl: " << ReadFile(dir + "/events.jsonl").value());
  INFO("tgtd sessions while the load ran: " << JoinArgv(during) << "; after the drop: " << JoinArgv(after));
  REQUIRE(during.size() == 3);  // three sessions: each its own ISID, none took over another
  REQUIRE(!dropped.empty());
  CHECK(after.size() == 3);

  std::vector<nlohmann::json> failed, reinstated;
  for (const auto& e : ReadJsonl(dir + "/events.jsonl")) {
    if (e.value("source", "") != "libiscsi") continue;
    if (e["kind"] == "path_failed") failed.push_back(e);
    if (e["kind"] == "path_reinstated") reinstated.push_back(e);
  }
  REQUIRE(failed.size() == 1);
  const nlohmann::json& f = failed[0]["attrs"];
  CHECK(f["reason"] == "connection_reset");
  CHECK(f["portal"] == "127.0.0.1:" + std::to_string(kPorts[0]));
  CHECK(f["paths"] == 3);
  CHECK(f["active_paths"] == 2);
  int session = f.value("session", 0);
  CHECK(session >= 1);
  CHECK(session <= 3);
  CHECK(failed[0]["message"].get<std::string>().find(" session " + std::to_string(session) + " failed") !=
        std::string::npos);
  // The I/O in flight on the dropped session, sent again on the others: some
  // of the 32 (spread over three: about 11), not none and not all.
  uint64_t retried = f["retries_total"].get<uint64_t>();
  MESSAGE("session " << session << " dropped: " << retried << " of 32 I/Os in flight on it, retried; failed "
                     << double(failed[0]["t_utc_ns"].get<int64_t>() - dropped_utc) / 1e6 << " ms after the drop");
  CHECK(retried > 0);
  CHECK(retried < 32);
  CHECK(failed[0]["t_utc_ns"].get<int64_t>() - dropped_utc < 500 * kNsPerMs);
  REQUIRE(reinstated.size() == 1);
  CHECK(reinstated[0]["attrs"]["session"] == session);
  CHECK(reinstated[0]["attrs"]["active_paths"] == 3);
  CHECK(reinstated[0]["t_utc_ns"].get<int64_t>() > failed[0]["t_utc_ns"].get<int64_t>());

  CHECK(ReadFile(dir + "/stalls.jsonl").value().empty());
  CHECK(SampleErrors(dir) == 0);
}

}  // namespace fb

namespace fb {

TEST_CASE("libiscsi engine: failover with two sessions per path keeps the I/O on the first portal's sessions, "
          "a dropped one's I/O going on over its sibling while the second portal is frozen" *
          doctest::test_suite("integration")) {
  if (!CanRunTgtd()) return;
  TgtdPair tgt;
  REQUIRE_MESSAGE(tgt.error().empty(), tgt.error());
  TempDir out;
  // Once the load runs on both sessions of portal 0: freeze portal 1 (its
  // sessions still active for up to io_timeout) and at once drop one session
  // of portal 0. I/O retried anywhere but portal 0's other session would wait
  // for io_timeout (1 s) on the frozen portal: a stall.
  std::vector<std::string> during;
  std::string dropped;
  int64_t dropped_utc = 0;
  std::thread dropper([&] {
    int64_t deadline = MonoNs() + 20 * kNsPerSec;
    while (!LoadRunning(out.path()) && MonoNs() < deadline) SleepUntilMono(MonoNs() + 20 * kNsPerMs);
    during = TgtSessions(kControlPorts[0]);
    if (during.size() != 2) return;
    SleepUntilMono(MonoNs() + 300 * kNsPerMs);
    kill(tgt.pid(1), SIGSTOP);
    dropped = during[0];
    dropped_utc = UtcNs();
    DropTgtSession(kControlPorts[0], dropped);
    SleepUntilMono(MonoNs() + 2500 * kNsPerMs);  // portal 1's checks time out meanwhile
    kill(tgt.pid(1), SIGCONT);
  });
  CommandResult r =
      RunCli({"load", "--engine", "libiscsi", "--target", TgtdPair::Url(0) + "," + TgtdPair::Url(1),
              "--sessions-per-path", "2", "--path-policy", "failover", "--rw", "randread", "--runtime", "5s",
              "--interval", "250ms", "--io-timeout", "1s", "--checker-interval", "250ms", "--stall-threshold", "300ms",
              "--out", out.path(), "-q"},
             60 * kNsPerSec);
  dropper.join();
  REQUIRE_MESSAGE(r.exit_code == 0, r.out << r.err);
  const std::string dir = JournalDirOf(r.out);
  REQUIRE(!dir.empty());
  INFO("events.jsonl: " << ReadFile(dir + "/events.jsonl").value());
  REQUIRE(during.size() == 2);
  REQUIRE(!dropped.empty());

  const std::string portal0 = "127.0.0.1:" + std::to_string(kPorts[0]);
  const std::string portal1 = "127.0.0.1:" + std::to_string(kPorts[1]);
  std::vector<nlohmann::json> reset0, timeout1, back1;
  for (const auto& e : ReadJsonl(dir + "/events.jsonl")) {
    if (e.value("source", "") != "libiscsi") continue;
    const auto& at = e["attrs"];
    if (e["kind"] == "path_failed" && at["portal"] == portal0) reset0.push_back(e);
    if (e["kind"] == "path_failed" && at["portal"] == portal1) timeout1.push_back(e);
    if (e["kind"] == "path_reinstated" && at["portal"] == portal1) back1.push_back(e);
  }
  // Portal 0: the dropped session alone; some I/O was in flight on it.
  REQUIRE(reset0.size() == 1);
  CHECK(reset0[0]["attrs"]["reason"] == "connection_reset");
  CHECK(reset0[0]["attrs"]["paths"] == 4);
  CHECK(reset0[0]["attrs"]["retries_total"].get<uint64_t>() > 0);
  CHECK(reset0[0]["t_utc_ns"].get<int64_t>() - dropped_utc < 500 * kNsPerMs);
  // Portal 1: both its sessions failed by their TEST UNIT READY, and came back.
  REQUIRE(timeout1.size() == 2);
  CHECK(timeout1[0]["attrs"]["reason"] == "timeout");
  CHECK(timeout1[0]["attrs"]["session"] != timeout1[1]["attrs"]["session"]);
  CHECK(back1.size() == 2);
  // No I/O waited on the frozen portal, none failed.
  CHECK(ReadFile(dir + "/stalls.jsonl").value().empty());
  CHECK(SampleErrors(dir) == 0);
}

}  // namespace fb
