// One simulated array of the metro pair. It heartbeats its peer over the
// replication link and, when the peer falls silent past the timeout, pauses
// I/O on its tgtd, races to the mediator, resumes if it won and stays
// suspended if it lost; when heartbeats return it resyncs and both serve
// again. Every step goes to the lab event log with the UTC time of the act.
//
// Threads: Start() runs a heartbeat thread, a control thread and a mediator
// pinger; Snapshot() and SetReplicationPortEnabled() may be called from any
// thread (the HTTP API's).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "lab/io_suspender.h"
#include "lab/lab_event_log.h"
#include "lab/sim_config.h"
#include "lab/udp.h"

namespace fb::lab {

enum class SiteRole { kSynced, kRacing, kWinner, kLoser, kResyncing };
const char* SiteRoleName(SiteRole r);

struct SiteAlert {
  int64_t id = 0;
  std::string name;
  std::string severity;  // info | warning | critical
  std::string state;     // open | closed
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  std::string summary;
};

struct SiteSnapshot {
  SiteRole role = SiteRole::kSynced;
  // The role held before the resync began (kWinner or kLoser), else kSynced.
  SiteRole outage_role = SiteRole::kSynced;
  bool peer_heard = true;  // a heartbeat within the timeout
  bool repl_port_enabled = true;
  std::string mediator_status = "unknown";  // online | unreachable | unknown
  int64_t frozen_at_ms = 0;                 // UTC ms when replication stopped; 0 = not frozen
  double progress = 0;                      // resync progress 0..1 while resyncing
  int64_t epoch = 0;
  int64_t last_heard_utc_ns = 0;
  std::string peer_mediator_status = "unknown";  // as the peer last reported it
  std::vector<SiteAlert> alerts;
};

class ArraySite {
 public:
  ArraySite(SiteConfig config, IoSuspender* io, LabEventLog* log);
  ~ArraySite();
  ArraySite(const ArraySite&) = delete;
  ArraySite& operator=(const ArraySite&) = delete;

  Status Start();
  void Stop();

  const SiteConfig& config() const { return config_; }
  SiteSnapshot Snapshot() const;
  // Brings the replication interface up or down (a real cut: the peer's
  // heartbeats stop arriving and ours stop leaving).
  Status SetReplicationPortEnabled(bool enabled);

 private:
  void HeartbeatLoop();
  void ControlLoop();
  void MediatorPingLoop();
  void Step();
  void RaceToMediator();
  void Emit(int64_t t_utc_ns, const std::string& kind, Severity severity, const std::string& message,
            nlohmann::json attrs = nlohmann::json::object());
  // Emit for io_paused and io_resumed, with how long the signal took (signal_ms).
  void EmitIoSignal(int64_t t_utc_ns, const std::string& kind, Severity severity, const std::string& message);
  void RaiseAlert(const std::string& name, const std::string& severity, const std::string& summary);
  void CloseAlert(const std::string& name);
  void WriteState();

  SiteConfig config_;
  IoSuspender* io_;
  LabEventLog* log_;
  UdpSocket heartbeat_socket_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;

  std::mutex state_file_mu_;  // serializes WriteState
  mutable std::mutex mu_;     // guards everything below
  SiteSnapshot snap_;
  int64_t last_heard_mono_ = 0;
  int64_t heard_since_outage_ = 0;
  int64_t peer_epoch_ = 0;
  int64_t outage_epoch_ = 0;
  int64_t resync_start_mono_ = 0;
  int64_t next_alert_id_ = 1;
};

}  // namespace fb::lab
