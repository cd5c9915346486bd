#include "lab/ha_rules.h"

#include <doctest/doctest.h>

#include <memory>
#include <vector>

#include "core/clock.h"

namespace fb::lab {

namespace {

using K = HaAction::Kind;
constexpr int64_t kTimeout = 2 * kNsPerSec;
constexpr int64_t kTick = 100 * kNsPerMs;
constexpr int64_t kReboot = 1 * kNsPerSec;

// N hosts on a fake clock: each tick a host that is powered and not fenced
// heartbeats every peer it can reach and writes its slot when its storage works;
// every powered host reads the slots (with working storage) and steps its rules.
// Actions are kept with their time and host; a fence marks the slot fenced,
// a takeover adopts the dead hosts of the shared "database".
struct Pool {
  struct Host {
    std::unique_ptr<HaRules> rules;
    std::unique_ptr<HaLiveness> live;
    bool powered = true, net = true, storage = true;
  };
  struct Slot {
    int64_t seq = 0;
    bool fenced = false;
    std::set<int> hears;
  };
  struct Act {
    int64_t t;
    int by;
    HaAction a;
  };

  explicit Pool(int n) : hosts(n + 1), slots(n + 1) {
    for (int i = 1; i <= n; ++i) Boot(i);
  }
  void Boot(int i) {
    hosts[i].rules = std::make_unique<HaRules>(i, N(), kReboot, db_master, 0);
    hosts[i].live = std::make_unique<HaLiveness>(i, N(), kTimeout, now);
    hosts[i].powered = true;
  }
  int N() const { return int(hosts.size()) - 1; }

  void Tick() {
    now += kTick;
    for (int i = 1; i <= N(); ++i) {
      Host& h = hosts[i];
      if (!h.powered || h.rules->fenced()) continue;
      for (int p = 1; p <= N(); ++p)
        if (p != i && h.net && hosts[p].net && hosts[p].powered)
          hosts[p].live->Heard(i, now, h.rules->master(), h.rules->generation(), false);
    }
    for (int i = 1; i <= N(); ++i) {
      Host& h = hosts[i];
      if (!h.powered) continue;
      if (h.storage && !h.rules->fenced()) {
        slots[i] = {slots[i].seq + 1, false, h.live->Hears(now)};
        h.live->SlotWritten(now);
      }
      if (h.storage)
        for (int p = 1; p <= N(); ++p)
          if (p != i) h.live->SlotRead(p, now, slots[p].seq, slots[p].fenced, slots[p].hears);
      for (const HaAction& a : h.rules->Step(h.live->Input(now))) {
        acts.push_back({now, i, a});
        if (a.kind == K::kFence && h.storage) slots[i].fenced = true;
        if (a.kind == K::kRejoin) {
          h.live->Reset(now);
          slots[i].fenced = false;
        }
        if (a.kind == K::kBecomeMaster) {
          db_master = i;
          h.rules->AdoptDead(db_dead);
        }
        if (a.kind == K::kDeclareDead) db_dead.insert(a.host);
        if (a.kind == K::kHostBack) db_dead.erase(a.host);
      }
    }
  }
  void Run(int64_t ns) {
    for (int64_t end = now + ns; now < end;) Tick();
  }
  std::vector<Act> Find(K kind, int host = 0) const {
    std::vector<Act> out;
    for (const Act& a : acts)
      if (a.a.kind == kind && (host == 0 || a.a.host == host)) out.push_back(a);
    return out;
  }

  int64_t now = 0;
  std::vector<Host> hosts;
  std::vector<Slot> slots;
  std::vector<Act> acts;
  int db_master = 1;
  std::set<int> db_dead;
};

}  // namespace

TEST_CASE("ha rules: a quiet pool does nothing" * doctest::test_suite("unit")) {
  Pool pool(3);
  pool.Run(10 * kNsPerSec);
  CHECK(pool.acts.empty());
  CHECK(pool.hosts[1].rules->is_master());
  CHECK_FALSE(pool.hosts[2].rules->is_master());
}

TEST_CASE("ha rules: the master declares a powered-off host dead once, about ha_timeout after" *
          doctest::test_suite("unit")) {
  Pool pool(3);
  pool.Run(3 * kNsPerSec);
  int64_t off = pool.now;
  pool.hosts[3].powered = false;
  pool.Run(10 * kNsPerSec);
  auto dead = pool.Find(K::kDeclareDead);
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].by == 1);
  CHECK(dead[0].a.host == 3);
  CHECK(dead[0].a.reason == "silent");
  CHECK(dead[0].t - off > kTimeout);
  CHECK(dead[0].t - off <= kTimeout + 2 * kTick);
  CHECK(pool.Find(K::kHeartbeatLost, 3).size() == 2);  // hosts 1 and 2 each noticed
  CHECK(pool.Find(K::kFence).empty());
  CHECK(pool.Find(K::kBecomeMaster).empty());
  // Powered on again: back, once.
  pool.Boot(3);
  pool.Run(3 * kNsPerSec);
  CHECK(pool.Find(K::kHostBack, 3).size() == 1);
  CHECK(pool.Find(K::kDeclareDead).size() == 1);
}

