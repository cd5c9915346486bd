#include "lab/sim_config.h"

#include "core/jsonl_writer.h"

namespace fb::lab {

const char* SuspendModeName(SuspendMode m) { return m == SuspendMode::kHang ? "hang" : "refuse"; }

Result<SuspendMode> ParseSuspendMode(const std::string& text) {
  if (text == "hang") return SuspendMode::kHang;
  if (text == "refuse") return SuspendMode::kRefuse;
  return Status::InvalidInput("suspend mode \"" + text + "\": expected hang or refuse");
}

Result<std::string> ParseRaceWinner(const std::string& text) {
  if (text == "race" || text == "site-a" || text == "site-b") return text;
  return Status::InvalidInput("race winner \"" + text + "\": expected race, site-a or site-b");
}

nlohmann::json ToJson(const SiteConfig& c) {
  return {{"site", c.site},
          {"peer_site", c.peer_site},
          {"iqn", c.iqn},
          {"repl_if", c.repl_if},
          {"repl_addr", c.repl_addr},
          {"peer_repl_addr", c.peer_repl_addr},
          {"heartbeat_port", c.heartbeat_port},
          {"mediator_addr", c.mediator_addr},
          {"mediator_port", c.mediator_port},
          {"api_addr", c.api_addr},
          {"api_port", c.api_port},
          {"tgtd_pid_file", c.tgtd_pid_file},
          {"portal_addr", c.portal_addr},
          {"tgtd_log", c.tgtd_log},
          {"lun_file", c.lun_file},
          {"tgtd_control_port", c.tgtd_control_port},
          {"suspend_mode", SuspendModeName(c.suspend_mode)},
          {"race_winner", c.race_winner},
          {"heartbeat_interval_ns", c.heartbeat_interval_ns},
          {"heartbeat_timeout_ns", c.heartbeat_timeout_ns},
          {"resync_ns", c.resync_ns},
          {"claim_delay_ns", c.claim_delay_ns},
          {"events_path", c.events_path},
          {"state_path", c.state_path},
          {"token_path", c.token_path},
          {"ready_path", c.ready_path}};
}

nlohmann::json ToJson(const MediatorConfig& c) {
  return {{"listen_addr", c.listen_addr}, {"port", c.port}, {"ready_path", c.ready_path}};
}

namespace {
Result<nlohmann::json> ReadJson(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  nlohmann::json j = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Status::InvalidInput(path + ": not a JSON object");
  return j;
}

template <typename T>
Status Get(const nlohmann::json& j, const char* key, T* out, const std::string& path) {
  auto it = j.find(key);
  if (it == j.end()) return Status::InvalidInput(path + ": missing \"" + key + "\"");
  if constexpr (std::is_same_v<T, std::string>) {
    if (!it->is_string()) return Status::InvalidInput(path + ": \"" + key + "\" must be a string");
  } else {
    if (!it->is_number_integer()) return Status::InvalidInput(path + ": \"" + key + "\" must be an integer");
  }
  *out = it->get<T>();
  return Status::Ok();
}
}  // namespace

Result<SiteConfig> ReadSiteConfig(const std::string& path) {
  auto j = ReadJson(path);
  if (!j.ok()) return j.status();
  SiteConfig c;
  std::string mode;
  FB_RETURN_IF_ERROR(Get(*j, "site", &c.site, path));
  FB_RETURN_IF_ERROR(Get(*j, "peer_site", &c.peer_site, path));
  FB_RETURN_IF_ERROR(Get(*j, "iqn", &c.iqn, path));
  FB_RETURN_IF_ERROR(Get(*j, "repl_if", &c.repl_if, path));
  FB_RETURN_IF_ERROR(Get(*j, "repl_addr", &c.repl_addr, path));
  FB_RETURN_IF_ERROR(Get(*j, "peer_repl_addr", &c.peer_repl_addr, path));
  FB_RETURN_IF_ERROR(Get(*j, "heartbeat_port", &c.heartbeat_port, path));
  FB_RETURN_IF_ERROR(Get(*j, "mediator_addr", &c.mediator_addr, path));
  FB_RETURN_IF_ERROR(Get(*j, "mediator_port", &c.mediator_port, path));
  FB_RETURN_IF_ERROR(Get(*j, "api_addr", &c.api_addr, path));
  FB_RETURN_IF_ERROR(Get(*j, "api_port", &c.api_port, path));
  FB_RETURN_IF_ERROR(Get(*j, "tgtd_pid_file", &c.tgtd_pid_file, path));
  FB_RETURN_IF_ERROR(Get(*j, "portal_addr", &c.portal_addr, path));
  FB_RETURN_IF_ERROR(Get(*j, "tgtd_log", &c.tgtd_log, path));
  FB_RETURN_IF_ERROR(Get(*j, "lun_file", &c.lun_file, path));
  FB_RETURN_IF_ERROR(Get(*j, "tgtd_control_port", &c.tgtd_control_port, path));
  FB_RETURN_IF_ERROR(Get(*j, "suspend_mode", &mode, path));
  FB_RETURN_IF_ERROR(Get(*j, "race_winner", &c.race_winner, path));
  FB_RETURN_IF_ERROR(Get(*j, "heartbeat_interval_ns", &c.heartbeat_interval_ns, path));
  FB_RETURN_IF_ERROR(Get(*j, "heartbeat_timeout_ns", &c.heartbeat_timeout_ns, path));
  FB_RETURN_IF_ERROR(Get(*j, "resync_ns", &c.resync_ns, path));
  FB_RETURN_IF_ERROR(Get(*j, "claim_delay_ns", &c.claim_delay_ns, path));
  FB_RETURN_IF_ERROR(Get(*j, "events_path", &c.events_path, path));
  FB_RETURN_IF_ERROR(Get(*j, "state_path", &c.state_path, path));
  FB_RETURN_IF_ERROR(Get(*j, "token_path", &c.token_path, path));
  FB_RETURN_IF_ERROR(Get(*j, "ready_path", &c.ready_path, path));
  auto m = ParseSuspendMode(mode);
  if (!m.ok()) return m.status().With(path);
  c.suspend_mode = *m;
  auto w = ParseRaceWinner(c.race_winner);
  if (!w.ok()) return w.status().With(path);
  return c;
}

Result<MediatorConfig> ReadMediatorConfig(const std::string& path) {
  auto j = ReadJson(path);
  if (!j.ok()) return j.status();
  MediatorConfig c;
  FB_RETURN_IF_ERROR(Get(*j, "listen_addr", &c.listen_addr, path));
  FB_RETURN_IF_ERROR(Get(*j, "port", &c.port, path));
  FB_RETURN_IF_ERROR(Get(*j, "ready_path", &c.ready_path, path));
  return c;
}

}  // namespace fb::lab
