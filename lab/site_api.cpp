#include "lab/site_api.h"

#include <httplib.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "lab/token.h"
#include "lab/topology.h"

namespace fb::lab {

namespace {
using nlohmann::json;

const std::string kPrefix = std::string("/api/") + kApiVersion;

void Reply(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

void Error(httplib::Response& res, int status, const std::string& context, const std::string& message) {
  Reply(res, status, {{"errors", json::array({{{"context", context}, {"message", message}}})}});
}

json List(json items) {
  size_t n = items.size();
  return {{"items", std::move(items)},
          {"continuation_token", nullptr},
          {"more_items_remaining", false},
          {"total_item_count", n}};
}

json Ref(const std::string& name) { return {{"id", "fb-lab-" + name}, {"name", name}}; }

json OrNull(bool present, const json& value) { return present ? value : json(nullptr); }

// One entry of pods[].arrays as this site sees itself (self) or its peer.
json PodArray(const SiteConfig& c, const SiteSnapshot& s, bool self) {
  const std::string& name = self ? c.site : c.peer_site;
  std::string status = "online";
  bool frozen = false, resyncing = false;
  switch (s.role) {
    case SiteRole::kSynced:
      status = "online";
      break;
    case SiteRole::kRacing:
      status = self ? "suspended" : "unknown";
      break;
    case SiteRole::kWinner:
      status = self ? "online" : "offline";
      frozen = !self;
      break;
    case SiteRole::kLoser:
      status = self ? "offline" : "unknown";
      frozen = self;
      break;
    case SiteRole::kResyncing: {
      bool this_one_behind = (s.outage_role == SiteRole::kLoser) == self;
      status = this_one_behind ? "resyncing" : "online";
      resyncing = this_one_behind;
      frozen = this_one_behind;
      break;
    }
  }
  std::string mediator_status =
      self ? s.mediator_status : (s.peer_heard ? s.peer_mediator_status : "unknown");
  json ref = Ref(name);
  ref["resource_type"] = "arrays";
  return {{"id", "fb-lab-" + name},
          {"name", name},
          {"status", status},
          {"mediator_status", mediator_status},
          {"pre_elected", false},
          {"frozen_at", OrNull(frozen && s.frozen_at_ms > 0, s.frozen_at_ms)},
          {"progress", OrNull(resyncing, s.progress)},
          {"member", ref}};
}

json PodJson(const SiteConfig& c, const SiteSnapshot& s) {
  json arrays = json::array();
  bool self_first = c.site < c.peer_site;
  arrays.push_back(PodArray(c, s, self_first));
  arrays.push_back(PodArray(c, s, !self_first));
  json prefs = json::array();
  if (c.race_winner != "race") prefs.push_back(Ref(c.race_winner));
  return {{"id", "fb-lab-pod"},
          {"name", "fb-pod"},
          {"arrays", arrays},
          {"array_count", 2},
          {"mediator", c.mediator_addr},
          {"mediator_version", "faultbench-lab"},
          {"failover_preferences", prefs},
          {"promotion_status", "promoted"},
          {"requested_promotion_state", "promoted"},
          {"source", nullptr},
          {"destroyed", false},
          {"stretched", true}};
}

json InterfaceJson(const std::string& name, const std::string& addr, const std::string& service,
                   bool enabled) {
  return {{"name", name},
          {"enabled", enabled},
          {"interface_type", "eth"},
          {"services", json::array({service})},
          {"eth", {{"address", addr}, {"netmask", "255.255.255.0"}, {"subtype", "physical"}}}};
}
}  // namespace

SiteApi::SiteApi(ArraySite* site, std::string api_token)
    : site_(site), api_token_(std::move(api_token)), server_(std::make_unique<httplib::Server>()) {}

SiteApi::~SiteApi() { Stop(); }

bool SiteApi::Authorized(const std::string& session) {
  std::lock_guard<std::mutex> lock(mu_);
  return !session.empty() && sessions_.count(session) > 0;
}

Status SiteApi::Start(const std::string& addr, int port) {
  Routes();
  if (!server_->bind_to_port(addr.c_str(), port)) {
    return Status::IoError("HTTP API: cannot bind " + addr + ":" + std::to_string(port));
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return Status::Ok();
}

void SiteApi::Stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

void SiteApi::Routes() {
  httplib::Server& srv = *server_;
  const SiteConfig& c = site_->config();

  srv.Get("/api/api_version", [](const httplib::Request&, httplib::Response& res) {
    json versions = json::array();
    for (int minor = 0; minor <= 42; ++minor) versions.push_back("2." + std::to_string(minor));
    Reply(res, 200, {{"version", versions}});
  });

  srv.Post(kPrefix + "/login", [this](const httplib::Request& req, httplib::Response& res) {
    std::string token = req.get_header_value("api-token");
    if (token.empty() || token != api_token_) {
      Error(res, 401, req.path, token.empty() ? "Missing api-token header." : "Invalid api-token.");
      return;
    }
    auto session = RandomToken();
    if (!session.ok()) {
      Error(res, 500, req.path, session.status().message());
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      sessions_.insert(*session);
    }
    res.set_header("x-auth-token", *session);
    Reply(res, 200, List(json::array({{{"username", "pureuser"}}})));
  });

  // Every other /api/2.42 route needs a session from login.
  srv.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (req.path.rfind(kPrefix + "/", 0) != 0 || req.path == kPrefix + "/login") {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    if (Authorized(req.get_header_value("x-auth-token"))) return httplib::Server::HandlerResponse::Unhandled;
    Error(res, 401, req.path, "Missing or invalid x-auth-token header. Log in first.");
    return httplib::Server::HandlerResponse::Handled;
  });

  srv.Post(kPrefix + "/logout", [this](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mu_);
    sessions_.erase(req.get_header_value("x-auth-token"));
    Reply(res, 200, json::object());
  });