TEST_CASE("ha rules: the master dies, the next host takes over and declares it dead" *
          doctest::test_suite("unit")) {
  Pool pool(3);
  pool.Run(3 * kNsPerSec);
  int64_t off = pool.now;
  pool.hosts[1].powered = false;
  pool.Run(10 * kNsPerSec);
  auto takeover = pool.Find(K::kBecomeMaster);
  REQUIRE(takeover.size() == 1);
  CHECK(takeover[0].by == 2);
  CHECK(takeover[0].a.host == 1);  // the previous master
  auto dead = pool.Find(K::kDeclareDead);
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].by == 2);
  CHECK(dead[0].a.host == 1);
  CHECK(dead[0].t == takeover[0].t + kTick);  // the step after the takeover
  CHECK(dead[0].t - off > kTimeout);
  // Host 3 follows the claim of host 2.
  auto follows = pool.Find(K::kMasterIs, 2);
  REQUIRE(follows.size() == 1);
  CHECK(follows[0].by == 3);
  CHECK(pool.hosts[2].rules->is_master());
  CHECK(pool.hosts[3].rules->master() == 2);
  CHECK(pool.hosts[2].rules->generation() == 1);
}

TEST_CASE("ha rules: a new master waits settle_ns before it declares anyone dead" *
          doctest::test_suite("unit")) {
  HaRules rules(2, 3, kReboot, 1, 0, 500 * kNsPerMs);
  HaInput in;
  in.now_ns = 10 * kNsPerSec;
  in.net_alive = {3};
  in.slot_alive = {3};
  auto a = rules.Step(in);
  REQUIRE(a.size() == 2);
  CHECK(a[0].kind == K::kHeartbeatLost);
  CHECK(a[1].kind == K::kBecomeMaster);
  in.now_ns += 400 * kNsPerMs;
  CHECK(rules.Step(in).empty());
  in.now_ns += 100 * kNsPerMs;
  a = rules.Step(in);
  REQUIRE(a.size() == 1);
  CHECK(a[0].kind == K::kDeclareDead);
  CHECK(a[0].host == 1);
  CHECK(rules.Step(in).empty());
}

TEST_CASE("ha rules: a host failure then a master failure: each dead host is declared exactly once" *
          doctest::test_suite("unit")) {
  Pool pool(4);
  pool.Run(3 * kNsPerSec);
  pool.hosts[4].powered = false;
  pool.Run(5 * kNsPerSec);
  pool.hosts[1].powered = false;
  pool.Run(10 * kNsPerSec);
  CHECK(pool.Find(K::kDeclareDead, 4).size() == 1);  // by host 1; host 2 adopted it
  CHECK(pool.Find(K::kDeclareDead, 1).size() == 1);
  CHECK(pool.Find(K::kDeclareDead, 4)[0].by == 1);
  CHECK(pool.Find(K::kDeclareDead, 1)[0].by == 2);
  for (const auto& a : pool.acts)
    if (a.a.kind == K::kDeclareDead) CHECK(a.a.host != a.by);  // never itself
}

TEST_CASE("ha rules: management cut, the host fences itself, is declared dead, and rejoins" *
          doctest::test_suite("unit")) {
  Pool pool(3);
  pool.Run(3 * kNsPerSec);
  int64_t cut = pool.now;
  pool.hosts[3].net = false;
  pool.Run(6 * kNsPerSec);
  auto fence = pool.Find(K::kFence);
  REQUIRE(fence.size() == 1);
  CHECK(fence[0].by == 3);
  CHECK(fence[0].a.reason == "network");
  CHECK(fence[0].t - cut > kTimeout);
  CHECK(pool.slots[3].fenced);
  auto dead = pool.Find(K::kDeclareDead, 3);
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].by == 1);
  CHECK(dead[0].a.reason == "fenced");
  CHECK(dead[0].t >= fence[0].t);
  CHECK(pool.Find(K::kRejoin).empty());  // not while the network is cut
  int64_t restored = pool.now;
  pool.hosts[3].net = true;
  pool.Run(5 * kNsPerSec);
  auto rejoin = pool.Find(K::kRejoin);
  REQUIRE(rejoin.size() == 1);
  CHECK(rejoin[0].by == 3);
  CHECK(rejoin[0].t - restored >= kReboot);
  auto back = pool.Find(K::kHostBack, 3);
  REQUIRE(back.size() == 1);
  CHECK(back[0].a.reason == "fenced");
  CHECK(back[0].t >= rejoin[0].t);
  CHECK(pool.Find(K::kFence).size() == 1);
  CHECK_FALSE(pool.hosts[3].rules->fenced());
}

