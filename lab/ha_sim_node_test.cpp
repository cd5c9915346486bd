#include "lab/ha_sim_node.h"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <thread>

#include "core/clock.h"
#include "core/jsonl_writer.h"
#include "probes/probe.h"
#include "tests/support/recording_sink.h"
#include "tests/support/test_util.h"
#include "tests/support/xapi_test_probe.h"

namespace fb::lab {

namespace {

using nlohmann::json;

constexpr const char* kPasswordEnv = "FB_TEST_HA_XAPI_PASSWORD";
constexpr const char* kPassword = "ha-sim-test-password";
constexpr int64_t kTimeout = 1 * kNsPerSec;

// The pool as the simulator acts on it: placements only.
class FakePoolActions : public HaActions {
 public:
  explicit FakePoolActions(std::map<int, int> placement) : placement_(std::move(placement)) {}
  Status StartVm(int vm, int host) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (fail_starts_ > 0) {
      --fail_starts_;
      return Status::Unavailable("vm-" + std::to_string(vm) + ": sshd not listening (test)");
    }
    placement_[vm] = host;
    ++starts_[vm];
    return Status::Ok();
  }
  Status StopVm(int vm) override {
    std::lock_guard<std::mutex> lock(mu_);
    placement_[vm] = 0;
    ++stops_[vm];
    return Status::Ok();
  }
  std::vector<int> ResidentVms(int host) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<int> out;
    for (const auto& [vm, h] : placement_)
      if (h == host) out.push_back(vm);
    return out;
  }
  int Placement(int vm) {
    std::lock_guard<std::mutex> lock(mu_);
    return placement_[vm];
  }
  int Starts(int vm) {
    std::lock_guard<std::mutex> lock(mu_);
    return starts_[vm];
  }
  void FailStarts(int n) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_starts_ = n;
  }
  int Stops(int vm) {
    std::lock_guard<std::mutex> lock(mu_);
    return stops_[vm];
  }

 private:
  std::mutex mu_;
  std::map<int, int> placement_, starts_, stops_;
  int fail_starts_ = 0;
};

