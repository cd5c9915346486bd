#include "probes/log_probe.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "core/clock.h"
#include "plugin/command_target.h"
#include "tests/support/recording_sink.h"
#include "tests/support/skip.h"
#include "tests/support/sshd_fixture.h"
#include "tests/support/test_util.h"

namespace fb {

namespace {

using CollectingSink = RecordingSink;

void Append(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::app);
  f << text;
}

nlohmann::json MultipathRules() {
  return nlohmann::json::array({{{"match", "checker failed path ([0-9]+:[0-9]+) in map (\\S+)"},
                                 {"kind", "path_failed"},
                                 {"severity", "warning"},
                                 {"message", "path $1 failed in $2"}},
                                {{"match", "([0-9]+:[0-9]+): reinstated"}, {"kind", "path_reinstated"}}});
}

std::string ReadAll(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void WriteScript(const std::string& path, const std::string& text) {
  {
    std::ofstream f(path);
    f << text;
  }
  chmod(path.c_str(), 0755);
}

// Puts `dir` first on PATH (stand-in commands) until destroyed.
class PathPrefix {
 public:
  explicit PathPrefix(const std::string& dir) : old_(getenv("PATH") ? getenv("PATH") : "") {
    setenv("PATH", (dir + ":" + old_).c_str(), 1);
  }
  ~PathPrefix() { setenv("PATH", old_.c_str(), 1); }

 private:
  std::string old_;
};

// A stand-in `ssh` on PATH: records its argv (one word a line, then "--end--")
// and runs the remote command line locally; `-O exit` (closing the master) just
// succeeds.
std::string FakeSsh(const std::string& argv_log) {
  return "#!/bin/sh\n"
         "for a in \"$@\"; do printf '%s\\n' \"$a\"; done >> " +
         argv_log +
         "\n"
         "echo --end-- >> " +
         argv_log +
         "\n"
         "while [ $# -gt 0 ] && [ \"$1\" != -- ]; do shift; done\n"
         "[ $# -gt 0 ] || exit 0\n"
         "shift\n"
         "exec sh -c \"$1\"\n";
}

// A stand-in `date` on PATH for the "remote" host: its clock runs `skew_s` ahead.
void SkewedDate(const std::string& bin, int skew_s) {
  WriteScript(bin + "/date",
              "#!/bin/sh\nexec /usr/bin/date -d '+" + std::to_string(skew_s) + " sec' \"$@\"\n");
}

}  // namespace

TEST_CASE("log probe: rules turn lines into events, rotation and truncation lose no line" *
          doctest::test_suite("unit")) {
  RegisterBuiltinProbes();
  TempDir tmp;
  std::string log = tmp.path() + "/daemon.log";
  Append(log, "old line before start, not read\n");
  Settings s(nlohmann::json{{"path", log}, {"poll_interval", "10ms"}, {"rules", MultipathRules()}});
  auto probe = ProbeRegistry::Global().Create("log", "mpath", &s);
  REQUIRE(s.problems().empty());
  REQUIRE(probe);
  CollectingSink sink;
  REQUIRE(probe->Start(&sink).ok());  // the file is open at its end when Start returns

  Append(log, "multipathd: checker failed path 8:32 in map mpatha\n");
  Append(log, "something else\n");
  REQUIRE(sink.WaitSize(2));
  // Rotation by rename: a line written to the old file just before, then the new file.
  Append(log, "before rotation\n");
  REQUIRE(std::rename(log.c_str(), (log + ".1").c_str()) == 0);
  Append(log, "multipathd: 8:32: reinstated\n");
  REQUIRE(sink.WaitSize(4));
  // Truncation in place, then a new line shorter than what was there: the probe
  // sees the file smaller than its offset whenever it looks.
  { std::ofstream trunc(log, std::ios::trunc); }
  Append(log, "after truncation\n");
  REQUIRE(sink.WaitSize(5));
  probe->Stop();

  auto ev = sink.events();
  REQUIRE(ev.size() == 5);
  CHECK(ev[0].kind == "path_failed");
  CHECK(ev[0].severity == Severity::kWarning);
  CHECK(ev[0].message == "path 8:32 failed in mpatha");
  CHECK(ev[0].source == "mpath");
  CHECK(ev[0].attrs["captures"] == nlohmann::json::array({"8:32", "mpatha"}));
  CHECK(ev[1].kind == "log");
  CHECK(ev[1].message == "something else");
  CHECK(ev[2].message == "before rotation");
  CHECK(ev[3].kind == "path_reinstated");
  CHECK(ev[3].message == "multipathd: 8:32: reinstated");
  CHECK(ev[4].message == "after truncation");
}

TEST_CASE("log probe: follows a command's output and says when it ends" * doctest::test_suite("unit")) {
  Settings s(nlohmann::json{
      {"command", "echo 'conn error 1020'; echo boring"},
      {"unmatched", "drop"},
      {"rules", {{{"match", "conn error ([0-9]+)"}, {"kind", "session_lost"}, {"message", "code $1"}}}}});
  auto probe = NewLogProbe("iscsi", &s);
  REQUIRE(s.problems().empty());
  CollectingSink sink;
  REQUIRE(probe->Start(&sink).ok());
  REQUIRE(sink.WaitSize(2));
  probe->Stop();
  auto ev = sink.events();
  REQUIRE(ev.size() == 2);
  CHECK(ev[0].kind == "session_lost");
  CHECK(ev[0].message == "code 1020");
  CHECK(ev[1].kind == "probe_error");
  CHECK(ev[1].message.find("exit 0") != std::string::npos);
}

TEST_CASE("log probe: Stop() ends a command that never exits" * doctest::test_suite("unit")) {
  Settings s(nlohmann::json{{"command", "sleep 30"}});
  auto probe = NewLogProbe("sleeper", &s);
  CollectingSink sink;
  REQUIRE(probe->Start(&sink).ok());
  int64_t t0 = MonoNs();
  probe->Stop();
  CHECK(MonoNs() - t0 < 2 * kNsPerSec);
}

TEST_CASE("log probe: bad settings are reported with their keys" * doctest::test_suite("unit")) {
  RegisterBuiltinProbes();
  Settings s(nlohmann::json{{"path", "/x"},
                            {"command", "y"},
                            {"rules", {{{"match", "([a-z"}}, {{"match", "a"}, {"severty", "warning"}}}}});
  CHECK(!ProbeRegistry::Global().Create("log", "bad", &s));
  std::vector<std::string> keys;
  for (const auto& p : s.problems()) keys.push_back(p.key);
  CHECK(keys == std::vector<std::string>{"", "rules[0].match", "rules[1].severty"});
}

}  // namespace fb

