// poll against stand-in commands: a script that prints a fixture file the test
// rewrites between polls (the multipathd CLI shapes of docs/platform.md), a sysfs-shaped
// tree for iSCSI sessions, and a command that fails and hangs.
#include "probes/poll_probe.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <mutex>
#include <optional>
#include <thread>

#include "core/clock.h"
#include "tests/support/recording_sink.h"
#include "tests/support/rigs.h"
#include "tests/support/test_util.h"

namespace fb {

namespace {

using nlohmann::json;

using Sink = RecordingSink;

void WriteFile(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp);
    f << text;
  }
  std::rename(tmp.c_str(), path.c_str());
}

// A stand-in command: `poll.sh` counts its runs, fails while `fail` exists, hangs
// while `hang` exists, and otherwise prints `out`.
class Fixture {
 public:
  Fixture() {
    WriteScript(dir_.path() + "/poll.sh",
                "cd '" + dir_.path() +
                    "'\n"
                    "echo x >> polls\n"
                    "[ -e hang ] && exec sleep 10\n"
                    "[ -e fail ] && { echo 'error receiving packet' >&2; exit 1; }\n"
                    "cat out\n");
    Set("");
  }
  std::string script() const { return dir_.path() + "/poll.sh"; }
  std::string path(const std::string& name) const { return dir_.path() + "/" + name; }
  // Writes the output and returns once a whole poll has run with it.
  void Set(const std::string& out) {
    WriteFile(path("out"), out);
    int before = Polls();  // every run counted after this reads the new output
    if (before > 0) CHECK(WaitFor([&] { return Polls() >= before + 2; }, 5000, 5) != 0);
  }
  int Polls() const {
    std::ifstream f(path("polls"));
    int n = 0;
    for (std::string l; std::getline(f, l);) ++n;
    return n;
  }

 private:
  TempDir dir_;
};

std::unique_ptr<Probe> MakeProbe(json settings) {
  RegisterBuiltinProbes();
  Settings s(std::move(settings));
  auto p = ProbeRegistry::Global().Create("poll", "poll-a", &s);
  for (const auto& pr : s.problems()) MESSAGE(pr.key << ": " << pr.message);
  REQUIRE(s.problems().empty());
  REQUIRE(p);
  return p;
}

// Columns padded to their widest cell, as multipathd prints them.
std::string Aligned(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> w;
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size(); ++i) {
      if (w.size() <= i) w.push_back(0);
      w[i] = std::max(w[i], r[i].size());
    }
  std::string out;
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) line += r[i] + std::string(w[i] - r[i].size() + 1, ' ');
    out += line + "\n";
  }
  return out;
}

}  // namespace

