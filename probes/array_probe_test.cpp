#include "probes/array_probe.h"

#include <doctest/doctest.h>

#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include "core/clock.h"
#include "fakes/fake_array.h"
#include "tests/support/recording_sink.h"

namespace fb {

namespace {

using nlohmann::json;

using Sink = RecordingSink;

}  // namespace

TEST_CASE("array probe: a replication cut, the mediator race and the resync, each within one poll interval" *
          doctest::test_suite("unit")) {
  RegisterBuiltinProbes();
  FakeFlashArray fake;
  REQUIRE(fake.port() > 0);
  constexpr int64_t kIntervalNs = 100 * kNsPerMs;
  Settings s(json{{"url", "http://127.0.0.1:" + std::to_string(fake.port())},
                  {"api_token", "secret"},
                  {"interval", "100ms"},
                  {"timeout", "1s"}});
  auto probe = ProbeRegistry::Global().Create("array", "array-a", &s);
  REQUIRE(s.problems().empty());
  REQUIRE(probe);
  Sink sink;
  REQUIRE(probe->Start(&sink).ok());
  // The first poll is the baseline. A second poll has begun once the first is
  // done: its alert list ends a poll, and the probe polls one at a time.
  int64_t deadline = MonoNs() + 10 * kNsPerSec;
  while (fake.alert_lists() < 2 && MonoNs() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  REQUIRE(fake.alert_lists() >= 2);
  CHECK(sink.events().empty());

  // Slack for a loaded machine on top of one interval: the HTTP round trips.
  constexpr int64_t kSlackNs = 150 * kNsPerMs;
  int64_t worst = 0;
  auto expect = [&](const std::string& kind, int64_t changed) {
    auto e = sink.Wait(kind);
    REQUIRE_MESSAGE(e, "no " << kind);
    int64_t lag = e->mono_ns - changed;
    worst = std::max(worst, lag);
    CHECK(lag >= 0);
    CHECK(lag <= kIntervalNs + kSlackNs);
    return *e;
  };

  int64_t t = MonoNs();
  fake.SetArrays("suspended", "unknown", nullptr, nullptr);
  fake.SetConnection("connecting");
  expect("replication_down", t);
  CHECK(expect("array_connection", t).attrs["status"] == "connecting");

  t = MonoNs();
  fake.SetArrays("online", "offline", 1795316400000LL, nullptr);
  Event lost = expect("mediator_lost", t);
  CHECK(lost.attrs["array"] == "site-b");
  CHECK(lost.attrs["frozen_at"] == 1795316400000LL);
  CHECK(expect("mediator_won", t).attrs["array"] == "site-a");

  t = MonoNs();
  fake.AddAlert(17);
  CHECK(expect("alert", t).attrs["alert_id"] == "17");

  // The array forgets the session: the probe logs in again and misses nothing.
  int logins = fake.logins();
  fake.DropSessions();
  t = MonoNs();
  fake.SetArrays("online", "resyncing", 1795316400000LL, 0.25);
  CHECK(expect("resync_start", t).attrs["progress"] == 0.25);
  CHECK(fake.logins() == logins + 1);

  t = MonoNs();
  fake.SetArrays("online", "online", nullptr, nullptr);
  fake.SetConnection("connected");
  expect("resync_done", t);
  expect("replication_up", t);
  probe->Stop();
  MESSAGE("worst lag behind the fake's change: " << double(worst) / double(kNsPerMs) << " ms");

  std::vector<std::string> kinds;
  for (const Event& e : sink.events()) kinds.push_back(e.kind);
  CHECK(std::count(kinds.begin(), kinds.end(), "replication_down") == 1);
  CHECK(std::count(kinds.begin(), kinds.end(), "probe_error") == 0);
}

TEST_CASE("array probe: an unreachable array is one probe_error, then probe_recovered with the gap" *
          doctest::test_suite("unit")) {
  RegisterBuiltinProbes();
  int port = 0;
  {
    FakeFlashArray probe_port;  // take a free port, then free it
    port = probe_port.port();
  }
  Settings s(json{{"url", "http://127.0.0.1:" + std::to_string(port)},
                  {"api_token", "secret"},
                  {"interval", "50ms"},
                  {"timeout", "200ms"}});
  auto probe = ProbeRegistry::Global().Create("array", "array-a", &s);
  REQUIRE(probe);
  Sink sink;
  REQUIRE(probe->Start(&sink).ok());
  auto err = sink.Wait("probe_error");
  REQUIRE(err);
  CHECK(err->message.find("127.0.0.1:" + std::to_string(port)) != std::string::npos);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  probe->Stop();
  CHECK(sink.events().size() == 1);

  Settings none(json{{"url", "http://127.0.0.1:1"}, {"api_token_env", "FB_TEST_NO_SUCH_TOKEN"}});
  CHECK(!ProbeRegistry::Global().Create("array", "array-a", &none));
}

}  // namespace fb