namespace fb {

namespace {

// The argv of each recorded invocation of the stand-in ssh.
std::vector<std::vector<std::string>> SshCalls(const std::string& argv_log) {
  std::vector<std::vector<std::string>> calls(1);
  std::istringstream in(ReadAll(argv_log));
  std::string word;
  while (std::getline(in, word)) {
    if (word == "--end--") {
      calls.emplace_back();
    } else {
      calls.back().push_back(word);
    }
  }
  calls.pop_back();
  return calls;
}

// Whether a process whose command line contains `needle` is running.
bool ProcessRunning(const std::string& needle) {
  auto r = RunCommand({"pgrep", "-f", needle});
  return r.ok() && r->exit_code == 0;
}

}  // namespace

TEST_CASE("log probe: a journald unit is followed through journalctl and matched on MESSAGE" *
          doctest::test_suite("integration")) {
  TempDir tmp;
  std::string bin = tmp.path() + "/bin";
  REQUIRE(mkdir(bin.c_str(), 0755) == 0);
  int64_t t_us = UtcNs() / kNsPerUs - 3'000'000;  // 3 s ago
  std::string us = std::to_string(t_us);
  // The field set `journalctl -o json` writes for a syslog line of multipathd.
  std::string rec1 = R"({"__CURSOR":"s=5e1f;i=2a1;b=9c2;m=1c9;t=60f;x=4b2","__REALTIME_TIMESTAMP":")" + us +
                     R"(","__MONOTONIC_TIMESTAMP":"1912345","_BOOT_ID":"9c2b4e","PRIORITY":"4",)"
                     R"("SYSLOG_FACILITY":"3","SYSLOG_IDENTIFIER":"multipathd","_PID":"812","_UID":"0",)"
                     R"("_COMM":"multipathd","_TRANSPORT":"syslog","_HOSTNAME":"xcp1",)"
                     R"("_SYSTEMD_UNIT":"multipathd.service",)"
                     R"("MESSAGE":"checker failed path 8:32 in map mpatha"})";
  // journald writes a MESSAGE that is not valid UTF-8 as an array of bytes.
  std::string rec2 = R"({"__REALTIME_TIMESTAMP":")" + std::to_string(t_us + 1000) +
                     R"(","PRIORITY":"6","_SYSTEMD_UNIT":"multipathd.service","MESSAGE":[104,105,255]})";
  WriteScript(bin + "/journalctl", "#!/bin/sh\nprintf '%s\\n' \"$@\" > " + tmp.path() +
                                       "/argv\nprintf '%s\\n' '" + rec1 + "' '" + rec2 +
                                       "'\nexec sleep 30\n");
  PathPrefix path(bin);

  Settings s(nlohmann::json{{"unit", "multipathd.service"}, {"rules", {"multipathd"}}});
  auto probe = NewLogProbe("mpath", &s);
  REQUIRE(s.problems().empty());
  CollectingSink sink;
  REQUIRE(probe->Start(&sink).ok());
  REQUIRE(sink.WaitSize(2));
  probe->Stop();
  ClockAnchor anchor = ClockAnchor::Take();

  CHECK(ReadAll(tmp.path() + "/argv") == "-f\n-o\njson\n-u\nmultipathd.service\n-n\n0\n");
  auto ev = sink.events();
  REQUIRE(ev.size() == 2);
  CHECK(ev[0].kind == "path_failed");
  CHECK(ev[0].attrs["dev_t"] == "8:32");
  CHECK(ev[0].attrs["line"] == "checker failed path 8:32 in map mpatha");
  CHECK(ev[0].attrs["_SYSTEMD_UNIT"] == "multipathd.service");
  CHECK(ev[0].attrs["_HOSTNAME"] == "xcp1");
  CHECK(ev[0].attrs["PRIORITY"] == "4");
  CHECK(ev[0].attrs["SYSLOG_IDENTIFIER"] == "multipathd");
  CHECK(ev[0].attrs["time_format"] == "journald");
  // Placed at __REALTIME_TIMESTAMP, not at arrival 3 s later.
  CHECK(std::llabs(anchor.ToUtc(ev[0].mono_ns) - t_us * kNsPerUs) < 2 * kNsPerMs);
  CHECK(ev[0].attrs.contains("clock_offset_ms"));
  CHECK(ev[1].kind == "log");
  CHECK(ev[1].message == "hi\xff");
  CHECK(ev[1].attrs["PRIORITY"] == "6");

  // The whole journal: no -u.
  Settings all(nlohmann::json{{"journal", "true"}});
  auto whole = NewLogProbe("journal", &all);
  REQUIRE(all.problems().empty());
  CollectingSink sink2;
  REQUIRE(whole->Start(&sink2).ok());
  REQUIRE(sink2.WaitSize(2));
  whole->Stop();
  CHECK(ReadAll(tmp.path() + "/argv") == "-f\n-o\njson\n-n\n0\n");

  RegisterBuiltinProbes();
  Settings both(nlohmann::json{{"unit", "a"}, {"path", "/var/log/syslog"}, {"netns", "fb-a"}});
  CHECK(!ProbeRegistry::Global().Create("log", "x", &both));
  REQUIRE(both.problems().size() == 1);
  CHECK(both.problems()[0].key == "");
  Settings netns(nlohmann::json{{"path", "/var/log/syslog"}, {"netns", "fb-a"}, {"queue_lines", "0"}});
  CHECK(!ProbeRegistry::Global().Create("log", "x", &netns));
  std::vector<std::string> keys;
  for (const auto& p : netns.problems()) keys.push_back(p.key);
  CHECK(keys == std::vector<std::string>{"queue_lines", "netns"});
}