TEST_CASE(
    "poll probe: multipathd show paths rows become path_failed and path_reinstated, transients and junk do "
    "not" *
    doctest::test_suite("unit")) {
  Fixture fx;
  const std::string header = "dev dm_st  chk_st      dev_st\n";
  fx.Set(header + "sdc active ready       running\nsdd active ready       running\n");
  auto probe =
      MakeProbe({{"parser", "multipathd_paths"}, {"argv", {"sh", fx.script()}}, {"interval", "30ms"}});
  Sink sink;
  REQUIRE(probe->Start(&sink).ok());
  auto initial = sink.Wait("initial");
  REQUIRE(initial);
  CHECK(initial->attrs["entries"] == 2);

  // The checker is busy and multipathd prints noise: a path_state, nothing more.
  fx.Set(header +
         "sdc active i/o pending running\nsdd active ready       running\ntimeout receiving packet\n"
         "error calling out /sbin/scsi_id now\n");
  fx.Set(header + "sdc active i/o pending running\nsdd active ready       running\n");
  CHECK(sink.Count("path_state") == 1);
  CHECK(sink.Count("path_failed") == 0);
  CHECK(sink.events().size() == 2);

  fx.Set(header + "sdc failed faulty      offline\nsdd active ready       running\n");
  auto failed = sink.Wait("path_failed");
  REQUIRE(failed);
  CHECK(failed->severity == Severity::kWarning);
  CHECK(failed->attrs["device"] == "sdc");
  CHECK(failed->attrs["dm_state"] == "failed");
  CHECK(failed->attrs["chk_state"] == "faulty");
  CHECK(failed->attrs["dev_state"] == "offline");
  CHECK(failed->attrs["previous_dm_state"] == "active");
  CHECK(failed->attrs["previous_chk_state"] == "i/o pending");
  CHECK(failed->attrs["previous_dev_state"] == "running");
  CHECK(failed->attrs["line"] == "sdc failed faulty      offline");
  CHECK(failed->attrs["previous_line"] == "sdc active i/o pending running");
  CHECK(failed->attrs["window_ms"].get<double>() > 0);

  fx.Set(header + "sdc active ready       running\nsdd active ready       running\n");
  auto back = sink.Wait("path_reinstated", "device", "sdc");
  REQUIRE(back);
  CHECK(back->attrs["previous_dm_state"] == "failed");

  fx.Set(header + "sdc active ready       running\nsde active ready       running\n");
  REQUIRE(sink.Wait("path_removed", "device", "sdd"));
  auto added = sink.Wait("path_added", "device", "sde");
  REQUIRE(added);
  CHECK(added->severity == Severity::kInfo);

  fx.Set(header + "sdc active ready       running\nsde active i/o timeout running\n");
  auto timeout = sink.Wait("path_failed", "device", "sde");
  REQUIRE(timeout);
  CHECK(timeout->attrs["chk_state"] == "i/o timeout");
  probe->Stop();
  CHECK(sink.Count("path_failed") == 2);
  CHECK(sink.Count("path_reinstated") == 1);
  CHECK(sink.Count("path_state") == 1);
  for (const Event& e : sink.events()) CHECK(e.source == "poll-a");
}

TEST_CASE("poll probe: multipathd show maps status columns by header, active path counts and dm-st" *
          doctest::test_suite("unit")) {
  Fixture fx;
  const std::vector<std::string> header = {"name", "failback", "queueing", "paths", "dm-st", "write_prot"};
  auto maps = [&](const std::string& a_paths, const std::string& b_queue, const std::string& b_paths,
                  const std::string& b_st) {
    return Aligned({header,
                    {"mpatha", "-", "-", a_paths, "active", "rw"},
                    {"mpathb", "immediate", b_queue, b_paths, b_st, "rw"}});
  };
  fx.Set(maps("2", "5 chk", "2", "active"));
  auto probe =
      MakeProbe({{"parser", "multipathd_maps"}, {"command", "sh " + fx.script()}, {"interval", "30ms"}});
  Sink sink;
  REQUIRE(probe->Start(&sink).ok());
  REQUIRE(sink.Wait("initial"));

  fx.Set(maps("2", "4 chk", "2", "active"));  // a countdown: no event
  CHECK(sink.events().size() == 1);

  fx.Set(maps("1", "4 chk", "2", "active"));
  auto a = sink.Wait("path_failed", "map", "mpatha");
  REQUIRE(a);
  CHECK(a->attrs["paths"] == 1);
  CHECK(a->attrs["previous_paths"] == 2);
  CHECK(a->severity == Severity::kWarning);

  fx.Set(maps("1", "3 chk", "0", "suspend"));
  auto b = sink.Wait("path_failed", "map", "mpathb");
  REQUIRE(b);
  CHECK(b->severity == Severity::kError);
  CHECK(b->attrs["paths"] == 0);
  CHECK(b->attrs["columns"]["queueing"] == "3 chk");
  CHECK(b->attrs["columns"]["failback"] == "immediate");
  CHECK(b->attrs["columns"]["write_prot"] == "rw");
  auto st = sink.Wait("map_state", "map", "mpathb");
  REQUIRE(st);
  CHECK(st->attrs["dm_st"] == "suspend");
  CHECK(st->attrs["previous_dm_st"] == "active");

  fx.Set(maps("2", "-", "2", "active"));
  REQUIRE(sink.Wait("path_reinstated", "map", "mpatha"));
  auto rb = sink.Wait("path_reinstated", "map", "mpathb");
  REQUIRE(rb);
  CHECK(rb->attrs["previous_paths"] == 0);
  CHECK(sink.Count("map_state") == 2);
  CHECK(sink.Count("path_failed") == 2);
}

