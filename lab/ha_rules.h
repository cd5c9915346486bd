// The HA rules of the lab pool's simulator (fb-ha-sim), XCP-ng's xhad in small,
// as pure logic: no clock, no I/O. One HaRules per host. Each interval the
// caller tells what this host saw within ha_timeout (HaInput, built from arrival
// times by HaLiveness) and carries out the actions Step returns, in order.
//
// - A host that hears no peer's network heartbeat while the statefile shows a
//   peer alive fences itself (kFence, reason "network"): it stops its VMs and
//   marks its slot fenced, waits for its network to come back (a peer heard
//   again), "reboots" for reboot_ns and rejoins (kRejoin). When no peer alive on
//   the statefile hears a host other than this one (every host cut off from
//   every other, as in a two-host split), only the lowest-numbered stays up.
// - A host that loses both the network and its statefile slot fences itself
//   (kFence, reason "watchdog").
// - A host that cannot write its slot but hears peers stays up (kStatefileLost once,
//   kStatefileBack when it writes the slot again).
// - The master is the current master while it is alive; when it is not, the
//   lowest-numbered alive host takes over (kBecomeMaster, alone in its step, so
//   the caller can AdoptDead what the database knows before the next step); a claim with a higher
//   generation (or the same generation from a lower host) wins (kMasterIs).
// - The master declares a peer dead (kDeclareDead, once per failure) when neither
//   its heartbeat nor its slot advanced within ha_timeout, or its slot or
//   heartbeat says fenced; it never declares itself. A dead peer heard again and
//   not fenced is back (kHostBack).
// Hosts are numbered 1..hosts. Not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace fb::lab {

struct HaInput {
  int64_t now_ns = 0;
  std::set<int> net_alive;                        // peers whose network heartbeat arrived within ha_timeout
  std::set<int> slot_alive;                       // peers whose statefile slot advanced within ha_timeout
  std::set<int> fenced;                           // peers whose slot or heartbeat says fenced
  std::map<int, std::set<int>> slot_hears;        // peer -> hosts whose heartbeats its slot says it hears
  bool own_slot_ok = true;                        // this host wrote its slot within ha_timeout
  std::map<int, std::pair<int, int64_t>> claims;  // peer -> {master, generation} it announced
};

struct HaAction {
  enum class Kind {
    kHeartbeatLost,  // host: a peer's network heartbeat stopped
    kStatefileLost,  // this host cannot write its slot (it stays up)
    kStatefileBack,  // this host writes its slot again
    kFence,          // this host fences itself; reason "network" | "watchdog"
    kRejoin,         // this host is back after a fence
    kBecomeMaster,   // this host takes over; host = the previous master
    kMasterIs,       // another host is master now; host = it
    kDeclareDead,    // host is dead (master only)
    kHostBack,       // a dead host is alive again (master only); reason "fenced" when it had fenced
  };
  Kind kind;
  int host = 0;
  std::string reason;
};
const char* HaActionName(HaAction::Kind k);

class HaRules {
 public:
  // `master` is the master this host knows of at start (0: none), `generation` its claim's.
  // A new master declares nobody dead for settle_ns after its takeover (the
  // time clients take to find it, as a real new master takes to start up).
  HaRules(int self, int hosts, int64_t reboot_ns, int master, int64_t generation = 0, int64_t settle_ns = 0);

  std::vector<HaAction> Step(const HaInput& in);

  int self() const { return self_; }
  int master() const { return master_; }
  int64_t generation() const { return generation_; }
  bool fenced() const { return state_ != State::kUp; }
  bool is_master() const { return state_ == State::kUp && master_ == self_; }
  // pool.designate_new_master on the master: `host` is master from now on,
  // with the next generation (its claim wins everywhere once heard).
  void Handover(int host);
  // Hosts an earlier master declared dead (from the pool database): they are
  // not declared again, only seen back.
  void AdoptDead(const std::set<int>& dead);
  // Hosts the master has declared dead and not seen back.
  const std::set<int>& dead() const { return dead_; }

 private:
  enum class State { kUp, kFenced, kRebooting };
  bool Alive(const HaInput& in, int peer) const;

  int self_, hosts_;
  int64_t reboot_ns_;
  int master_;
  int64_t generation_;
  State state_ = State::kUp;
  int64_t reboot_until_ns_ = 0;
  int64_t settle_ns_ = 0, settled_ns_ = 0;
  bool was_fenced_ = false;
  bool slot_ok_ = true;
  std::set<int> net_heard_;  // peers heard in the last step
  std::set<int> dead_;
  std::set<int> dead_fenced_;  // of dead_, those that had fenced themselves
};

// The surviving host to restart a VM on: the one with the fewest VMs (ties: the
// lowest number); 0 when there is none. vm_counts: alive host -> VMs it runs.
int PickRestartHost(const std::map<int, int>& vm_counts);

// Turns arrival times into HaInput: a heartbeat or a slot that advanced counts
// for ha_timeout_ns after it came. Every peer (and this host's slot) gets one
// ha_timeout from construction or Reset to show up.
class HaLiveness {
 public:
  HaLiveness(int self, int hosts, int64_t ha_timeout_ns, int64_t now_ns);
  void Reset(int64_t now_ns);
  // A heartbeat of `peer`, announcing its master claim and whether it is fenced.
  void Heard(int peer, int64_t now_ns, int master, int64_t generation, bool fenced);
  // `peer`'s slot as read now: it advanced when seq differs from the last read.
  void SlotRead(int peer, int64_t now_ns, int64_t seq, bool fenced, std::set<int> hears);
  // This host's slot was written now.
  void SlotWritten(int64_t now_ns);
  // The peers whose heartbeats came within ha_timeout (what the slot tells the others).
  std::set<int> Hears(int64_t now_ns) const;
  // The input of one interval; claims are those heard since the previous call.
  HaInput Input(int64_t now_ns);

 private:
  struct Peer {
    int64_t heard_ns = 0, slot_ns = 0, seq = -1;
    bool hb_fenced = false, slot_fenced = false;
    std::set<int> slot_hears;
  };
  int self_, hosts_;
  int64_t timeout_ns_;
  int64_t written_ns_ = 0;
  std::map<int, Peer> peers_;
  std::map<int, std::pair<int, int64_t>> claims_;
};

}  // namespace fb::lab