// N simulator nodes in this process, on the real clock: each serves XAPI on its
// own loopback address, heartbeats and statefile slots are handed over in memory
// subject to each host's power, management network and storage.
struct Harness {
  explicit Harness(int n) : pool(Placement(n)) {
    setenv(kPasswordEnv, kPassword, 1);
    std::vector<std::string> addrs;
    for (int i = 1; i <= n; ++i) addrs.push_back("127.0.0." + std::to_string(40 + i));
    slots.resize(n + 1);
    for (int i = 1; i <= n; ++i) {
      xapi.push_back(std::make_unique<XapiService>("root", kPassword));
      REQUIRE(xapi.back()->Serve({addrs[i - 1]}, 0).ok());
      HaNodeConfig c;
      c.self = i;
      c.mgmt_addrs = addrs;
      c.vms = n;
      c.initial_placement = Placement(n);
      c.ha_timeout_ns = kTimeout;
      c.reboot_ns = 500 * kNsPerMs;
      c.settle_ns = 700 * kNsPerMs;
      c.restart_delay_ns = 700 * kNsPerMs;
      c.db_path = dir.path() + "/xapi-db.json";
      nodes.push_back(std::make_unique<HaNode>(
          c, xapi.back().get(), &pool,
          [this](int64_t t, const std::string& kind, Severity, const std::string& message, json attrs) {
            std::lock_guard<std::mutex> lock(mu);
            log.push_back({{"t_utc_ns", t}, {"kind", kind}, {"message", message}, {"attrs", attrs}});
          }));
      up.push_back({true, true, true});
    }
    for (auto& node : nodes) REQUIRE(node->Start(MonoNs()).ok());
  }
  ~Harness() { unsetenv(kPasswordEnv); }
  static std::map<int, int> Placement(int n) {
    std::map<int, int> p;
    for (int k = 1; k <= n; ++k) p[k] = k;
    return p;
  }
  std::string Url(int host) const {
    return "http://127.0.0." + std::to_string(40 + host) + ":" + std::to_string(xapi[host - 1]->port());
  }
  void Tick() {
    int64_t now = MonoNs();
    int n = int(nodes.size());
    for (int i = 1; i <= n; ++i) {
      if (!up[i - 1].power) continue;
      std::string hb = nodes[i - 1]->HeartbeatText();
      for (int p = 1; p <= n; ++p)
        if (p != i && up[p - 1].power && up[i - 1].net && up[p - 1].net) nodes[p - 1]->OnHeartbeat(hb, now);
    }
    for (int i = 1; i <= n; ++i) {
      if (!up[i - 1].power) continue;
      HaNode& node = *nodes[i - 1];
      if (up[i - 1].storage) {
        slots[i] = node.SlotText(now);
        node.OnSlotWritten(now);
        for (int p = 1; p <= n; ++p) node.OnSlot(p, slots[p], now);
      }
      node.Tick(now);
    }
  }
  // Ticks every 50 ms until cond() or ms pass; returns cond().
  bool RunUntil(const std::function<bool()>& cond, int ms) {
    for (int64_t end = MonoNs() + ms * kNsPerMs; MonoNs() < end;) {
      Tick();
      if (cond()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return cond();
  }
  void PowerOff(int host) {
    up[host - 1].power = false;
    xapi[host - 1]->Kill(0);
  }
  std::vector<json> Logged(const std::string& kind) {
    std::lock_guard<std::mutex> lock(mu);
    std::vector<json> out;
    for (const json& j : log)
      if (j["kind"] == kind) out.push_back(j);
    return out;
  }

  struct Up {
    bool power, net, storage;
  };
  TempDir dir;
  FakePoolActions pool;
  std::vector<std::unique_ptr<XapiService>> xapi;
  std::vector<std::unique_ptr<HaNode>> nodes;
  std::vector<Up> up;
  std::vector<std::string> slots;
  std::mutex mu;
  std::vector<json> log;
};

std::unique_ptr<Probe> XapiProbe(const Harness& h) {
  std::string problems;
  auto probe = HaTestXapiProbe(h.Url(1), {h.Url(2), h.Url(3)}, kPasswordEnv, &problems);
  REQUIRE_MESSAGE(probe, problems);
  return probe;
}

// Messages `name` about the object `obj_uuid` in a service's database.
int CountMessages(XapiService& xapi, const std::string& name, const std::string& obj_uuid) {
  int n = 0;
  json messages = xapi.Records("message");
  for (const auto& [ref, m] : messages.items())
    if (m["name"] == name && (obj_uuid.empty() || m["obj_uuid"] == obj_uuid)) ++n;
  return n;
}

}  // namespace

TEST_CASE("ha sim node: the master is powered off, the xapi probe sees the failover" *
          doctest::test_suite("integration")) {
  Harness h(3);
  auto probe = XapiProbe(h);
  RecordingSink sink;
  REQUIRE(probe->Start(&sink).ok());
  h.RunUntil([] { return false; }, 1500);  // baseline read, steady heartbeats
  CHECK(h.Logged("host_declared_dead").empty());
  CHECK(sink.Of("host_down").empty());

  int64_t off = UtcNs();
  h.PowerOff(1);
  bool done =
      h.RunUntil([&] { return !sink.Of("vm_started").empty() && !sink.Of("master_changed").empty(); }, 10000);
  INFO("probe events: " << sink.Kinds());
  CHECK(done);
  h.RunUntil([] { return false; }, 1500);  // nothing more may happen
  probe->Stop();

  auto dead = h.Logged("host_declared_dead");
  REQUIRE(dead.size() == 1);
  CHECK(dead[0]["attrs"]["host"] == "host-1");
  CHECK(dead[0]["attrs"]["by"] == "host-2");
  int64_t detect_ms = (dead[0]["t_utc_ns"].get<int64_t>() - off) / kNsPerMs;
  MESSAGE("host-1 declared dead " << detect_ms << " ms after power off (ha_timeout 1000 ms, settle 700 ms)");
  CHECK(detect_ms >= 1000);
  CHECK(detect_ms < 4000);
  REQUIRE(h.Logged("master_changed").size() == 1);
  CHECK(h.Logged("master_changed")[0]["attrs"]["master"] == "host-2");
  REQUIRE(h.Logged("vm_started").size() == 1);
  CHECK(h.pool.Starts(1) == 1);     // exactly once
  CHECK(h.pool.Placement(1) == 2);  // the host with the fewest VMs (ties: the lowest)
  CHECK(h.pool.Starts(2) == 0);
  CHECK(h.pool.Starts(3) == 0);

  // The probe: host_down, vm_stopped and vm_started for vm-1, master_changed to host-2.
  auto down = sink.Of("host_down");
  REQUIRE(down.size() == 1);
  CHECK(down[0].attrs["host"] == "host-1");
  auto stopped = sink.Of("vm_stopped");
  REQUIRE(stopped.size() == 1);
  CHECK(stopped[0].attrs["vm"] == "vm-1");
  CHECK(stopped[0].attrs["host"] == "host-1");
  auto started = sink.Of("vm_started");
  REQUIRE(started.size() == 1);
  CHECK(started[0].attrs["vm"] == "vm-1");
  CHECK(started[0].attrs["host"] == "host-2");
  auto master = sink.Of("master_changed");
  REQUIRE(master.size() == 1);
  CHECK(master[0].attrs["master"] == "host-2");
  CHECK(master[0].attrs["previous_master"] == "host-1");
  CHECK(sink.Of("host_failed").size() == 1);

  // The database the new master persisted says the same.
  auto text = ReadFile(h.dir.path() + "/xapi-db.json");
  REQUIRE(text.ok());
  json db = json::parse(*text)["records"];
  CHECK(db["vm"][HaRef("vm-1")]["resident_on"] == HaRef("host-2"));
  CHECK(db["host_metrics"][HaRef("host-1/metrics")]["live"] == false);
  CHECK(HaDatabaseMaster(json::parse(*text)) == std::pair<int, int64_t>{2, 1});
}

TEST_CASE("ha sim node: a management cut fences the host, its VM restarts once, it rejoins" *
          doctest::test_suite("integration")) {
  Harness h(3);
  h.RunUntil([] { return false; }, 1200);
  h.up[2].net = false;  // host-3
  bool fenced = h.RunUntil([&] { return h.pool.Starts(3) == 1; }, 8000);
  REQUIRE(fenced);
  auto f = h.Logged("host_fenced");
  REQUIRE(f.size() == 1);
  CHECK(f[0]["attrs"]["host"] == "host-3");
  CHECK(f[0]["attrs"]["reason"] == "network");
  CHECK(h.pool.Stops(3) == 1);  // the fenced host stopped its own VM
  auto dead = h.Logged("host_declared_dead");
  REQUIRE(dead.size() == 1);
  CHECK(dead[0]["attrs"]["host"] == "host-3");
  CHECK(dead[0]["attrs"]["by"] == "host-1");
  CHECK(dead[0]["attrs"]["reason"] == "fenced");
  CHECK(h.pool.Placement(3) == 1);  // host-1 and host-2 run one VM each: the lower one
  CHECK(h.Logged("host_rejoined").empty());

  h.up[2].net = true;
  bool back = h.RunUntil([&] { return !h.Logged("host_up").empty(); }, 5000);
  REQUIRE(back);
  CHECK(h.Logged("host_rejoined").size() == 1);
  CHECK(h.Logged("host_fenced").size() == 1);
  CHECK(h.pool.Starts(3) == 1);
  CHECK(h.xapi[0]->Record("host_metrics", HaRef("host-3/metrics"))["live"] == true);
  CHECK(CountMessages(*h.xapi[0], "HA_HOST_WAS_FENCED", HaUuid("host-3")) == 1);
}

TEST_CASE("ha sim node: a failed restart is tried again until it works, and raises a message each time" *
          doctest::test_suite("integration")) {
  Harness h(3);
  h.RunUntil([] { return false; }, 1200);
  h.pool.FailStarts(2);
  h.PowerOff(3);
  REQUIRE(h.RunUntil([&] { return h.pool.Starts(3) == 1; }, 10000));
  h.RunUntil([] { return false; }, 1500);
  CHECK(h.pool.Starts(3) == 1);
  CHECK(h.pool.Placement(3) == 1);
  CHECK(h.Logged("vm_started").size() == 1);
  CHECK(CountMessages(*h.xapi[0], "HA_PROTECTED_VM_RESTART_FAILED", HaUuid("vm-3")) == 2);
}

TEST_CASE("ha sim node: a storage cut alone fences nobody and raises HA_STATEFILE_LOST" *
          doctest::test_suite("integration")) {
  Harness h(3);
  h.RunUntil([] { return false; }, 1200);
  h.up[1].storage = false;  // host-2
  h.RunUntil([] { return false; }, 3000);
  CHECK(h.Logged("statefile_lost").size() == 1);
  CHECK(h.Logged("host_fenced").empty());
  CHECK(h.Logged("host_declared_dead").empty());
  CHECK(CountMessages(*h.xapi[0], "HA_STATEFILE_LOST", HaUuid("host-2")) == 1);
}

TEST_CASE("ha sim node: uuids and refs are stable, the initial database names host-1 master" *
          doctest::test_suite("unit")) {
  CHECK(HaUuid("host-1") == HaUuid("host-1"));
  CHECK(HaUuid("host-1") != HaUuid("host-2"));
  CHECK(HaUuid("vm-1").size() == 36);
  CHECK(HaRef("vm-1") == "OpaqueRef:" + HaUuid("vm-1"));
  json db = HaInitialDatabase(2, {"198.18.10.11", "198.18.10.12"}, 2, {{1, 1}, {2, 0}});
  CHECK(HaDatabaseMaster(db) == std::pair<int, int64_t>{1, 0});
  CHECK(db["records"]["vm"][HaRef("vm-1")]["power_state"] == "Running");
  CHECK(db["records"]["vm"][HaRef("vm-2")]["resident_on"] == kXapiNullRef);
  CHECK(db["records"]["host"][HaRef("host-2")]["address"] == "198.18.10.12");
}

}  // namespace fb::lab