TEST_CASE("log probe: a flood the rules cannot keep up with drops the oldest lines and says how many" *
          doctest::test_suite("unit")) {
  const int kLines = 100000;
  Settings s(nlohmann::json{{"command", "seq 1 " + std::to_string(kLines)}, {"queue_lines", "100"}});
  auto probe = NewLogProbe("flood", &s);
  REQUIRE(s.problems().empty());
  CollectingSink sink(/*delay_ms=*/1);  // about 1000 events a second at best
  REQUIRE(probe->Start(&sink).ok());
  REQUIRE(sink.Wait("probe_error", "", "", 10000).has_value());  // the command ended, after every queued line
  probe->Stop();

  auto ev = sink.events();
  uint64_t dropped = 0, seen = 0, overflows = 0;
  long last = 0;
  bool ordered = true;
  for (const auto& e : ev) {
    if (e.kind == "probe_overflow") {
      ++overflows;
      dropped += e.attrs["lines_dropped"].get<uint64_t>();
      CHECK(e.attrs["queue_lines"] == 100);
      CHECK(e.severity == Severity::kWarning);
    } else if (e.kind == "log") {
      ++seen;
      long n = std::stol(e.message);
      ordered = ordered && n > last;
      last = n;
    }
  }
  INFO("seen " << seen << ", dropped " << dropped << " in " << overflows << " overflow event(s)");
  CHECK(overflows >= 1);
  CHECK(dropped > 0);
  CHECK(seen + dropped == uint64_t(kLines));  // every line is either matched or counted
  CHECK(ordered);
  CHECK(last == kLines);  // the newest lines are kept
  CHECK(ev.back().kind == "probe_error");
}