TEST_CASE("ha rules: the master's management cut fences it and the next host takes over" *
          doctest::test_suite("unit")) {
  Pool pool(3);
  pool.Run(3 * kNsPerSec);
  pool.hosts[1].net = false;
  pool.Run(6 * kNsPerSec);
  REQUIRE(pool.Find(K::kFence).size() == 1);
  CHECK(pool.Find(K::kFence)[0].by == 1);
  REQUIRE(pool.Find(K::kBecomeMaster).size() == 1);
  CHECK(pool.Find(K::kBecomeMaster)[0].by == 2);
  REQUIRE(pool.Find(K::kDeclareDead, 1).size() == 1);
  CHECK(pool.Find(K::kDeclareDead, 1)[0].by == 2);
  pool.hosts[1].net = true;
  pool.Run(5 * kNsPerSec);
  // Back as a slave: the claim of generation 1 beats its own old one.
  CHECK(pool.Find(K::kRejoin).size() == 1);
  CHECK(pool.hosts[1].rules->master() == 2);
  CHECK(pool.hosts[2].rules->is_master());
}

TEST_CASE("ha rules: storage cut alone raises statefile_lost once and fences nobody" *
          doctest::test_suite("unit")) {
  Pool pool(3);
  pool.Run(3 * kNsPerSec);
  pool.hosts[2].storage = false;
  pool.Run(8 * kNsPerSec);
  auto lost = pool.Find(K::kStatefileLost);
  REQUIRE(lost.size() == 1);
  CHECK(lost[0].by == 2);
  CHECK(pool.Find(K::kFence).empty());
  CHECK(pool.Find(K::kDeclareDead).empty());
}

TEST_CASE("ha rules: network and storage both lost is a watchdog fence" * doctest::test_suite("unit")) {
  Pool pool(3);
  pool.Run(3 * kNsPerSec);
  pool.hosts[3].net = false;
  pool.hosts[3].storage = false;
  pool.Run(6 * kNsPerSec);
  auto fence = pool.Find(K::kFence);
  REQUIRE(fence.size() == 1);
  CHECK(fence[0].by == 3);
  CHECK(fence[0].a.reason == "watchdog");
  auto dead = pool.Find(K::kDeclareDead, 3);
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].a.reason == "silent");
}

TEST_CASE("ha rules: a two-host split keeps the lower host, the other fences" * doctest::test_suite("unit")) {
  Pool pool(2);
  pool.Run(3 * kNsPerSec);
  pool.hosts[1].net = false;  // the link between them: both stop hearing
  pool.Run(6 * kNsPerSec);
  auto fence = pool.Find(K::kFence);
  REQUIRE(fence.size() == 1);
  CHECK(fence[0].by == 2);
  CHECK(pool.Find(K::kDeclareDead, 2).size() == 1);
  CHECK(pool.hosts[1].rules->is_master());
}

TEST_CASE("ha rules: the last host alive stays up without its peers" * doctest::test_suite("unit")) {
  Pool pool(3);
  pool.Run(3 * kNsPerSec);
  pool.hosts[1].powered = false;
  pool.hosts[2].powered = false;
  pool.Run(6 * kNsPerSec);
  CHECK(pool.Find(K::kFence).empty());
  CHECK(pool.hosts[3].rules->is_master());
  CHECK(pool.Find(K::kDeclareDead, 1).size() == 1);
  CHECK(pool.Find(K::kDeclareDead, 2).size() == 1);
}

TEST_CASE("ha rules: restart target is the surviving host with the fewest VMs" *
          doctest::test_suite("unit")) {
  CHECK(PickRestartHost({{2, 3}, {3, 1}, {4, 1}}) == 3);
  CHECK(PickRestartHost({{2, 0}}) == 2);
  CHECK(PickRestartHost({}) == 0);
}

TEST_CASE("ha liveness: heartbeats and advancing slots count for ha_timeout, a stale slot does not" *
          doctest::test_suite("unit")) {
  HaLiveness live(1, 3, kTimeout, 0);
  HaInput in = live.Input(kTimeout);  // the grace of construction
  CHECK(in.net_alive == std::set<int>{2, 3});
  CHECK(in.own_slot_ok);
  live.SlotRead(2, 100, 7, false, {1, 3});  // first read: learns seq 7 only
  live.Heard(3, kTimeout, 2, 5, false);
  in = live.Input(kTimeout + 1);
  CHECK(in.net_alive == std::set<int>{3});
  CHECK(in.slot_alive.empty());
  CHECK_FALSE(in.own_slot_ok);
  CHECK(in.claims.at(3) == std::pair<int, int64_t>{2, 5});
  CHECK(live.Input(kTimeout + 2).claims.empty());
  live.SlotRead(2, kTimeout + 3, 8, true, {});
  live.SlotWritten(kTimeout + 3);
  in = live.Input(kTimeout + 4);
  CHECK(in.slot_alive == std::set<int>{2});
  CHECK(in.fenced == std::set<int>{2});
  CHECK(in.own_slot_ok);
  CHECK(in.slot_hears.at(2).empty());
  CHECK(live.Hears(kTimeout + 4) == std::set<int>{3});
}

}  // namespace fb::lab
