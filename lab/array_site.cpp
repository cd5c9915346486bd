#include "lab/array_site.h"

#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/jsonl_writer.h"
#include "lab/mediator.h"
#include "lab/netns.h"

namespace fb::lab {

namespace {
constexpr int64_t kControlTickNs = 5 * kNsPerMs;
constexpr int64_t kClaimTimeoutNs = 1 * kNsPerSec;
constexpr int64_t kMediatorPingEveryNs = 1 * kNsPerSec;
constexpr int64_t kMediatorPingTimeoutNs = 300 * kNsPerMs;
// Heartbeats that must arrive after an outage before the link counts as back.
constexpr int64_t kHeartbeatsToRecover = 3;
}  // namespace

const char* SiteRoleName(SiteRole r) {
  switch (r) {
    case SiteRole::kSynced:
      return "synced";
    case SiteRole::kRacing:
      return "racing";
    case SiteRole::kWinner:
      return "winner";
    case SiteRole::kLoser:
      return "loser";
    case SiteRole::kResyncing:
      return "resyncing";
  }
  return "unknown";
}

ArraySite::ArraySite(SiteConfig config, IoSuspender* io, LabEventLog* log)
    : config_(std::move(config)), io_(io), log_(log) {}

ArraySite::~ArraySite() { Stop(); }

Status ArraySite::Start() {
  FB_RETURN_IF_ERROR(heartbeat_socket_.Bind(config_.repl_addr, config_.heartbeat_port));
  last_heard_mono_ = MonoNs();  // the peer gets one timeout to show up
  WriteState();
  threads_.emplace_back([this] { HeartbeatLoop(); });
  threads_.emplace_back([this] { ControlLoop(); });
  threads_.emplace_back([this] { MediatorPingLoop(); });
  return Status::Ok();
}

void ArraySite::Stop() {
  stop_ = true;
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

SiteSnapshot ArraySite::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return snap_;
}

Status ArraySite::SetReplicationPortEnabled(bool enabled) {
  FB_RETURN_IF_ERROR(SetLinkUp("", config_.repl_if, enabled).With(config_.site));
  {
    std::lock_guard<std::mutex> lock(mu_);
    snap_.repl_port_enabled = enabled;
  }
  WriteState();
  return Status::Ok();
}

void ArraySite::HeartbeatLoop() {
  int64_t next_send = MonoNs();
  while (!stop_) {
    int64_t now = MonoNs();
    if (now >= next_send) {
      nlohmann::json hb;
      {
        std::lock_guard<std::mutex> lock(mu_);
        hb = {{"op", "heartbeat"},
              {"site", config_.site},
              {"epoch", snap_.epoch},
              {"role", SiteRoleName(snap_.role)},
              {"mediator_status", snap_.mediator_status}};
      }
      // While the link is cut sends fail (no route); the peer's silence is what
      // detects the outage, so a failed send needs no handling here.
      (void)heartbeat_socket_.SendTo(config_.peer_repl_addr, config_.heartbeat_port, hb.dump());
      next_send += config_.heartbeat_interval_ns;
      if (next_send <= now) next_send = now + config_.heartbeat_interval_ns;
    }
    auto d = heartbeat_socket_.Recv(std::min<int64_t>(next_send - MonoNs(), 50 * kNsPerMs));
    if (!d || d->from_addr != config_.peer_repl_addr) continue;
    nlohmann::json msg = nlohmann::json::parse(d->text, nullptr, false);
    if (msg.is_discarded() || !msg.is_object() || msg.value("op", "") != "heartbeat") continue;
    std::lock_guard<std::mutex> lock(mu_);
    last_heard_mono_ = MonoNs();
    snap_.last_heard_utc_ns = UtcNs();
    ++heard_since_outage_;
    peer_epoch_ = msg.value("epoch", int64_t(0));
    snap_.peer_mediator_status = msg.value("mediator_status", "unknown");
    // A peer that went through an outage this site did not see is ahead.
    if (snap_.role == SiteRole::kSynced && peer_epoch_ > snap_.epoch) snap_.epoch = peer_epoch_;
  }
}

void ArraySite::MediatorPingLoop() {
  while (!stop_) {
    bool ok = PingMediator(config_.mediator_addr, config_.mediator_port, kMediatorPingTimeoutNs);
    bool changed;
    {
      std::lock_guard<std::mutex> lock(mu_);
      std::string status = ok ? "online" : "unreachable";
      changed = snap_.mediator_status != status;
      snap_.mediator_status = status;
    }
    if (changed) WriteState();
    int64_t until = MonoNs() + kMediatorPingEveryNs;
    while (!stop_ && MonoNs() < until) usleep(20'000);
  }
}

void ArraySite::ControlLoop() {
  while (!stop_) {
    Step();
    usleep(kControlTickNs / 1000);
  }
}

void ArraySite::Emit(int64_t t_utc_ns, const std::string& kind, Severity severity, const std::string& message,
                     nlohmann::json attrs) {
  int64_t epoch;
  {
    std::lock_guard<std::mutex> lock(mu_);
    epoch = snap_.epoch;
  }
  attrs["epoch"] = epoch;
  attrs["suspend_mode"] = SuspendModeName(config_.suspend_mode);
  Status s = log_->Emit(t_utc_ns, kind, severity, message, std::move(attrs));
  if (!s.ok()) std::fprintf(stderr, "%s: event log: %s\n", config_.site.c_str(), s.message().c_str());
}

void ArraySite::EmitIoSignal(int64_t t_utc_ns, const std::string& kind, Severity severity,
                             const std::string& message) {
  Emit(t_utc_ns, kind, severity, message, {{"signal_ms", double(io_->signal_ns()) / double(kNsPerMs)}});
}

void ArraySite::Step() {
  SiteRole role;
  bool silent, recovered;
  {
    std::lock_guard<std::mutex> lock(mu_);
    role = snap_.role;
    silent = MonoNs() - last_heard_mono_ > config_.heartbeat_timeout_ns;
    recovered = !silent && heard_since_outage_ >= kHeartbeatsToRecover;
  }
  const std::string& peer = config_.peer_site;
  switch (role) {
    case SiteRole::kSynced: {
      if (!silent) return;
      int64_t t_down = UtcNs();
      {
        std::lock_guard<std::mutex> lock(mu_);
        snap_.role = SiteRole::kRacing;
        snap_.peer_heard = false;
        snap_.frozen_at_ms = t_down / kNsPerMs;
        heard_since_outage_ = 0;
        outage_epoch_ = snap_.epoch;
      }
      Emit(t_down, "replication_down", Severity::kWarning,
           "no heartbeat from " + peer + " on " + config_.repl_if + " for " +
               std::to_string(config_.heartbeat_timeout_ns / kNsPerMs) + " ms");
      RaiseAlert("replication_link_down", "critical", "replication link to " + peer + " is down");
      auto t_paused = io_->Pause();
      if (!t_paused.ok()) {
        std::fprintf(stderr, "%s: %s\n", config_.site.c_str(), t_paused.status().message().c_str());
      } else {
        EmitIoSignal(*t_paused, "io_paused", Severity::kWarning,
                     "I/O paused on target " + config_.iqn + " (tgtd stopped)");
      }
      WriteState();
      RaceToMediator();
      return;
    }
    case SiteRole::kRacing: {
      if (!recovered) {
        RaceToMediator();  // the mediator was unreachable: keep trying, I/O stays paused
        return;
      }
      // The link came back before any site won: nothing diverged, serve again.
      Emit(UtcNs(), "replication_up", Severity::kInfo,
           "heartbeats from " + peer + " are back before a mediator decision");
      CloseAlert("replication_link_down");
      auto t = io_->Resume();
      if (!t.ok()) {
        std::fprintf(stderr, "%s: %s\n", config_.site.c_str(), t.status().message().c_str());
        return;
      }
      EmitIoSignal(*t, "io_resumed", Severity::kInfo, "serving I/O again");
      {
        std::lock_guard<std::mutex> lock(mu_);
        snap_.role = SiteRole::kSynced;
        snap_.peer_heard = true;
        snap_.frozen_at_ms = 0;
      }
      WriteState();
      return;
    }
    case SiteRole::kWinner:
    case SiteRole::kLoser: {
      if (!recovered) return;
      int64_t t_up = UtcNs();
      {
        std::lock_guard<std::mutex> lock(mu_);
        snap_.outage_role = role;
        snap_.role = SiteRole::kResyncing;
        snap_.peer_heard = true;
        snap_.progress = 0;
        resync_start_mono_ = MonoNs();
      }
      Emit(t_up, "replication_up", Severity::kInfo, "heartbeats from " + peer + " are back");
      CloseAlert("replication_link_down");
      Emit(UtcNs(), "resync_start", Severity::kInfo,
           role == SiteRole::kLoser ? "resyncing from " + peer : "resyncing " + peer);
      WriteState();
      return;
    }
    case SiteRole::kResyncing: {
      SiteRole before;
      double progress;
      {
        std::lock_guard<std::mutex> lock(mu_);
        before = snap_.outage_role;
        progress =
            config_.resync_ns <= 0 ? 1.0 : double(MonoNs() - resync_start_mono_) / double(config_.resync_ns);
        snap_.progress = std::min(progress, 1.0);
      }
      if (silent) {
        int64_t t_down = UtcNs();
        {
          std::lock_guard<std::mutex> lock(mu_);
          snap_.role = before;
          snap_.outage_role = SiteRole::kSynced;
          snap_.peer_heard = false;
          snap_.progress = 0;
          heard_since_outage_ = 0;
        }
        Emit(t_down, "replication_down", Severity::kWarning, "link to " + peer + " lost again during resync");
        RaiseAlert("replication_link_down", "critical", "replication link to " + peer + " is down");
        WriteState();
        return;
      }
      if (progress < 1.0) return;
      Emit(UtcNs(), "resync_done", Severity::kInfo, "in sync with " + peer);
      if (before == SiteRole::kLoser) {
        // The I/O this site received while detached is discarded, not applied
        // over the winner's newer data (io_suspender.h, Restart).
        bool restarted = io_->paused() && !io_->refusing();
        auto t = io_->Restart();
        if (!t.ok()) {
          std::fprintf(stderr, "%s: %s\n", config_.site.c_str(), t.status().message().c_str());
          return;  // retried on the next tick
        }
        Emit(*t, "io_resumed", Severity::kInfo,
             restarted ? "serving I/O again after resync (target restarted: I/O received while detached discarded)"
                       : "serving I/O again after resync");
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        snap_.role = SiteRole::kSynced;
        snap_.outage_role = SiteRole::kSynced;
        snap_.frozen_at_ms = 0;
        snap_.progress = 0;
        snap_.epoch = std::max(outage_epoch_ + 1, snap_.epoch);
      }
      WriteState();
      return;
    }
  }
}

void ArraySite::RaceToMediator() {
  bool preferred = config_.race_winner == "race" || config_.race_winner == config_.site;
  {
    std::lock_guard<std::mutex> lock(mu_);
    snap_.role = SiteRole::kRacing;
  }
  if (!preferred) {
    int64_t until = MonoNs() + config_.claim_delay_ns;
    while (!stop_ && MonoNs() < until) usleep(5'000);
  }
  ClaimOutcome outcome = ClaimAtMediator(config_.mediator_addr, config_.mediator_port, config_.site,
                                         outage_epoch_, kClaimTimeoutNs);
  int64_t t = UtcNs();
  if (outcome == ClaimOutcome::kUnreachable) {
    std::lock_guard<std::mutex> lock(mu_);
    snap_.mediator_status = "unreachable";
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    snap_.mediator_status = "online";
    snap_.role = outcome == ClaimOutcome::kWon ? SiteRole::kWinner : SiteRole::kLoser;
  }
  std::string epoch = std::to_string(outage_epoch_);
  if (outcome == ClaimOutcome::kWon) {
    Emit(t, "mediator_won", Severity::kInfo, "won the mediator race for epoch " + epoch);
    auto t_resumed = io_->Resume();
    if (!t_resumed.ok()) {
      std::fprintf(stderr, "%s: %s\n", config_.site.c_str(), t_resumed.status().message().c_str());
    } else {
      EmitIoSignal(*t_resumed, "io_resumed", Severity::kInfo,
                   "serving I/O alone while " + config_.peer_site + " is detached");
    }
  } else {
    Emit(t, "mediator_lost", Severity::kWarning,
         "lost the mediator race for epoch " + epoch + "; target stays suspended (" +
             SuspendModeName(config_.suspend_mode) + ")");
    RaiseAlert("mediator_race_lost", "warning",
               "pod offline on " + config_.site + ": lost the mediator race");
    if (config_.suspend_mode == SuspendMode::kRefuse) {
      auto t_refused = io_->Refuse();
      if (!t_refused.ok())
        std::fprintf(stderr, "%s: %s\n", config_.site.c_str(), t_refused.status().message().c_str());
    }
  }
  WriteState();
}

void ArraySite::RaiseAlert(const std::string& name, const std::string& severity, const std::string& summary) {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t now_ms = UtcNs() / kNsPerMs;
  for (SiteAlert& a : snap_.alerts) {
    if (a.name == name && a.state == "open") return;
  }
  snap_.alerts.push_back({next_alert_id_++, name, severity, "open", now_ms, now_ms, summary});
}

void ArraySite::CloseAlert(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t now_ms = UtcNs() / kNsPerMs;
  for (SiteAlert& a : snap_.alerts) {
    if (a.state == "open" && (a.name == name || name == "replication_link_down")) {
      a.state = "closed";
      a.updated_ms = now_ms;
    }
  }
}

void ArraySite::WriteState() {
  std::lock_guard<std::mutex> file_lock(state_file_mu_);
  SiteSnapshot s = Snapshot();
  nlohmann::json j = {{"site", config_.site},
                      {"role", SiteRoleName(s.role)},
                      {"peer_heard", s.peer_heard},
                      {"repl_port_enabled", s.repl_port_enabled},
                      {"mediator_status", s.mediator_status},
                      {"frozen_at_ms", s.frozen_at_ms},
                      {"progress", s.progress},
                      {"epoch", s.epoch},
                      {"io_paused", io_->paused()},
                      {"io_refused", io_->refusing()}};
  Status st = WriteFileAtomic(config_.state_path, j.dump() + "\n");
  if (!st.ok()) std::fprintf(stderr, "%s: %s\n", config_.site.c_str(), st.message().c_str());
}

}  // namespace fb::lab