TEST_CASE(
    "log probe: over ssh a file is followed with tail -F through CommandTarget and line times are corrected "
    "by the host's clock offset" *
    doctest::test_suite("unit")) {
  if (!HaveCommand("setsid")) return;
  TempDir tmp;
  std::string bin = tmp.path() + "/bin", argv_log = tmp.path() + "/ssh.argv",
              log = tmp.path() + "/remote daemon.log";
  REQUIRE(mkdir(bin.c_str(), 0755) == 0);
  // The stand-in runs the remote command in its own session, as sshd would, so
  // only the probe's watchdog (not a process-group kill) can end it.
  SkewedDate(bin, 5);
  std::string fake = FakeSsh(argv_log);
  fake.replace(fake.rfind("exec sh -c"), 10, "exec setsid -w sh -c");
  WriteScript(bin + "/ssh", fake);
  PathPrefix path(bin);
  Append(log, "old line, not read\n");
  nlohmann::json settings = {
      {"path", log},           {"host", "198.18.0.10"}, {"user", "root"},           {"ssh_port", "2222"},
      {"identity_file", "/k"}, {"known_hosts", "/kh"},  {"rules", MultipathRules()}};
  Settings s(settings);
  auto probe = NewLogProbe("remote", &s);
  REQUIRE(s.problems().empty());
  CollectingSink sink;
  REQUIRE(probe->Start(&sink).ok());
  REQUIRE(sink.WaitSize(1));
  Event clock = sink.events()[0];
  REQUIRE(clock.kind == "clock_offset");
  double offset_ms = clock.attrs["offset_ms"].get<double>(),
         unc_ms = clock.attrs["uncertainty_ms"].get<double>();
  INFO("offset " << offset_ms << " ms +/- " << unc_ms << " ms");
  CHECK(std::abs(offset_ms - 5000) <= unc_ms + 50);
  CHECK(clock.attrs["samples"] == 5);
  CHECK(unc_ms < 100);  // one session: no ssh start per round trip
  // tail -n 0 reads from where it opened the file: write once it is there.
  REQUIRE(WaitFor([&] { return OpenAtEndElsewhere(log); }, 10000, 10));

  // A line stamped by the host's clock, 5 s ahead of ours.
  int64_t written_utc = UtcNs();
  Append(log, FormatUtcIso(written_utc + 5 * kNsPerSec, 3) +
                  " xcp1 multipathd: checker failed path 8:32 in map mpatha\n");
  REQUIRE(sink.WaitSize(2));
  ClockAnchor anchor = ClockAnchor::Take();
  Event e = sink.events()[1];
  CHECK(e.kind == "path_failed");
  CHECK(e.message == "path 8:32 failed in mpatha");
  CHECK(e.attrs["clock_correction_ms"].get<double>() == doctest::Approx(-offset_ms));
  // At the corrected line time (within the measurement's uncertainty), not 5 s later.
  CHECK(std::abs(double(anchor.ToUtc(e.mono_ns) - written_utc) / 1e6) <= unc_ms + 50);
  probe->Stop();

  // The remote tail ended through the watchdog when the session's stdin closed.
  CHECK(WaitFor([&] { return !ProcessRunning(log); }, 10000, 10));  // gone

  // The calls: open the master, the clock session, then the follow command,
  // each exactly as CommandTarget::Wrap builds it (the log has no argv[0]).
  auto calls = SshCalls(argv_log);
  REQUIRE(calls.size() >= 3);
  Settings again(settings);
  CommandTarget target = CommandTarget::FromSettings("remote", &again);
  auto wrapped = [&](const std::vector<std::string>& argv) {
    std::vector<std::string> w = target.Wrap(argv);
    REQUIRE(w.front() == "ssh");
    return std::vector<std::string>(w.begin() + 1, w.end());
  };
  CHECK(calls[0].back() == "true");
  CHECK(std::find(calls[0].begin(), calls[0].end(), "ControlMaster=auto") != calls[0].end());
  CHECK(calls[1] == wrapped({"sh", "-c", "while read -r x; do date +%s.%N; done"}));
  const auto& follow = calls[2];
  std::vector<std::string> expected = wrapped({"sh", "-c", "x"});
  REQUIRE(follow.size() == expected.size());
  CHECK(std::vector<std::string>(follow.begin(), follow.end() - 1) ==
        std::vector<std::string>(expected.begin(), expected.end() - 1));
  CHECK(follow.back().find("tail -F -n 0 ") != std::string::npos);
  CHECK(follow.back().find(log) != std::string::npos);
  for (const char* w : {"BatchMode=yes", "StrictHostKeyChecking=yes", "UserKnownHostsFile=/kh", "/k", "2222",
                        "root", "198.18.0.10"}) {
    CHECK(std::find(follow.begin(), follow.end(), w) != follow.end());
  }
}

