#include "probes/rule_packs.h"

#include <doctest/doctest.h>

#include <chrono>
#include <fstream>
#include <mutex>
#include <thread>

#include "core/clock.h"
#include "probes/line_time.h"
#include "probes/log_probe.h"
#include "tests/support/recording_sink.h"
#include "tests/support/test_util.h"

namespace fb {

namespace {

// The first rule of `packs` that matches `line` (as the log probe does), with attrs.
struct Match {
  std::string kind;
  nlohmann::json attrs = nlohmann::json::object();
};

Match First(const std::vector<std::string>& packs, const std::string& line) {
  std::vector<LogRule> rules;
  for (const std::string& p : packs) {
    auto r = RulePack(p);
    REQUIRE(r.ok());
    for (LogRule& x : *r) rules.push_back(std::move(x));
  }
  for (const LogRule& r : rules) {
    std::smatch m;
    if (!std::regex_search(line, m, r.re)) continue;
    Match out{r.kind};
    AddRuleFields(r, m, &out.attrs);
    return out;
  }
  return {};
}

using Sink = RecordingSink;

}  // namespace

TEST_CASE("rule packs: multipathd lines of 0.4.9 and upstream" * doctest::test_suite("unit")) {
  const std::string p = "Nov 22 03:49:42 xcp1 multipathd: ";
  Match m = First({"multipathd"}, p + "3624a93701234: sdc - tur checker reports path is down");
  CHECK(m.kind == "path_failed");
  CHECK(m.attrs["map"] == "3624a93701234");
  CHECK(m.attrs["device"] == "sdc");
  CHECK(m.attrs["checker"] == "tur");
  m = First({"multipathd"}, p + "3624a93701234: sdc - tur checker reports path is up");
  CHECK(m.kind == "path_reinstated");
  m = First({"multipathd"}, p + "checker failed path 8:32 in map mpatha");
  CHECK(m.kind == "path_failed");
  CHECK(m.attrs["dev_t"] == "8:32");
  CHECK(m.attrs["map"] == "mpatha");
  m = First({"multipathd"}, p + "mpatha: remaining active paths: 1");
  CHECK(m.kind == "paths_remaining");
  CHECK(m.attrs["remaining"] == "1");
  m = First({"multipathd"}, p + "mpatha: remaining active paths: 0");
  CHECK(m.kind == "all_paths_down");
  CHECK(First({"multipathd"}, p + "8:32: reinstated").kind == "path_reinstated");
  CHECK(First({"multipathd"}, p + "8:32: reinstate failed").kind == "reinstate_failed");
  m = First({"multipathd"}, p + "sdc: mark as failed");
  CHECK(m.kind == "path_failed");
  CHECK(m.attrs["device"] == "sdc");
  m = First({"multipathd"}, p + "8:32: mark as failed");
  CHECK(m.kind == "path_failed");
  CHECK(m.attrs["dev_t"] == "8:32");
  m = First({"multipathd"}, p + "mpatha: Entering recovery mode: max_retries=4");
  CHECK(m.kind == "queueing_recovery");
  CHECK(m.attrs["max_retries"] == "4");
  CHECK(First({"multipathd"}, p + "mpatha: Disable queueing").kind == "queueing_disabled");
  CHECK(First({"multipathd"}, p + "mpatha: queue_if_no_path enabled").kind == "queueing_enabled");
  CHECK(First({"multipathd"}, p + "mpatha: Recovered to normal mode").kind == "queueing_recovered");
  m = First({"multipathd"}, p + "mpatha: fail path 8:32 (operator)");
  CHECK(m.kind == "path_failed");
  CHECK(m.attrs["by"] == "operator");
  CHECK(m.attrs["map"] == "mpatha");
  m = First({"multipathd"}, p + "mpatha: reinstate path 8:32 (operator)");
  CHECK(m.kind == "path_reinstated");
  CHECK(m.attrs["dev_t"] == "8:32");
  CHECK(m.attrs["pack"] == "multipathd");

  // Lines that must not match.
  CHECK(
      First({"multipathd"}, p + "mpatha: load table [0 2097152 multipath 0 0 1 1 queue-length 0 1 1 8:32 1]")
          .kind.empty());
  CHECK(First({"multipathd"}, p + "sdc: tur checker reports path is up").kind.empty());
  CHECK(First({"multipathd"}, p + "path checkers start up").kind.empty());
  CHECK(First({"multipathd"}, "Nov 22 03:49:42 xcp1 sshd[12]: Accepted publickey for root").kind.empty());
}

TEST_CASE("rule packs: open-iscsi kernel and iscsid lines, dm-multipath kernel line" *
          doctest::test_suite("unit")) {
  Match m = First({"kernel"},
                  "Nov 22 03:49:42 xcp1 kernel: [ 1234.5678] connection1:0: detected conn error (1020)");
  CHECK(m.kind == "session_lost");
  CHECK(m.attrs["session"] == "1");
  CHECK(m.attrs["connection"] == "0");
  CHECK(m.attrs["error_code"] == "1020");
  CHECK(m.attrs["error_name"] == "ISCSI_ERR_TCP_CONN_CLOSE");
  CHECK(First({"iscsi"}, "connection2:0: detected conn error (1022)").attrs["error_name"] ==
        "ISCSI_ERR_NOP_TIMEDOUT");
  m = First({"kernel"}, "kernel: session1: session recovery timed out after 15 secs");
  CHECK(m.kind == "session_timeout");
  CHECK(m.attrs["timeout_s"] == "15");
  m = First({"kernel"}, "kernel: sd 2:0:0:1: rejecting I/O to offline device");
  CHECK(m.kind == "device_offline");
  CHECK(m.attrs["hcil"] == "2:0:0:1");
  m = First({"kernel"}, "kernel: device-mapper: multipath: 254:0: Failing path 8:16.");
  CHECK(m.kind == "path_failed");
  CHECK(m.attrs["map"] == "254:0");
  CHECK(m.attrs["dev_t"] == "8:16");
  // Each side of device-mapper's pair, with and without the map's dev_t.
  m = First({"kernel"}, "kernel: device-mapper: multipath: Failing path 8:16.");
  CHECK(m.kind == "path_failed");
  CHECK_FALSE(m.attrs.contains("map"));
  CHECK(m.attrs["dev_t"] == "8:16");
  m = First({"kernel"}, "kernel: [ 99.123] device-mapper: multipath: 251:0: Reinstating path 8:0.");
  CHECK(m.kind == "path_reinstated");
  CHECK(m.attrs["map"] == "251:0");
  CHECK(m.attrs["dev_t"] == "8:0");
  m = First({"kernel"}, "kernel: device-mapper: multipath: Reinstating path 8:0.");
  CHECK(m.kind == "path_reinstated");
  CHECK_FALSE(m.attrs.contains("map"));
  CHECK(m.attrs["dev_t"] == "8:0");
  m = First(
      {"iscsi"},
      "iscsid: Kernel reported iSCSI connection 1:0 error (1020 - ISCSI_ERR_TCP_CONN_CLOSE: TCP connection "
      "closed) state (3)");
  CHECK(m.kind == "session_lost");
  CHECK(m.attrs["error_code"] == "1020");
  CHECK(m.attrs["error_name"] == "ISCSI_ERR_TCP_CONN_CLOSE");
  CHECK(m.attrs["state"] == "3");
  m = First({"iscsi"}, "iscsid: connect to 198.18.1.2:3260 failed (No route to host)");
  CHECK(m.kind == "connect_failed");
  CHECK(m.attrs["address"] == "198.18.1.2");
  CHECK(m.attrs["port"] == "3260");
  m = First({"iscsi"}, "iscsid: connection1:0 is operational after recovery (3 attempts)");
  CHECK(m.kind == "session_restored");
  CHECK(m.attrs["attempts"] == "3");
  m = First({"iscsi"},
            "Logout of [sid: 1, target: iqn.2010-06.com.purestorage:flasharray.1, portal: 198.18.1.2,3260] "
            "successful.");
  CHECK(m.kind == "session_lost");
  CHECK(m.attrs["portal"] == "198.18.1.2");
  m = First({"iscsi"},
            "Login to [iface: default, target: iqn.2010-06.com.purestorage:flasharray.1, portal: "
            "198.18.1.2,3260] successful.");
  CHECK(m.kind == "session_restored");
  CHECK(m.attrs["iface"] == "default");
  // Must not match.
  CHECK(First({"kernel", "iscsi"}, "kernel: scsi host2: iSCSI Initiator over TCP/IP").kind.empty());
  CHECK(First({"kernel", "iscsi"}, "iscsid: connection1:0 is operational now").kind.empty());
  CHECK(First({"kernel"}, "kernel: device-mapper: multipath: version 1.14.0 loaded").kind.empty());
}

TEST_CASE("rule packs: xensource.log HA lines and the Xen watchdog" * doctest::test_suite("unit")) {
  const std::string p = "Nov 22 03:49:42 xcp2 xapi: [ info||42 ha_monitor|HA monitor|xapi_ha] ";
  CHECK(First({"xapi"}, p + "This node will become the master").kind == "master_changed");
  CHECK(First({"xapi"}, p + "ha_propose_master succeeded").kind == "ha_master_proposed");
  CHECK(First({"xapi"}, p + "Liveset looks different; assuming we need to rerun the planner").kind ==
        "ha_liveset_changed");
  Match m = First({"xapi"}, p + "Setting host xcp1 to dead");
  CHECK(m.kind == "host_down");
  CHECK(m.attrs["host"] == "xcp1");
  CHECK(First({"xapi"}, p + "restart_auto_run_vms called").kind == "ha_restart_vms");
  m = First({"xapi"}, "(XEN) Watchdog timer fired for domain 0");
  CHECK(m.kind == "host_fenced");
  CHECK(m.attrs["domain"] == "0");
  CHECK(First({"xapi"}, p + "Liveset looks the same").kind.empty());
  CHECK(First({"xapi"}, "(XEN) Xen version 4.17").kind.empty());
  CHECK(!RulePack("multipath").ok());
}

TEST_CASE("line time: syslog, ISO 8601 and journald stamps" * doctest::test_suite("unit")) {
  int64_t now = 1795316400LL * kNsPerSec;  // 2026-11-22T03:00:00Z
  std::string msg;
  auto t = ParseLineTime("Nov 22 00:49:42 xcp1 multipathd: x", now, &msg);
  REQUIRE(t);
  CHECK(t->format == "syslog");
  CHECK(FormatUtcIso(t->utc_ns, 0) == "2026-11-22T00:49:42Z");
  CHECK(t->resolution_ns == kNsPerSec);
  t = ParseLineTime("Dec 31 23:59:59 xcp1 x", now, &msg);  // last year's
  REQUIRE(t);
  CHECK(FormatUtcIso(t->utc_ns, 0) == "2025-12-31T23:59:59Z");
  t = ParseLineTime("2026-11-22T03:49:42.250+01:00 xcp1 x", now, &msg);
  REQUIRE(t);
  CHECK(FormatUtcIso(t->utc_ns, 3) == "2026-11-22T02:49:42.250Z");
  CHECK(t->resolution_ns == kNsPerMs);
  t = ParseLineTime(
      R"j({"__REALTIME_TIMESTAMP":"1795316400123456","MESSAGE":"connection1:0: detected conn error (1020)"})j",
      now, &msg);
  REQUIRE(t);
  CHECK(t->format == "journald");
  CHECK(t->utc_ns == 1795316400123456LL * kNsPerUs);
  CHECK(msg == "connection1:0: detected conn error (1020)");
  msg = "unchanged";
  t = ParseLineTime(
      R"j({"kind":"io_paused","site":"site-a","t":"2026-11-22T03:00:00.1Z","t_utc_ns":1795316400123456789})j",
      now, &msg);
  REQUIRE(t);
  CHECK(t->format == "t_utc_ns");
  CHECK(t->utc_ns == 1795316400123456789LL);
  CHECK(msg == "unchanged");
  CHECK(!ParseLineTime("mpatha: remaining active paths: 1", now, &msg));
  CHECK(!ParseLineTime("[ 1234.5678] connection1:0", now, &msg));
}

TEST_CASE("log probe: named rule packs, line timestamps and clock offsets" * doctest::test_suite("unit")) {
  RegisterBuiltinProbes();
  TempDir tmp;
  std::string log = tmp.path() + "/daemon.log";
  {
    std::ofstream f(log);
    // An old line (far from arrival: offset recorded) and one stamped now (journald).
    f << "Jan  2 03:04:05 xcp1 multipathd: checker failed path 8:32 in map mpatha\n";
    f << R"({"__REALTIME_TIMESTAMP":")" << UtcNs() / kNsPerUs
      << R"j(","MESSAGE":"connection1:0: detected conn error (1022)"})j"
      << "\n";
    f << "Nov 22 03:49:42 xcp1 sshd[1]: unrelated\n";
  }
  Settings s(nlohmann::json{{"path", log},
                            {"from_start", "true"},
                            {"poll_interval", "10ms"},
                            {"unmatched", "drop"},
                            {"rules", nlohmann::json::array({"multipathd", "kernel"})}});
  auto probe = ProbeRegistry::Global().Create("log", "daemon", &s);
  for (const auto& p : s.problems()) MESSAGE(std::string(p.key + ": " + p.message));
  REQUIRE(s.problems().empty());
  REQUIRE(probe);
  Sink sink;
  REQUIRE(probe->Start(&sink).ok());
  sink.WaitSize(2);
  std::vector<Event> ev = sink.events();
  probe->Stop();
  REQUIRE(ev.size() == 2);
  CHECK(ev[0].kind == "path_failed");
  CHECK(ev[0].attrs["map"] == "mpatha");
  CHECK(ev[0].attrs["time_format"] == "syslog");
  CHECK(ev[0].attrs.contains("clock_offset_ms"));
  CHECK(ev[0].mono_ns < MonoNs() - 3600 * kNsPerSec);
  CHECK(ev[1].kind == "session_lost");
  CHECK(ev[1].attrs["error_name"] == "ISCSI_ERR_NOP_TIMEDOUT");
  CHECK(ev[1].attrs["time_format"] == "journald");
  CHECK(!ev[1].attrs.contains("clock_offset_ms"));

  Settings bad(nlohmann::json{{"path", log}, {"rules", nlohmann::json::array({"multipth"})}});
  CHECK(!ProbeRegistry::Global().Create("log", "daemon", &bad));
  REQUIRE(bad.problems().size() == 1);
  CHECK(bad.problems()[0].message.find("unknown rule pack \"multipth\"") != std::string::npos);
}

}  // namespace fb
