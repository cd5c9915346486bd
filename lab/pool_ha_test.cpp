// Integration test of the pool's HA simulator (fb-ha-sim) on the real lab: a
// pool of three hosts with ha_timeout 2 s, real namespaces, tgtd (the statefile
// is LUN 2), nftables and OpenSSH. Root only; a LabSession holds the LabLock and
// takes the lab down however the test ends. Prints the measured delays.
#include <doctest/doctest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "core/clock.h"
#include "core/subprocess.h"
#include "lab/lab.h"
#include "lab/pool.h"
#include "probes/probe.h"
#include "tests/support/lab_fixture.h"
#include "tests/support/recording_sink.h"
#include "tests/support/skip.h"
#include "tests/support/test_util.h"
#include "tests/support/xapi_test_probe.h"

namespace fb::lab {
namespace {

using nlohmann::json;

constexpr const char* kPasswordEnv = "FB_TEST_POOL_XAPI_PASSWORD";
constexpr int64_t kHaTimeoutNs = 2 * kNsPerSec;

// The first record of `source` and `kind` at or after since whose attrs hold every key of `attrs`.
std::optional<json> Find(const std::vector<json>& events, const std::string& source, const std::string& kind,
                         const json& attrs, int64_t since) {
  for (const json& e : events) {
    if (e.value("source", "") != source || e.value("kind", "") != kind) continue;
    if (e.value("t_utc_ns", int64_t(0)) < since) continue;
    bool match = true;
    for (const auto& [k, v] : attrs.items())
      if (!e.contains("attrs") || !e["attrs"].contains(k) || e["attrs"][k] != v) match = false;
    if (match) return e;
  }
  return std::nullopt;
}

// Polls events.jsonl until Find() has a match or timeout_ns passes.
std::optional<json> WaitFor(const std::string& path, const std::string& source, const std::string& kind,
                            const json& attrs, int64_t since, int64_t timeout_ns) {
  for (int64_t end = MonoNs() + timeout_ns;;) {
    auto e = Find(ReadJsonl(path), source, kind, attrs, since);
    if (e || MonoNs() > end) return e;
    usleep(100'000);
  }
}

bool SshAnswers(const PoolConfig& pool, int vm) {
  auto r = RunCommand({"ssh", "-i", pool.ssh_key, "-o", "UserKnownHostsFile=" + pool.known_hosts, "-o",
                       "BatchMode=yes", "-o", "ConnectTimeout=3", "root@" + PoolVmAddr(vm), "true"},
                      {.timeout_ns = 10 * kNsPerSec});
  return r.ok() && r->success();
}

double Sec(int64_t ns) { return double(ns) / 1e9; }

// What the simulators said (for a failed check): their events and the end of their logs.
std::string HaDiagnostics(const std::string& state_dir, const std::string& events) {
  std::string out;
  for (const json& e : ReadJsonl(events))
    if (e.value("source", "") == "ha")
      out += e.value("t", "") + " " + e.value("site", "") + " " + e.value("kind", "") + ": " +
             e.value("message", "") + "\n";
  for (int i = 1; i <= 3; ++i) {
    auto r = RunCommand({"tail", "-n", "15", PoolHaSimLog(state_dir, i)});
    if (r.ok()) out += PoolHaSimLog(state_dir, i) + ":\n" + r->out;
  }
  return out;
}

}  // namespace

TEST_CASE(
    "lab pool ha: power off the master, failover and restart, management cut fences, storage cut does not" *
    doctest::test_suite("slow")) {
  if (!IsRoot() || access("/usr/sbin/sshd", X_OK) != 0) {
    Skip("needs root and /usr/sbin/sshd");
    return;
  }
  LabOptions o;
  o.faultbench_path = FB_CLI_PATH;
  o.pool_hosts = 3;
  o.pool_vms = 3;
  o.ha_timeout_ns = kHaTimeoutNs;
  o.ha_heartbeat_interval_ns = 500 * kNsPerMs;
  o.start_ha_sim = true;
  const std::string state_dir = kDefaultStateDir;
  setenv(kPasswordEnv, "any", 1);
  labtest::LabSession session(o);
  REQUIRE_MESSAGE(session.error().empty(), session.error());
  REQUIRE(session.info().has_pool);
  const PoolConfig& pool = session.info().pool;
  const std::string events = pool.events_file;

  std::string problems;
  auto probe = HaTestXapiProbe("http://" + PoolHostMgmtAddr(1),
                               {"http://" + PoolHostMgmtAddr(2), "http://" + PoolHostMgmtAddr(3)},
                               kPasswordEnv, &problems);
  REQUIRE_MESSAGE(probe, problems);
  RecordingSink sink;
  // XAPI answers once host-1's simulator is up.
  bool xapi_up = false;
  for (int i = 0; i < 50 && !xapi_up; ++i) {
    auto r = RunCommand(
        {"curl", "-s", "-m", "1", "-d",
         R"({"jsonrpc":"2.0","method":"session.login_with_password","params":["root","x","1.0","t"],"id":0})",
         "http://" + PoolHostMgmtAddr(2) + "/jsonrpc"},
        {.timeout_ns = 3 * kNsPerSec});
    xapi_up = r.ok() && r->out.find("HOST_IS_SLAVE") != std::string::npos;
    if (!xapi_up) usleep(200'000);
  }
  REQUIRE_MESSAGE(xapi_up, "host-2's XAPI does not answer HOST_IS_SLAVE");
  REQUIRE(probe->Start(&sink).ok());
  std::this_thread::sleep_for(std::chrono::seconds(3));  // steady heartbeats, probe baseline
  int64_t start = UtcNs();
  CHECK_FALSE(Find(ReadJsonl(events), "ha", "heartbeat_lost", json::object(), 0).has_value());

  // 1. Storage cut alone (host-3): statefile lost, no fence, nobody declared dead.
  REQUIRE(CutStorage(state_dir, 3).ok());
  auto cut = WaitFor(events, "pool", "storage_cut", json::object(), start, 5 * kNsPerSec);
  REQUIRE(cut);
  auto lost = WaitFor(events, "ha", "statefile_lost", {{"host", "host-3"}}, start, 4 * kHaTimeoutNs);
  CHECK(lost);
  std::this_thread::sleep_for(std::chrono::nanoseconds(2 * kHaTimeoutNs));
  auto ev = ReadJsonl(events);
  CHECK_FALSE(Find(ev, "ha", "host_fenced", json::object(), start));
  CHECK_FALSE(Find(ev, "ha", "host_declared_dead", json::object(), start));
  if (lost)
    MESSAGE("storage cut -> statefile_lost on host-3: " << Sec(labtest::TimeOf(lost) - labtest::TimeOf(cut))
                                                        << " s");
  int64_t restored = UtcNs();
  REQUIRE(RestoreStorage(state_dir, 3).ok());
  // host-3 writes its slot again before the next step.
  REQUIRE(WaitFor(events, "ha", "statefile_back", {{"host", "host-3"}}, restored, 4 * kHaTimeoutNs));

  // 2. Power off host-1, the master: host-2 takes over, declares it dead, restarts vm-1.
  int64_t t1 = UtcNs();
  REQUIRE(PowerOffHost(state_dir, 1).ok());
  auto off = WaitFor(events, "pool", "host_power_off", {{"host", "host-1"}}, t1, 5 * kNsPerSec);
  REQUIRE(off);
  auto dead = WaitFor(events, "ha", "host_declared_dead", {{"host", "host-1"}}, t1, 10 * kHaTimeoutNs);
  REQUIRE_MESSAGE(dead, HaDiagnostics(state_dir, events));
  CHECK((*dead)["attrs"]["by"] == "host-2");
  auto master = Find(ReadJsonl(events), "ha", "master_changed", {{"master", "host-2"}}, t1);
  CHECK(master);
  auto halted = WaitFor(events, "ha", "vm_stopped", {{"vm", "vm-1"}}, t1, 5 * kNsPerSec);
  CHECK(halted);
  auto started = WaitFor(events, "ha", "vm_started", {{"vm", "vm-1"}}, t1, 30 * kNsPerSec);
  REQUIRE_MESSAGE(started, HaDiagnostics(state_dir, events));
  CHECK((*started)["attrs"]["host"] != "host-1");
  CHECK(*VmPlacement(state_dir, 1) != 1);
  int64_t t_ssh = 0;
  for (int i = 0; i < 20 && !t_ssh; ++i)
    if (SshAnswers(pool, 1)) t_ssh = UtcNs();
  CHECK_MESSAGE(t_ssh, "vm-1 does not answer ssh after its restart");
  int64_t t_off = labtest::TimeOf(off);
  MESSAGE("power off host-1 -> master_changed "
          << Sec(labtest::TimeOf(master) - t_off) << " s, host_declared_dead "
          << Sec(labtest::TimeOf(dead) - t_off) << " s, vm_stopped " << Sec(labtest::TimeOf(halted) - t_off)
          << " s, vm_started " << Sec(labtest::TimeOf(started) - t_off) << " s on "
          << (*started)["attrs"]["host"].get<std::string>() << ", ssh answers " << Sec(t_ssh - t_off)
          << " s (ha_timeout 2 s)");
  CHECK(labtest::TimeOf(dead) - t_off >= kHaTimeoutNs);
  CHECK(labtest::TimeOf(dead) - t_off < 4 * kHaTimeoutNs);
  // The probe pointed at the three management addresses.
  for (int i = 0;
       i < 100 && !(sink.First("host_down", "host", "host-1") && sink.First("vm_started", "vm", "vm-1")); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  INFO("probe events: " << sink.Kinds());
  auto p_down = sink.First("host_down", "host", "host-1");
  auto p_started = sink.First("vm_started", "vm", "vm-1");
  CHECK(p_down);
  CHECK(p_started);
  CHECK(sink.First("master_changed", "master", "host-2"));
  int64_t t_off_mono = MonoNs() - (UtcNs() - t_off);
  if (p_down && p_started)
    MESSAGE("xapi probe: host_down " << Sec(p_down->mono_ns - t_off_mono) << " s, vm_started "
                                     << Sec(p_started->mono_ns - t_off_mono) << " s after the power off");
  // Exactly once.
  std::this_thread::sleep_for(std::chrono::nanoseconds(2 * kHaTimeoutNs));
  int starts = 0;
  for (const json& e : ReadJsonl(events))
    if (e.value("source", "") == "ha" && e.value("kind", "") == "vm_started" &&
        e["attrs"].value("vm", "") == "vm-1" && e.value("t_utc_ns", int64_t(0)) >= t1)
      ++starts;
  CHECK(starts == 1);

  // 3. Management cut of host-3: it fences itself, host-2 declares it dead and restarts vm-3.
  int64_t t3 = UtcNs();
  REQUIRE(CutManagement(state_dir, 3).ok());
  auto fenced = WaitFor(events, "ha", "host_fenced", {{"host", "host-3"}}, t3, 10 * kHaTimeoutNs);
  REQUIRE_MESSAGE(fenced, HaDiagnostics(state_dir, events));
  CHECK((*fenced)["attrs"]["reason"] == "network");
  auto dead3 = WaitFor(events, "ha", "host_declared_dead", {{"host", "host-3"}}, t3, 10 * kHaTimeoutNs);
  CHECK(dead3);
  auto started3 = WaitFor(events, "ha", "vm_started", {{"vm", "vm-3"}}, t3, 30 * kNsPerSec);
  CHECK(started3);
  MESSAGE("management cut host-3 -> host_fenced "
          << Sec(labtest::TimeOf(fenced) - t3) << " s, host_declared_dead "
          << Sec(labtest::TimeOf(dead3) - t3) << " s, vm-3 started " << Sec(labtest::TimeOf(started3) - t3)
          << " s");
  REQUIRE(RestoreManagement(state_dir, 3).ok());
  auto rejoined = WaitFor(events, "ha", "host_rejoined", {{"host", "host-3"}}, t3, 10 * kHaTimeoutNs);
  CHECK(rejoined);

  // 4. host-1 powered on again: its new fb-ha-sim follows master host-2, which sees it back.
  int64_t t4 = UtcNs();
  REQUIRE(PowerOnHost(state_dir, 1).ok());
  auto up = WaitFor(events, "ha", "host_up", {{"host", "host-1"}}, t4, 10 * kHaTimeoutNs);
  CHECK_MESSAGE(up, HaDiagnostics(state_dir, events));
  if (up) CHECK((*up)["attrs"]["by"] == "host-2");
  std::this_thread::sleep_for(std::chrono::nanoseconds(kHaTimeoutNs));
  auto after = ReadJsonl(events);
  CHECK_FALSE(Find(after, "ha", "master_changed", json::object(), t4));  // host-2 stays master
  CHECK_FALSE(Find(after, "ha", "vm_started", json::object(), t4));
  probe->Stop();
  unsetenv(kPasswordEnv);
}

}  // namespace fb::lab