TEST_CASE("log probe: over ssh a journald unit runs journalctl on the host" * doctest::test_suite("unit")) {
  TempDir tmp;
  std::string bin = tmp.path() + "/bin", argv_log = tmp.path() + "/ssh.argv";
  REQUIRE(mkdir(bin.c_str(), 0755) == 0);
  WriteScript(bin + "/ssh", FakeSsh(argv_log));
  WriteScript(bin + "/journalctl",
              "#!/bin/sh\necho '{\"__REALTIME_TIMESTAMP\":\"1\",\"MESSAGE\":\"remote hello\"}'\nexit 3\n");
  PathPrefix path(bin);
  Settings s(nlohmann::json{{"unit", "iscsid.service"}, {"host", "198.18.0.11"}});
  auto probe = NewLogProbe("rj", &s);
  REQUIRE(s.problems().empty());
  CollectingSink sink;
  REQUIRE(probe->Start(&sink).ok());
  REQUIRE(sink.Wait("probe_error", "", "", 10000).has_value());
  probe->Stop();
  auto ev = sink.events();
  REQUIRE(ev.size() == 3);
  CHECK(ev[0].kind == "clock_offset");
  CHECK(ev[1].message == "remote hello");
  CHECK(ev[2].message.find("`journalctl -f -o json -u iscsid.service -n 0` on 198.18.0.11 ended (exit 3)") !=
        std::string::npos);
  auto calls = SshCalls(argv_log);
  REQUIRE(calls.size() >= 3);
  CHECK(calls[2].back().find("journalctl -f -o json -u iscsid.service -n 0") != std::string::npos);
}