  srv.Get(kPrefix + "/pods", [this, &c](const httplib::Request&, httplib::Response& res) {
    Reply(res, 200, List(json::array({PodJson(c, site_->Snapshot())})));
  });

  // The stretched LUN as the pod's volume; its serial is what a host's SCSI id
  // ends with ("3624a9370" + serial, lab/pool_db.cpp).
  srv.Get(kPrefix + "/volumes", [&c](const httplib::Request&, httplib::Response& res) {
    std::error_code ec;
    auto bytes = std::filesystem::file_size(c.lun_file, ec);
    Reply(res, 200,
          List(json::array({{{"id", "fb-lab-volume-1"},
                             {"name", "fb-pod::fb-metro-lun"},
                             {"serial", kLabLunSerial},
                             {"provisioned", ec ? 0 : int64_t(bytes)},
                             {"pod", {{"id", "fb-lab-pod"}, {"name", "fb-pod"}}},
                             {"destroyed", false}}})));
  });

  srv.Get(kPrefix + "/array-connections", [this, &c](const httplib::Request&, httplib::Response& res) {
    SiteSnapshot s = site_->Snapshot();
    const SiteSpec* peer = FindSite(c.peer_site);
    Reply(res, 200,
          List(json::array({{{"id", "fb-lab-" + c.peer_site},
                             {"name", c.peer_site},
                             {"status", s.peer_heard ? "connected" : "connecting"},
                             {"type", "sync-replication"},
                             {"management_address", peer ? peer->path_addr : ""},
                             {"replication_addresses", json::array({c.peer_repl_addr})},
                             {"version", "faultbench-lab"}}})));
  });

  srv.Get(kPrefix + "/array-connections/path", [this, &c](const httplib::Request&, httplib::Response& res) {
    SiteSnapshot s = site_->Snapshot();
    Reply(res, 200,
          List(json::array({{{"id", "fb-lab-" + c.site + "-" + c.peer_site + "-" + c.repl_if},
                             {"name", c.peer_site},
                             {"local_port", c.repl_if},
                             {"local_address", c.repl_addr + ":" + std::to_string(c.heartbeat_port)},
                             {"remote_address", c.peer_repl_addr + ":" + std::to_string(c.heartbeat_port)},
                             {"status", s.peer_heard ? "connected" : "connecting"},
                             {"type", "sync-replication"}}})));
  });

  srv.Get(kPrefix + "/alerts", [this, &c](const httplib::Request&, httplib::Response& res) {
    json items = json::array();
    for (const SiteAlert& a : site_->Snapshot().alerts) {
      items.push_back({{"id", std::to_string(a.id)},
                       {"name", std::to_string(a.id)},
                       {"code", 0},
                       {"category", "array"},
                       {"component_name", c.repl_if},
                       {"component_type", "network_interface"},
                       {"issue", a.name},
                       {"severity", a.severity},
                       {"state", a.state},
                       {"created", a.created_ms},
                       {"updated", a.updated_ms},
                       {"summary", a.summary}});
    }
    Reply(res, 200, List(items));
  });

  srv.Get(kPrefix + "/network-interfaces", [this, &c](const httplib::Request&, httplib::Response& res) {
    SiteSnapshot s = site_->Snapshot();
    const SiteSpec* self = FindSite(c.site);
    json items = json::array();
    if (self) {
      items.push_back(InterfaceJson(kPathIf, self->path_addr, "iscsi", true));
      items.push_back(InterfaceJson(kMediatorIf, self->med_local_addr, "management", true));
    }
    items.push_back(InterfaceJson(c.repl_if, c.repl_addr, "replication", s.repl_port_enabled));
    Reply(res, 200, List(items));
  });

  srv.Patch(kPrefix + "/network-interfaces", [this, &c](const httplib::Request& req, httplib::Response& res) {
    std::string name = req.get_param_value("names");
    json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object() || !body.contains("enabled") ||
        !body["enabled"].is_boolean()) {
      Error(res, 400, name, "Body must be a JSON object with a boolean \"enabled\".");
      return;
    }
    if (name != c.repl_if) {
      Error(res, 400, name.empty() ? "names" : name,
            name == kPathIf ? "Cannot disable " + name + ": it carries this API."
                            : "No such network interface.");
      return;
    }
    bool enabled = body["enabled"].get<bool>();
    Status s = site_->SetReplicationPortEnabled(enabled);
    if (!s.ok()) {
      Error(res, 500, name, s.message());
      return;
    }
    Reply(res, 200, List(json::array({InterfaceJson(c.repl_if, c.repl_addr, "replication", enabled)})));
  });

  srv.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (res.status == 404) Error(res, 404, req.path, "Not found.");
  });
}

}  // namespace fb::lab
