// Settings of one fb-array-sim process, written by `lab up` as JSON into the
// lab's state directory and read by the simulator at start.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "core/status.h"

namespace fb::lab {

enum class SuspendMode { kHang, kRefuse };
const char* SuspendModeName(SuspendMode m);
Result<SuspendMode> ParseSuspendMode(const std::string& text);

// "race" (first claimer at the mediator wins), or the preferred site's name.
Result<std::string> ParseRaceWinner(const std::string& text);

struct SiteConfig {
  std::string site;       // "site-a"
  std::string peer_site;  // "site-b"
  std::string iqn;
  std::string repl_if;  // interface the replication link uses, "repl0"
  std::string repl_addr;
  std::string peer_repl_addr;
  int heartbeat_port = 0;
  std::string mediator_addr;
  int mediator_port = 0;
  std::string api_addr;
  int api_port = 0;
  std::string tgtd_pid_file;
  int tgtd_control_port = 0;
  // To restart tgtd (a loser back after resync): its portal address, log and
  // the LUN's backing file.
  std::string portal_addr, tgtd_log, lun_file;
  SuspendMode suspend_mode = SuspendMode::kHang;
  std::string race_winner = "race";
  int64_t heartbeat_interval_ns = 0;
  int64_t heartbeat_timeout_ns = 0;
  int64_t resync_ns = 0;
  // How long the non-preferred site waits before it claims (preference mode).
  int64_t claim_delay_ns = 0;
  std::string events_path;  // shared events.jsonl
  std::string state_path;   // this site's state snapshot (JSON), rewritten on change
  std::string token_path;   // the API token that login accepts
  std::string ready_path;   // created once every socket is bound
};

struct MediatorConfig {
  std::string listen_addr = "0.0.0.0";
  int port = 0;
  std::string ready_path;
};

nlohmann::json ToJson(const SiteConfig& c);
nlohmann::json ToJson(const MediatorConfig& c);
// Every field must be present; errors name the file.
Result<SiteConfig> ReadSiteConfig(const std::string& path);
Result<MediatorConfig> ReadMediatorConfig(const std::string& path);

}  // namespace fb::lab