TEST_CASE(
    "log probe: over ssh to a real sshd on 127.0.0.1 it follows a file, measures the clock and leaves "
    "nothing behind" *
    doctest::test_suite("integration")) {
  if (!SshdFixture::Available()) {
    Skip("needs root and /usr/sbin/sshd");
    return;
  }
  SshdFixture sshd;
  TempDir tmp;
  std::string log = tmp.path() + "/sshd-followed.log";
  Append(log, "before start, not read\n");
  Settings s(nlohmann::json{{"path", log},
                            {"host", "127.0.0.1"},
                            {"user", "root"},
                            {"ssh_port", std::to_string(sshd.port())},
                            {"identity_file", sshd.identity_file()},
                            {"known_hosts", sshd.known_hosts()},
                            {"timeout", "10s"},
                            {"rules", MultipathRules()}});
  auto probe = NewLogProbe("sshlog", &s);
  REQUIRE(s.problems().empty());
  CollectingSink sink;
  Status st = probe->Start(&sink);
  INFO(st.message());
  REQUIRE(st.ok());
  REQUIRE(sink.WaitSize(1));
  Event clock = sink.events()[0];
  REQUIRE(clock.kind == "clock_offset");
  double offset_ms = clock.attrs["offset_ms"].get<double>(),
         unc_ms = clock.attrs["uncertainty_ms"].get<double>();
  MESSAGE("clock offset of 127.0.0.1 through sshd: " << offset_ms << " ms +/- " << unc_ms << " ms (rtt "
                                                     << clock.attrs["rtt_ms"].get<double>() << " ms)");
  CHECK(std::abs(offset_ms) <= unc_ms + 1);  // the same clock
  // The remote tail runs under sshd, outside the probe's process group.
  auto remote_tail = [&] { return ProcessRunning("^tail -F -n 0 " + log); };
  REQUIRE(WaitFor(remote_tail, 10000, 10));
  REQUIRE(WaitFor([&] { return OpenAtEndElsewhere(log); }, 10000, 10));  // tail -n 0 is at the end

  Append(log, "multipathd: checker failed path 8:48 in map mpathb\n");
  REQUIRE(sink.WaitSize(2));
  auto ev = sink.events();
  CHECK(ev[1].kind == "path_failed");
  CHECK(ev[1].message == "path 8:48 failed in mpathb");

  int64_t t0 = MonoNs();
  probe->Stop();
  CHECK(MonoNs() - t0 < 3 * kNsPerSec);
  // The watchdog ended the remote tail when the session's stdin closed.
  CHECK(WaitFor([&] { return !remote_tail(); }, 10000, 10));  // gone
  // The ControlMaster connection is closed with the probe.
  probe.reset();
  std::string master = "ControlMaster=auto.* -p " + std::to_string(sshd.port()) + " ";
  CHECK(WaitFor([&] { return !ProcessRunning(master); }, 10000, 10));  // master gone
  for (const auto& e : sink.events()) CHECK(e.kind != "probe_error");
}

}  // namespace fb

namespace fb {

TEST_CASE(
    "log probe: Stop() with a backlog returns within about a second and counts the lines it did not match" *
    doctest::test_suite("integration")) {
  const int kLines = 5000;
  TempDir tmp;
  std::string written = tmp.path() + "/written";  // seq is done: every line is in the pipe or read
  Settings s(
      nlohmann::json{{"command", "seq 1 " + std::to_string(kLines) + "; : > " + written + "; sleep 30"}});
  auto probe = NewLogProbe("backlog", &s);
  REQUIRE(s.problems().empty());
  CollectingSink sink(/*delay_ms=*/5);  // 25 s of matching for the whole backlog
  REQUIRE(probe->Start(&sink).ok());
  REQUIRE(sink.WaitSize(10));
  REQUIRE(WaitFor([&] { return std::filesystem::exists(written); }, 10000, 10));
  int64_t t0 = MonoNs();
  probe->Stop();
  double stop_s = double(MonoNs() - t0) / 1e9;
  INFO("Stop() took " << stop_s << " s");
  CHECK(stop_s < 3);
  uint64_t seen = 0, dropped = 0;
  for (const auto& e : sink.events()) {
    if (e.kind == "log") ++seen;
    if (e.kind == "probe_overflow") dropped += e.attrs["lines_dropped"].get<uint64_t>();
  }
  INFO("seen " << seen << ", dropped " << dropped);
  CHECK(dropped > 0);
  CHECK(seen + dropped == uint64_t(kLines));
}

}  // namespace fb
