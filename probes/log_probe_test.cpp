#include "probes/log_probe.h"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <thread>

#include "core/clock.h"
#include "tests/test_util.h"

namespace fb {

namespace {

class CollectingSink : public EventSink {
 public:
  void Emit(Event e) override {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(std::move(e));
  }
  std::vector<Event> events() {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }
  // Waits (at most 5 s) until `n` events arrived.
  bool WaitFor(size_t n) {
    for (int i = 0; i < 500; ++i) {
      if (events().size() >= n) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

 private:
  std::mutex mu_;
  std::vector<Event> events_;
};

void Append(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::app);
  f << text;
}

nlohmann::json MultipathRules() {
  return nlohmann::json::array(
      {{{"match", "checker failed path ([0-9]+:[0-9]+) in map (\\S+)"},
        {"kind", "path_failed"},
        {"severity", "warning"},
        {"message", "path $1 failed in $2"}},
       {{"match", "([0-9]+:[0-9]+): reinstated"}, {"kind", "path_reinstated"}}});
}

}  // namespace

TEST_CASE("log probe: rules turn lines into events, rotation and truncation lose no line") {
  RegisterBuiltinProbes();
  TempDir tmp;
  std::string log = tmp.path() + "/daemon.log";
  Append(log, "old line before start, not read\n");
  Settings s(nlohmann::json{{"path", log}, {"poll_interval", "10ms"}, {"rules", MultipathRules()}});
  auto probe = ProbeRegistry::Global().Create("log", "mpath", &s);
  REQUIRE(s.problems().empty());
  REQUIRE(probe);
  CollectingSink sink;
  REQUIRE(probe->Start(&sink).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(50));

  Append(log, "multipathd: checker failed path 8:32 in map mpatha\n");
  Append(log, "something else\n");
  REQUIRE(sink.WaitFor(2));
  // Rotation by rename: a line written to the old file just before, then the new file.
  Append(log, "before rotation\n");
  REQUIRE(std::rename(log.c_str(), (log + ".1").c_str()) == 0);
  Append(log, "multipathd: 8:32: reinstated\n");
  REQUIRE(sink.WaitFor(4));
  // Truncation in place, then a new line.
  { std::ofstream trunc(log, std::ios::trunc); }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  Append(log, "after truncation\n");
  REQUIRE(sink.WaitFor(5));
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

TEST_CASE("log probe: follows a command's output and says when it ends") {
  Settings s(nlohmann::json{{"command", "echo 'conn error 1020'; echo boring"},
                            {"unmatched", "drop"},
                            {"rules", {{{"match", "conn error ([0-9]+)"}, {"kind", "session_lost"}, {"message", "code $1"}}}}});
  auto probe = NewLogProbe("iscsi", &s);
  REQUIRE(s.problems().empty());
  CollectingSink sink;
  REQUIRE(probe->Start(&sink).ok());
  REQUIRE(sink.WaitFor(2));
  probe->Stop();
  auto ev = sink.events();
  REQUIRE(ev.size() == 2);
  CHECK(ev[0].kind == "session_lost");
  CHECK(ev[0].message == "code 1020");
  CHECK(ev[1].kind == "probe_error");
  CHECK(ev[1].message.find("exit 0") != std::string::npos);
}

TEST_CASE("log probe: Stop() ends a command that never exits") {
  Settings s(nlohmann::json{{"command", "sleep 30"}});
  auto probe = NewLogProbe("sleeper", &s);
  CollectingSink sink;
  REQUIRE(probe->Start(&sink).ok());
  int64_t t0 = MonoNs();
  probe->Stop();
  CHECK(MonoNs() - t0 < 2 * kNsPerSec);
}

TEST_CASE("log probe: bad settings are reported with their keys") {
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
