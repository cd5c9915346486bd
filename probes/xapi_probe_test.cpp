#include "probes/xapi_probe.h"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "core/clock.h"
#include "fakes/fake_xapi_pool.h"
#include "probes/xapi_tracker.h"
#include "tests/support/recording_sink.h"
#include "tests/support/test_util.h"

namespace fb {

namespace {

using nlohmann::json;

constexpr const char* kPasswordEnv = "FB_TEST_XAPI_PASSWORD";
constexpr const char* kPassword = "xapi-test-password";

using Sink = RecordingSink;

// Sets the password variable for the test's lifetime.
struct PasswordEnv {
  PasswordEnv() { setenv(kPasswordEnv, kPassword, 1); }
  ~PasswordEnv() { unsetenv(kPasswordEnv); }
};

// A pool of three hosts, host-1 the master; db-1 and web-1 run on host-1 and host-2,
// dom0 (a control domain) and a template are never reported; host-2 has a PBD
// with two paths to one LUN.
struct Pool {
  explicit Pool(FakeXapiPool* f) : fake(f) {
    for (int i = 0; i < 3; ++i) {
      metrics[i] = fake->Add("host_metrics", {{"live", true}});
      std::string n = "host-" + std::to_string(i + 1);
      hosts[i] = fake->Add(
          "host",
          {{"name_label", n}, {"uuid", n + "-uuid"}, {"address", fake->Address(i)}, {"metrics", metrics[i]}});
    }
    pool = fake->Add("pool", {{"name_label", "pool-a"}, {"master", hosts[0]}});
    db = fake->Add("vm", {{"name_label", "db-1"},
                          {"power_state", "Running"},
                          {"resident_on", hosts[0]},
                          {"is_control_domain", false},
                          {"is_a_template", false}});
    web = fake->Add("vm", {{"name_label", "web-1"},
                           {"power_state", "Running"},
                           {"resident_on", hosts[1]},
                           {"is_control_domain", false},
                           {"is_a_template", false}});
    dom0 = fake->Add("vm", {{"name_label", "Control domain on host: host-1"},
                            {"power_state", "Running"},
                            {"resident_on", hosts[0]},
                            {"is_control_domain", true},
                            {"is_a_template", false}});
    tmpl = fake->Add("vm", {{"name_label", "Debian Bookworm 12"},
                            {"power_state", "Halted"},
                            {"resident_on", "OpaqueRef:NULL"},
                            {"is_control_domain", false},
                            {"is_a_template", true}});
    pbd = fake->Add("pbd",
                    {{"host", hosts[1]},
                     {"SR", "OpaqueRef:sr-1"},
                     {"currently_attached", true},
                     {"other_config", {{"multipathed", "true"}, {"mpath-" + std::string(kScsi), "[2, 2]"}}}});
  }
  static constexpr const char* kScsi = "3600a098038303053453f463045727a4b";
  FakeXapiPool* fake;
  std::string metrics[3], hosts[3], pool, db, web, dom0, tmpl, pbd;
};

std::unique_ptr<Probe> MakeProbe(const json& settings) {
  RegisterBuiltinProbes();
  Settings s(settings);
  auto probe = ProbeRegistry::Global().Create("xapi", "xapi", &s);
  for (const auto& p : s.problems()) MESSAGE(p.key << ": " << p.message);
  REQUIRE(s.problems().empty());
  REQUIRE(probe);
  return probe;
}

const Event* Find(const std::vector<Event>& events, const std::string& kind, size_t nth = 0) {
  for (const Event& e : events)
    if (e.kind == kind && nth-- == 0) return &e;
  return nullptr;
}

}  // namespace

TEST_CASE("xapi probe: HA failover replay, the probe follows HOST_IS_SLAVE to the new master" *
          doctest::test_suite("integration")) {
  PasswordEnv env;
  FakeXapiPool fake(3);
  REQUIRE(fake.ok());
  Pool pool(&fake);
  // Short timeouts: the dead master never answers, so the long poll's read timeout
  // (poll_timeout + timeout = 1.5 s) is what notices.
  auto probe = MakeProbe({{"url", fake.Url(0)},
                          {"fallback_urls", json::array({fake.Url(1), fake.Url(2)})},
                          {"password_env", kPasswordEnv},
                          {"poll_timeout", "1s"},
                          {"timeout", "500ms"},
                          {"retry", "100ms"},
                          {"retry_max", "400ms"}});
  Sink sink;
  REQUIRE(probe->Start(&sink).ok());
  REQUIRE(WaitFor([&] { return fake.Polls(0) > 0; }, 5000));  // logged in, baseline read, long-polling
  CHECK(fake.Logins(0) == 1);
  CHECK(sink.events().empty());  // the baseline is no event

  // host-1, the master, loses power. HA elects host-3 after a while; host-2 stays a slave.
  int64_t kill_mono = MonoNs(), kill_utc = UtcNs();
  fake.Kill(0);
  REQUIRE(sink.WaitCount("probe_error", 1, 8000));  // blind: no member names a live master yet
  int64_t failover_mono = MonoNs();
  fake.FailOver(2, pool.pool, pool.hosts[2]);
  fake.AddMessage("POOL_MASTER_TRANSITION", 4, "Host", "host-3-uuid",
                  "The master of the pool is now host-3 (was host-1)");  // while the probe is blind
  REQUIRE(WaitFor([&] { return fake.Polls(2) > 0; }, 8000));             // found host-3, long-polling there
  CHECK(fake.Logins(2) == 1);
  CHECK(fake.LoginAttempts(1) >= 1);  // asked host-2, which named host-3
  CHECK(fake.Logins(1) == 0);

  // What the new master then says, in this order.
  fake.Mod("host_metrics", pool.metrics[0], {{"live", false}});
  fake.AddMessage("HA_HOST_FAILED", 3, "Host", "host-1-uuid", "Server 'host-1' has failed");
  fake.Mod("vm", pool.db, {{"power_state", "Halted"}, {"resident_on", "OpaqueRef:NULL"}});
  fake.Mod("vm", pool.dom0, {{"power_state", "Halted"}, {"resident_on", "OpaqueRef:NULL"}});  // skipped
  fake.Mod("vm", pool.tmpl, {{"name_label", "Debian Bookworm 12 (copy)"}});                   // skipped
  fake.Mod("vm", pool.db, {{"power_state", "Running"}, {"resident_on", pool.hosts[1]}});
  std::string key = "mpath-" + std::string(Pool::kScsi);
  fake.Mod("pbd", pool.pbd, {{"other_config", {{key, "[1, 2]"}}}});
  fake.Mod("pbd", pool.pbd, {{"other_config", {{key, "[2, 2]"}}}});
  fake.AddMessage("MULTIPATH_PERIODIC_ALERT", 3, "Pool", "pool-uuid",
                  "[20240101T12:00:00Z] host=host-2-uuid; host-name=\"host-2\"; pbd=" +
                      fake.Record("pbd", pool.pbd)["uuid"].get<std::string>() + "; scsi_id=" + Pool::kScsi +
                      "; current=1; max=2");
  fake.Mod("vm", pool.web, {{"resident_on", pool.hosts[2]}});  // a live migration
  REQUIRE(sink.WaitCount("vm_moved", 1));
  probe->Stop();

  std::vector<Event> ev = sink.events();
  CHECK(sink.kinds() == std::vector<std::string>{"probe_error", "probe_recovered", "master_changed",
                                                 "master_transition", "host_down", "host_failed",
                                                 "vm_stopped", "vm_started", "path_failed", "path_reinstated",
                                                 "alert", "vm_moved"});
  for (const Event& e : ev) CHECK(e.source == "xapi");
  for (const Event& e : ev)
    if (e.kind != "probe_error") CHECK(e.attrs["url"] == fake.Url(2));
  // The outage: reported once, naming the dead master; the gap starts at or before
  // the kill (the long poll in flight then) and ends after the failover.
  const Event* err = Find(ev, "probe_error");
  REQUIRE(err);
  CHECK(err->message.find(fake.Url(0)) != std::string::npos);
  CHECK(err->message.find(kPassword) == std::string::npos);
  const Event* rec = Find(ev, "probe_recovered");
  REQUIRE(rec);
  int64_t blind_from = rec->attrs["blind_from_utc_ns"].get<int64_t>();
  double blind_ms = rec->attrs["blind_ms"].get<double>();
  MESSAGE("blind gap " << blind_ms << " ms, from " << double(blind_from - kill_utc) / 1e6
                       << " ms after the kill");
  CHECK(blind_from <= kill_utc + 50 * kNsPerMs);
  CHECK(blind_from >= kill_utc - 1500 * kNsPerMs);  // at most one long poll earlier
  CHECK(rec->mono_ns >= failover_mono);
  CHECK(blind_ms >= double(failover_mono - kill_mono) / 1e6);
  CHECK(blind_ms < 5000);
  CHECK(err->mono_ns >= kill_mono);
  CHECK(err->mono_ns <= rec->mono_ns);

  const Event* mc = Find(ev, "master_changed");
  REQUIRE(mc);
  CHECK(mc->attrs["master"] == "host-3");
  CHECK(mc->attrs["previous_master"] == "host-1");
  CHECK(mc->attrs["operation"] == "records");  // changed while blind, found in the records
  const Event* down = Find(ev, "host_down");
  REQUIRE(down);
  CHECK(down->attrs["host"] == "host-1");
  CHECK(down->attrs["class"] == "host_metrics");
  CHECK(down->attrs["ref"] == pool.metrics[0]);
  CHECK(down->attrs["raw"]["live"] == false);
  const Event* failed = Find(ev, "host_failed");
  REQUIRE(failed);
  CHECK(failed->attrs["host"] == "host-1");
  CHECK(failed->attrs["name"] == "HA_HOST_FAILED");
  CHECK(failed->attrs["raw"]["body"] == "Server 'host-1' has failed");
  const Event* transition = Find(ev, "master_transition");
  REQUIRE(transition);
  CHECK(transition->attrs["host"] == "host-3");
  CHECK(transition->attrs["operation"] == "records");  // read with message.get_since after the gap
  const Event* stopped = Find(ev, "vm_stopped");
  REQUIRE(stopped);
  CHECK(stopped->attrs["vm"] == "db-1");
  CHECK(stopped->attrs["host"] == "host-1");
  CHECK(stopped->attrs["resident_on"] == "OpaqueRef:NULL");
  const Event* started = Find(ev, "vm_started");
  REQUIRE(started);
  CHECK(started->attrs["host"] == "host-2");
  CHECK(started->attrs["previous_host"] == "host-1");
  const Event* pf = Find(ev, "path_failed");
  REQUIRE(pf);
  CHECK(pf->attrs["active"] == 1);
  CHECK(pf->attrs["total"] == 2);
  CHECK(pf->attrs["scsi_id"] == Pool::kScsi);
  CHECK(pf->attrs["host"] == "host-2");
  CHECK(Find(ev, "path_reinstated")->attrs["active"] == 2);
  const Event* alert = Find(ev, "alert");
  REQUIRE(alert);
  CHECK(alert->attrs["host"] == "host-2-uuid");
  CHECK(alert->attrs["host-name"] == "host-2");
  CHECK(alert->attrs["scsi_id"] == Pool::kScsi);
  CHECK(alert->attrs["current"] == 1);
  CHECK(alert->attrs["max"] == 2);
  CHECK(alert->attrs["pbd"] == fake.Record("pbd", pool.pbd)["uuid"]);
  const Event* moved = Find(ev, "vm_moved");
  REQUIRE(moved);
  CHECK(moved->attrs["vm"] == "web-1");
  CHECK(moved->attrs["previous_host"] == "host-2");
  CHECK(moved->attrs["host"] == "host-3");
}

TEST_CASE("xapi probe: SESSION_INVALID, del without snapshot, unknown messages, a rejected token" *
          doctest::test_suite("unit")) {
  PasswordEnv env;
  FakeXapiPool fake(1);
  REQUIRE(fake.ok());
  Pool pool(&fake);
  auto probe = MakeProbe({{"url", fake.Url(0)}, {"password_env", kPasswordEnv}, {"poll_timeout", "5s"}});
  Sink sink;
  REQUIRE(probe->Start(&sink).ok());
  REQUIRE(WaitFor([&] { return fake.Polls(0) > 0; }, 5000));

  // The sessions vanish while changes are pending: the probe logs in again and
  // goes on with its token, so none of them is lost.
  fake.InvalidateSessions();
  fake.Mod("host_metrics", pool.metrics[1], {{"live", false}});
  fake.Mod("vm", pool.web, {{"power_state", "Halted"}, {"resident_on", "OpaqueRef:NULL"}});
  fake.Del("vm", pool.web);   // no snapshot
  fake.Del("vm", pool.dom0);  // a control domain: not reported
  fake.AddMessage("HA_STATEFILE_LOST", 2, "Host", "host-2-uuid", "The HA statefile is lost");
  fake.AddMessage("SOMETHING_NEW", 2, "SR", "sr-uuid", "line one\nline two");
  fake.AddMessage("VM_SNAPSHOTTED", 5, "VM", "vm-uuid", "snapshot taken");
  fake.Mod("host_metrics", pool.metrics[1], {{"live", true}});
  REQUIRE(sink.WaitCount("host_up", 1));
  CHECK(fake.Logins(0) == 2);
  CHECK(sink.kinds() ==
        std::vector<std::string>{"host_down", "vm_stopped", "log", "alert", "alert", "log", "host_up"});
  std::vector<Event> ev = sink.events();
  const Event* removed = Find(ev, "log");
  REQUIRE(removed);
  CHECK(removed->attrs["operation"] == "del");
  CHECK(removed->attrs["ref"] == pool.web);
  CHECK(removed->message.find("web-1") != std::string::npos);
  const Event* statefile = Find(ev, "alert", 0);
  CHECK(statefile->attrs["name"] == "HA_STATEFILE_LOST");
  CHECK(statefile->severity == Severity::kError);
  const Event* unknown = Find(ev, "alert", 1);
  CHECK(unknown->attrs["name"] == "SOMETHING_NEW");
  CHECK(unknown->attrs["body"] == "line one\nline two");
  CHECK(unknown->attrs["raw"]["cls"] == "SR");
  const Event* info = Find(ev, "log", 1);
  CHECK(info->attrs["name"] == "VM_SNAPSHOTTED");
  CHECK(info->attrs["body"] == "snapshot taken");

  // The master forgets its tokens: the probe starts again from now, re-reads the
  // records, and changes made after that still arrive.
  int polls = fake.Polls(0);
  fake.BreakTokens();
  REQUIRE(sink.WaitCount("log", 3));  // "starting again from now"
  CHECK(sink.events().back().message.find("EVENT_FROM_TOKEN_PARSE_FAILURE") != std::string::npos);
  REQUIRE(WaitFor([&] { return fake.Polls(0) > polls; }, 5000));
  fake.Mod("vm", pool.db, {{"resident_on", pool.hosts[2]}});
  REQUIRE(sink.WaitCount("vm_moved", 1));
  polls = fake.Polls(0);
  fake.Mod("pbd", pool.pbd, {{"other_config", {{"mpath-" + std::string(Pool::kScsi), "[0, 2]"}}}});
  REQUIRE(sink.WaitCount("path_failed", 1));
  CHECK(Find(sink.events(), "path_failed")->severity == Severity::kError);  // no path left
  CHECK(sink.Count("probe_error") == 0);
  CHECK(sink.Count("alert") == 2);  // message.get_since after the restart repeats none

  // Stop() does not wait for the 5 s long poll in flight (the one after path_failed).
  REQUIRE(WaitFor([&] { return fake.Polls(0) > polls; }, 5000));  // the server holds it
  int64_t t = MonoNs();
  probe->Stop();
  double stop_ms = double(MonoNs() - t) / 1e6;
  MESSAGE("Stop() during a long poll took " << stop_ms << " ms");
  CHECK(stop_ms < 1000);
  probe->Stop();  // idempotent
}

TEST_CASE("xapi probe: an https url goes through TLS, the failure names the member, not the password" *
          doctest::test_suite("unit")) {
  PasswordEnv env;
  FakeXapiPool fake(1);  // speaks plain HTTP: the TLS handshake cannot succeed
  REQUIRE(fake.ok());
  std::string url = "https://" + fake.Address(0) + ":" + std::to_string(fake.port());
  auto probe =
      MakeProbe({{"url", url}, {"password_env", kPasswordEnv}, {"timeout", "500ms"}, {"retry", "50ms"}});
  Sink sink;
  REQUIRE(probe->Start(&sink).ok());
  REQUIRE(sink.WaitCount("probe_error", 1));
  // An observation window (20 retry intervals): more failed rounds, still one probe_error.
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  probe->Stop();
  std::vector<Event> ev = sink.events();
  REQUIRE(ev.size() == 1);
  MESSAGE(ev[0].message);
  CHECK(ev[0].message.find(url) != std::string::npos);
  CHECK(ev[0].message.find("SSL") != std::string::npos);
  CHECK(ev[0].message.find(kPassword) == std::string::npos);
  CHECK(ev[0].attrs.dump().find(kPassword) == std::string::npos);
  CHECK(fake.Logins(0) == 0);
}

TEST_CASE("xapi probe: bad settings are reported with their keys" * doctest::test_suite("unit")) {
  RegisterBuiltinProbes();
  PasswordEnv env;
  auto problems = [](json settings) {
    Settings s(std::move(settings));
    auto probe = ProbeRegistry::Global().Create("xapi", "xapi", &s);
    CHECK(!probe);
    std::map<std::string, std::string> by_key;
    for (const auto& p : s.problems()) by_key[p.key] += p.message;
    return by_key;
  };
  auto none = problems({{"password_env", kPasswordEnv}});
  REQUIRE(none.count(""));
  CHECK(none[""].find("\"url\"") != std::string::npos);

  auto literal = problems({{"url", "https://198.18.0.10"}, {"password", "hunter2"}});
  REQUIRE(literal.count("password"));
  CHECK(literal["password"].find("password_env") != std::string::npos);
  for (const auto& [k, m] : literal) CHECK(m.find("hunter2") == std::string::npos);

  auto bad = problems({{"url", "ftp://198.18.0.10"},
                       {"fallback_urls", json::array({"https://198.18.0.11/jsonrpc", json::object()})},
                       {"password_env", "FB_TEST_XAPI_NO_SUCH_VAR"},
                       {"tls_verify", "maybe"},
                       {"poll_timeout", "10ms"},
                       {"pasword_file", "x"}});
  CHECK(bad.count("url"));
  CHECK(bad.count("fallback_urls[0]"));
  CHECK(bad.count("fallback_urls[1]"));
  CHECK(bad["password_env"].find("FB_TEST_XAPI_NO_SUCH_VAR") != std::string::npos);
  CHECK(bad.count("tls_verify"));
  CHECK(bad.count("poll_timeout"));
  CHECK(bad["pasword_file"].find("did you mean \"password_file\"") != std::string::npos);

  // Good settings touch nothing: no connection is made until Start().
  Settings ok(json{{"url", "https://198.18.0.10/"}, {"password_env", kPasswordEnv}, {"tls_verify", "false"}});
  CHECK(ProbeRegistry::Global().Create("xapi", "xapi", &ok));
  CHECK(ok.problems().empty());
}

TEST_CASE("xapi probe: mpath counts and MULTIPATH_PERIODIC_ALERT lines parse" * doctest::test_suite("unit")) {
  auto c = XapiTracker::ParseMpathCounts("[1, 2]");
  REQUIRE(c);
  CHECK(c->first == 1);
  CHECK(c->second == 2);
  CHECK(!XapiTracker::ParseMpathCounts("1/2"));
  json f = XapiTracker::ParseMultipathLine(
      "[20240101T12:00:00Z] host=h-uuid; host-name=\"xcp 1\"; pbd=p-uuid; scsi_id=36001; current=0; max=4");
  CHECK(f["host"] == "h-uuid");
  CHECK(f["host-name"] == "xcp 1");
  CHECK(f["pbd"] == "p-uuid");
  CHECK(f["scsi_id"] == "36001");
  CHECK(f["current"] == 0);
  CHECK(f["max"] == 4);
}

}  // namespace fb
