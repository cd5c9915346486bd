#include "lab/ha_rules.h"

namespace fb::lab {

const char* HaActionName(HaAction::Kind k) {
  switch (k) {
    case HaAction::Kind::kHeartbeatLost:
      return "heartbeat_lost";
    case HaAction::Kind::kStatefileLost:
      return "statefile_lost";
    case HaAction::Kind::kStatefileBack:
      return "statefile_back";
    case HaAction::Kind::kFence:
      return "fence";
    case HaAction::Kind::kRejoin:
      return "rejoin";
    case HaAction::Kind::kBecomeMaster:
      return "become_master";
    case HaAction::Kind::kMasterIs:
      return "master_is";
    case HaAction::Kind::kDeclareDead:
      return "declare_dead";
    case HaAction::Kind::kHostBack:
      return "host_back";
  }
  return "unknown";
}

HaRules::HaRules(int self, int hosts, int64_t reboot_ns, int master, int64_t generation, int64_t settle_ns)
    : self_(self),
      hosts_(hosts),
      reboot_ns_(reboot_ns),
      master_(master),
      generation_(generation),
      settle_ns_(settle_ns) {
  for (int p = 1; p <= hosts_; ++p)
    if (p != self_) net_heard_.insert(p);
}

bool HaRules::Alive(const HaInput& in, int peer) const {
  return (in.net_alive.count(peer) || in.slot_alive.count(peer)) && !in.fenced.count(peer);
}

void HaRules::Handover(int host) {
  if (host < 1 || host > hosts_ || host == master_) return;
  master_ = host;
  ++generation_;
}

std::vector<HaAction> HaRules::Step(const HaInput& in) {
  using K = HaAction::Kind;
  std::vector<HaAction> out;
  // Master claims: the highest generation wins, a lower host on a tie.
  for (const auto& [peer, claim] : in.claims) {
    auto [m, g] = claim;
    if (m <= 0 || m > hosts_) continue;
    if (!(g > generation_ || (g == generation_ && (master_ == 0 || m < master_)))) continue;
    int previous = master_;
    master_ = m;
    generation_ = g;
    if (m == previous) continue;
    if (m == self_) {
      settled_ns_ = in.now_ns + settle_ns_;
      out.push_back({K::kBecomeMaster, previous, ""});
    } else
      out.push_back({K::kMasterIs, m, ""});
  }

  if (state_ == State::kFenced) {
    if (!in.net_alive.empty()) {  // the network is back: "reboot"
      state_ = State::kRebooting;
      reboot_until_ns_ = in.now_ns + reboot_ns_;
    }
    return out;
  }
  if (state_ == State::kRebooting) {
    if (in.now_ns < reboot_until_ns_) return out;
    state_ = State::kUp;
    slot_ok_ = true;
    net_heard_.clear();
    for (int p = 1; p <= hosts_; ++p)
      if (p != self_) net_heard_.insert(p);
    out.push_back({K::kRejoin, self_, ""});
    return out;
  }

  for (int p = 1; p <= hosts_; ++p)
    if (p != self_ && net_heard_.count(p) && !in.net_alive.count(p))
      out.push_back({K::kHeartbeatLost, p, ""});
  net_heard_ = in.net_alive;
  if (slot_ok_ && !in.own_slot_ok) out.push_back({K::kStatefileLost, self_, ""});
  if (!slot_ok_ && in.own_slot_ok) out.push_back({K::kStatefileBack, self_, ""});
  slot_ok_ = in.own_slot_ok;

  if (hosts_ > 1 && in.net_alive.empty()) {
    std::string reason;
    if (!in.own_slot_ok) {
      reason = "watchdog";
    } else {
      bool bigger_partition = false, lower_alone = false;
      for (int p : in.slot_alive) {
        if (in.fenced.count(p) || p == self_) continue;
        auto h = in.slot_hears.find(p);
        if (h != in.slot_hears.end())
          for (int q : h->second)
            if (q != self_) bigger_partition = true;
        if (p < self_) lower_alone = true;
      }
      if (bigger_partition || lower_alone) reason = "network";
    }
    if (!reason.empty()) {
      state_ = State::kFenced;
      dead_.clear();
      dead_fenced_.clear();
      out.push_back({K::kFence, self_, reason});
      return out;
    }
  }

  bool master_alive = master_ == self_ || (master_ != 0 && Alive(in, master_));
  if (!master_alive) {
    int lowest = self_;
    for (int p = 1; p <= hosts_; ++p)
      if (p != self_ && p < lowest && Alive(in, p)) lowest = p;
    if (lowest == self_) {
      int previous = master_;
      master_ = self_;
      ++generation_;
      settled_ns_ = in.now_ns + settle_ns_;
      out.push_back({K::kBecomeMaster, previous, ""});
      return out;
    }
  }
  if (master_ != self_ || in.now_ns < settled_ns_) return out;
  for (int p = 1; p <= hosts_; ++p) {
    if (p == self_) continue;
    bool fenced = in.fenced.count(p) > 0;
    bool heard = in.net_alive.count(p) || in.slot_alive.count(p);
    if (!dead_.count(p) && (fenced || !heard)) {
      dead_.insert(p);
      if (fenced) dead_fenced_.insert(p);
      out.push_back({K::kDeclareDead, p, fenced ? "fenced" : "silent"});
    } else if (dead_.count(p) && !fenced && heard) {
      out.push_back({K::kHostBack, p, dead_fenced_.count(p) ? "fenced" : "silent"});
      dead_.erase(p);
      dead_fenced_.erase(p);
    }
  }
  return out;
}

void HaRules::AdoptDead(const std::set<int>& dead) {
  for (int p : dead)
    if (p != self_) dead_.insert(p);
}

int PickRestartHost(const std::map<int, int>& vm_counts) {
  int best = 0, best_count = 0;
  for (const auto& [host, count] : vm_counts) {
    if (best == 0 || count < best_count) {
      best = host;
      best_count = count;
    }
  }
  return best;
}

HaLiveness::HaLiveness(int self, int hosts, int64_t ha_timeout_ns, int64_t now_ns)
    : self_(self), hosts_(hosts), timeout_ns_(ha_timeout_ns) {
  Reset(now_ns);
}

void HaLiveness::Reset(int64_t now_ns) {
  written_ns_ = now_ns;
  peers_.clear();
  claims_.clear();
  for (int p = 1; p <= hosts_; ++p)
    if (p != self_) peers_[p] = Peer{now_ns, now_ns, -1, false, false, {}};
}

void HaLiveness::Heard(int peer, int64_t now_ns, int master, int64_t generation, bool fenced) {
  auto it = peers_.find(peer);
  if (it == peers_.end()) return;
  it->second.heard_ns = now_ns;
  it->second.hb_fenced = fenced;
  if (!fenced) claims_[peer] = {master, generation};
}

void HaLiveness::SlotRead(int peer, int64_t now_ns, int64_t seq, bool fenced, std::set<int> hears) {
  auto it = peers_.find(peer);
  if (it == peers_.end()) return;
  Peer& p = it->second;
  if (seq != p.seq) {
    if (p.seq != -1) p.slot_ns = now_ns;  // the first read only learns the seq (it may be stale)
    p.seq = seq;
  }
  p.slot_fenced = fenced;
  p.slot_hears = std::move(hears);
}

void HaLiveness::SlotWritten(int64_t now_ns) { written_ns_ = now_ns; }

std::set<int> HaLiveness::Hears(int64_t now_ns) const {
  std::set<int> out;
  for (const auto& [id, p] : peers_)
    if (now_ns - p.heard_ns <= timeout_ns_) out.insert(id);
  return out;
}

HaInput HaLiveness::Input(int64_t now_ns) {
  HaInput in;
  in.now_ns = now_ns;
  in.own_slot_ok = now_ns - written_ns_ <= timeout_ns_;
  for (const auto& [id, p] : peers_) {
    if (now_ns - p.heard_ns <= timeout_ns_) in.net_alive.insert(id);
    if (now_ns - p.slot_ns <= timeout_ns_) in.slot_alive.insert(id);
    // A heartbeat's fenced flag only counts while heartbeats come.
    if (p.slot_fenced || (p.hb_fenced && in.net_alive.count(id))) in.fenced.insert(id);
    in.slot_hears[id] = p.slot_hears;
  }
  in.claims = std::move(claims_);
  claims_.clear();
  return in;
}

}  // namespace fb::lab