TEST_CASE("poll probe: iscsi sessions from a sysfs-shaped tree, lost and restored with the target name" *
          doctest::test_suite("unit")) {
  TempDir root;
  std::string dir = root.path() + "/class/iscsi_session";
  auto session = [&](const std::string& s, const std::string& state, const std::string& target) {
    mkdir((root.path() + "/class").c_str(), 0755);
    mkdir(dir.c_str(), 0755);
    mkdir((dir + "/" + s).c_str(), 0755);
    WriteFile(dir + "/" + s + "/state", state + "\n");
    if (!target.empty()) WriteFile(dir + "/" + s + "/targetname", target + "\n");
  };
  session("session1", "LOGGED_IN", "iqn.2010-10.org.openstack:site-a");
  session("session2", "LOGGED_IN", "");
  auto probe = MakeProbe({{"parser", "iscsi_sessions"}, {"sysfs_root", root.path()}, {"interval", "30ms"}});
  Sink sink;
  REQUIRE(probe->Start(&sink).ok());
  auto initial = sink.Wait("initial");
  REQUIRE(initial);
  CHECK(initial->attrs["entries"] == 2);

  session("session1", "FAILED", "iqn.2010-10.org.openstack:site-a");
  auto lost = sink.Wait("session_lost");
  REQUIRE(lost);
  CHECK(lost->attrs["session"] == "session1");
  CHECK(lost->attrs["state"] == "FAILED");
  CHECK(lost->attrs["previous"] == "LOGGED_IN");
  CHECK(lost->attrs["targetname"] == "iqn.2010-10.org.openstack:site-a");
  CHECK(lost->attrs["line"] == "session1 FAILED iqn.2010-10.org.openstack:site-a");

  session("session1", "LOGGED_IN", "iqn.2010-10.org.openstack:site-a");
  auto back = sink.Wait("session_restored");
  REQUIRE(back);
  CHECK(back->attrs["previous"] == "FAILED");

  session("session2", "FREE", "");
  auto freed = sink.Wait("session_lost", "session", "session2");
  REQUIRE(freed);
  CHECK(!freed->attrs.contains("targetname"));

  session("session3", "LOGGED_IN", "iqn.2010-10.org.openstack:site-b");
  REQUIRE(sink.Wait("session_added", "session", "session3"));
  std::remove((dir + "/session2/state").c_str());
  rmdir((dir + "/session2").c_str());
  REQUIRE(sink.Wait("session_removed", "session", "session2"));
  probe->Stop();
  CHECK(sink.Count("session_lost") == 2);
  CHECK(sink.Count("session_restored") == 1);
}

TEST_CASE("poll probe: key_value lines in three spellings, one event per changed key, configurable kind" *
          doctest::test_suite("unit")) {
  Fixture fx;
  fx.Set("a 1\nb: 2\nc=3\n# comment 4\nlonely\n\n");
  auto probe = MakeProbe({{"parser", "key_value"},
                          {"argv", {"sh", fx.script()}},
                          {"interval", "30ms"},
                          {"kind", "mpath_count"}});
  Sink sink;
  REQUIRE(probe->Start(&sink).ok());
  auto initial = sink.Wait("initial");
  REQUIRE(initial);
  CHECK(initial->attrs["entries"] == 3);

  fx.Set("a 1\nb: 5\nc = 3\n# comment 5\nd=[1, 2]\n");
  auto b = sink.Wait("mpath_count", "key", "b");
  REQUIRE(b);
  CHECK(b->attrs["value"] == "5");
  CHECK(b->attrs["previous"] == "2");
  CHECK(b->attrs["line"] == "b: 5");
  auto d = sink.Wait("mpath_count", "key", "d");
  REQUIRE(d);
  CHECK(d->attrs["value"] == "[1, 2]");
  CHECK(d->attrs["previous"].is_null());
  fx.Set("a 1\nb: 5\nc = 3\n");
  REQUIRE(WaitFor([&] { return sink.Count("mpath_count") == 3; }, 5000, 5));
  probe->Stop();
  int d_events = 0;
  for (const Event& e : sink.events()) {
    CHECK(e.attrs.value("key", "") != "a");
    CHECK(e.attrs.value("key", "") != "c");
    if (e.attrs.value("key", "") == "d") ++d_events;
  }
  CHECK(d_events == 2);
}

