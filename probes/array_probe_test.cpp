#include "probes/array_probe.h"

#include <doctest/doctest.h>
#include <httplib.h>

#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include "core/clock.h"
#include "tests/support/recording_sink.h"

namespace fb {

namespace {

using nlohmann::json;

// A fake FlashArray speaking the REST 2.42 shapes of docs/platform.md (as lab/site_api.cpp
// does): api-token login, x-auth-token sessions, 401 without one, item lists.
class FakeArray {
 public:
  FakeArray() {
    SetArrays("online", "online", json(nullptr), json(nullptr));
    srv_.Post("/api/2.42/login", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      if (req.get_header_value("api-token") != "secret") {
        res.status = 401;
        res.set_content(R"({"errors":[{"context":"/api/2.42/login","message":"Invalid api-token."}]})",
                        "application/json");
        return;
      }
      std::string s = "session-" + std::to_string(++logins_);
      sessions_.insert(s);
      res.set_header("x-auth-token", s);
      res.set_content(List(json::array({{{"username", "pureuser"}}})).dump(), "application/json");
    });
    auto list = [this](const std::string& path, std::function<json()> items) {
      srv_.Get(path, [this, items](const httplib::Request& req, httplib::Response& res) {
        std::lock_guard<std::mutex> lock(mu_);
        if (!sessions_.count(req.get_header_value("x-auth-token"))) {
          res.status = 401;
          res.set_content(
              R"({"errors":[{"context":"x","message":"Missing or invalid x-auth-token header."}]})",
              "application/json");
          return;
        }
        res.set_content(List(items()).dump(), "application/json");
      });
    };
    list("/api/2.42/pods", [this] { return json::array({pod_}); });
    list("/api/2.42/array-connections", [this] {
      return json::array({{{"name", "site-b"}, {"status", conn_}, {"type", "sync-replication"}}});
    });
    list("/api/2.42/alerts", [this] { return alerts_; });
    port_ = srv_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { srv_.listen_after_bind(); });
  }
  ~FakeArray() {
    // stop() before listen began would be lost: wait for the server to run first.
    for (int i = 0; i < 500 && !srv_.is_running(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    srv_.stop();
    thread_.join();
  }
  int port() const { return port_; }

  void SetArrays(const std::string& a, const std::string& b, json frozen_b, json progress_b) {
    std::lock_guard<std::mutex> lock(mu_);
    auto arr = [](const std::string& n, const std::string& st, json frozen, json progress) {
      return json{{"id", "fb-lab-" + n},  {"name", n},
                  {"status", st},         {"mediator_status", "online"},
                  {"pre_elected", false}, {"frozen_at", frozen},
                  {"progress", progress}, {"member", {{"name", n}}}};
    };
    pod_ = {{"name", "fb-pod"},
            {"arrays",
             json::array({arr("site-a", a, nullptr, nullptr), arr("site-b", b, frozen_b, progress_b)})}};
  }
  void SetConnection(const std::string& s) {
    std::lock_guard<std::mutex> lock(mu_);
    conn_ = s;
  }
  void AddAlert(int id) {
    std::lock_guard<std::mutex> lock(mu_);
    alerts_.push_back({{"id", std::to_string(id)},
                       {"name", std::to_string(id)},
                       {"code", 0},
                       {"category", "array"},
                       {"severity", "warning"},
                       {"state", "open"},
                       {"summary", "replication link down"}});
  }
  void DropSessions() {
    std::lock_guard<std::mutex> lock(mu_);
    sessions_.clear();
  }
  int logins() {
    std::lock_guard<std::mutex> lock(mu_);
    return logins_;
  }

 private:
  static json List(json items) {
    size_t n = items.size();
    return {{"items", std::move(items)},
            {"continuation_token", nullptr},
            {"more_items_remaining", false},
            {"total_item_count", n}};
  }

  httplib::Server srv_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mu_;
  json pod_, alerts_ = json::array();
  std::string conn_ = "connected";
  std::set<std::string> sessions_;
  int logins_ = 0;
};

using Sink = RecordingSink;

}  // namespace

TEST_CASE("array probe: a replication cut, the mediator race and the resync, each within one poll interval" *
          doctest::test_suite("unit")) {
  RegisterBuiltinProbes();
  FakeArray fake;
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
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(sink.events().empty());  // the first poll is the baseline

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
    FakeArray probe_port;  // take a free port, then free it
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