TEST_CASE("poll probe: a failing and a hanging command give one probe_error per outage and probe_recovered" *
          doctest::test_suite("integration")) {
  Fixture fx;
  fx.Set("state ok\n");
  auto probe = MakeProbe(
      {{"parser", "key_value"}, {"argv", {"sh", fx.script()}}, {"interval", "30ms"}, {"timeout", "300ms"}});
  Sink sink;
  REQUIRE(probe->Start(&sink).ok());
  REQUIRE(sink.Wait("initial"));

  int64_t t0 = MonoNs();
  WriteFile(fx.path("fail"), "");
  auto err = sink.Wait("probe_error");
  REQUIRE(err);
  CHECK(err->message.find("exit 1") != std::string::npos);
  CHECK(err->message.find("error receiving packet") != std::string::npos);
  CHECK(err->attrs["where"] == "localhost");
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  CHECK(sink.Count("probe_error") == 1);
  fx.Set("state degraded\n");  // changes while blind show after recovery
  std::remove(fx.path("fail").c_str());
  auto rec = sink.Wait("probe_recovered");
  REQUIRE(rec);
  double blind = rec->attrs["blind_ms"].get<double>();
  CHECK(blind >= 300);
  CHECK(blind <= double(rec->mono_ns - t0) / double(kNsPerMs) + 1);
  auto changed = sink.Wait("changed", "key", "state");
  REQUIRE(changed);
  CHECK(changed->attrs["value"] == "degraded");

  WriteFile(fx.path("hang"), "");
  REQUIRE(WaitFor([&] { return sink.Count("probe_error") == 2; }, 5000, 5));
  for (const Event& e : sink.events())
    if (e.kind == "probe_error" && e.message.find("exit 1") == std::string::npos)
      CHECK(e.message.find("timed out after") != std::string::npos);
  std::remove(fx.path("hang").c_str());
  REQUIRE(WaitFor([&] { return sink.Count("probe_recovered") == 2; }, 5000, 5));
  probe->Stop();
  CHECK(sink.Count("probe_error") == 2);
}

TEST_CASE("poll probe: construction runs nothing, Stop ends a running command at once and is idempotent" *
          doctest::test_suite("unit")) {
  TempDir dir;
  std::string marker = dir.path() + "/ran";
  {
    auto idle = MakeProbe({{"parser", "key_value"}, {"command", "touch " + marker}});
    idle->Stop();
  }
  struct stat st;
  CHECK(stat(marker.c_str(), &st) != 0);

  auto probe =
      MakeProbe({{"parser", "key_value"}, {"command", "touch " + marker + "; sleep 10"}, {"timeout", "30s"}});
  Sink sink;
  REQUIRE(probe->Start(&sink).ok());
  REQUIRE(WaitFor([&] { return stat(marker.c_str(), &st) == 0; }, 5000, 5));
  int64_t t0 = MonoNs();
  probe->Stop();
  CHECK(MonoNs() - t0 < 1 * kNsPerSec);
  probe->Stop();
  CHECK(sink.events().empty());
}

TEST_CASE(
    "poll probe: over ssh (a stand-in ssh on PATH) the sysfs loop runs remotely and reads iSCSI sessions" *
    doctest::test_suite("unit")) {
  TempDir bin, root;
  const std::string log = bin.path() + "/ssh.log";
  // Runs the remote command line here: the last argument, as sshd would hand it to a shell.
  WriteScript(bin.path() + "/ssh", "echo \"$*\" >> '" + log +
                                       "'\n"
                                       "for a; do last=$a; done\n"
                                       "case \" $* \" in *\" -O exit \"*) exit 0;; esac\n"
                                       "exec sh -c \"$last\"\n");
  ScopedEnv path("PATH", bin.path() + ":" + std::string(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin"));
  std::string dir = root.path() + "/class/iscsi_session/session7";
  REQUIRE(RunChecked({"mkdir", "-p", dir}).ok());
  WriteFile(dir + "/state", "LOGGED_IN\n");
  WriteFile(dir + "/targetname", "iqn.2010-10.org.openstack:site-b\n");
  {
    auto probe = MakeProbe({{"parser", "iscsi_sessions"},
                            {"sysfs_root", root.path()},
                            {"host", "198.18.0.1"},
                            {"user", "root"},
                            {"interval", "30ms"}});
    Sink sink;
    REQUIRE(probe->Start(&sink).ok());
    auto initial = sink.Wait("initial");
    REQUIRE(initial);
    CHECK(initial->attrs["entries"] == 1);
    WriteFile(dir + "/state", "FAILED\n");
    auto lost = sink.Wait("session_lost");
    REQUIRE(lost);
    CHECK(lost->attrs["session"] == "session7");
    CHECK(lost->attrs["targetname"] == "iqn.2010-10.org.openstack:site-b");
    probe->Stop();
  }
  std::ifstream f(log);
  std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  CHECK(all.find("ControlMaster=auto") != std::string::npos);  // Prepare() opened a master
  CHECK(all.find("BatchMode=yes") != std::string::npos);
  CHECK(all.find("-l root 198.18.0.1 -- sh -c") != std::string::npos);
  CHECK(all.find("-O exit") != std::string::npos);  // and closed it with the probe
}

TEST_CASE("poll probe: settings problems" * doctest::test_suite("integration")) {
  RegisterBuiltinProbes();
  auto problems = [](json j) {
    Settings s(std::move(j));
    auto p = ProbeRegistry::Global().Create("poll", "p", &s);
    CHECK(!p);
    std::string all;
    for (const auto& pr : s.problems()) all += pr.key + ": " + pr.message + "\n";
    return all;
  };
  CHECK(problems({{"command", "true"}}).find("missing required setting \"parser\"") != std::string::npos);
  CHECK(problems({{"parser", "multipath_paths"}}).find("did you mean \"multipathd_paths\"") !=
        std::string::npos);
  CHECK(problems({{"parser", "key_value"}}).find("needs \"command\" or \"argv\"") != std::string::npos);
  CHECK(problems({{"parser", "key_value"}, {"command", "true"}, {"argv", {"true"}}}).find("not both") !=
        std::string::npos);
  CHECK(problems({{"parser", "key_value"}, {"command", "true"}, {"interval", "5ms"}}).find("at least 10ms") !=
        std::string::npos);
  CHECK(problems({{"parser", "key_value"}, {"command", "true"}, {"intervall", "1s"}}).find("did you mean") !=
        std::string::npos);
  CHECK(problems({{"parser", "iscsi_sessions"}, {"command", "true"}}).find("runs no command") !=
        std::string::npos);
  CHECK(problems({{"parser", "multipathd_paths"}, {"kind", "x"}}).find("only for parser key_value") !=
        std::string::npos);
  CHECK(problems({{"parser", "multipathd_paths"}, {"user", "root"}}).find("needs host") != std::string::npos);

  Settings ok(
      json{{"parser", "multipathd_paths"}, {"host", "198.18.0.1"}, {"user", "root"}, {"netns", "mgmt"}});
  CHECK(ProbeRegistry::Global().Create("poll", "p", &ok));
  CHECK(ok.problems().empty());
}

}  // namespace fb
