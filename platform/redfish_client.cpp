#include "platform/redfish_client.h"

#include <httplib.h>

#include <cstdlib>
#include <fstream>

#include "platform/xapi_client.h"

namespace fb {

using nlohmann::json;

namespace {

constexpr const char* kSessions = "/redfish/v1/SessionService/Sessions";
constexpr const char* kSystems = "/redfish/v1/Systems";

// "ActionParameterValueNotInList: ..." from a Redfish error body, else the body.
std::string ErrorText(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("error") || !j["error"].is_object()) return body.substr(0, 300);
  const json& e = j["error"];
  std::string out;
  if (e.contains("@Message.ExtendedInfo") && e["@Message.ExtendedInfo"].is_array()) {
    for (const auto& m : e["@Message.ExtendedInfo"]) {
      if (!m.is_object()) continue;
      std::string id = m.value("MessageId", std::string());
      std::string text = m.value("Message", std::string());
      out += (out.empty() ? "" : "; ") + (id.empty() ? "" : id.substr(id.rfind('.') + 1) + ": ") + text;
    }
  }
  if (out.empty()) out = e.value("message", e.value("code", std::string("error")));
  return out;
}

}  // namespace

RedfishEndpoint RedfishEndpointFromSettings(Settings* s) {
  RedfishEndpoint e;
  e.url = CheckedBaseUrl(s, "url", s->String("url", true));
  e.user = s->String("user", true);
  e.system = s->String("system", false);
  if (s->Has("password")) s->Problem("password", "a literal password is refused: use password_env or password_file");
  std::string env = s->String("password_env", false, "FB_BMC_PASSWORD");
  std::string file = s->String("password_file", false);
  if (!file.empty()) {
    std::ifstream f(file);
    if (!f) s->Problem("password_file", "cannot read \"" + file + "\"");
    std::getline(f, e.password);
  } else if (const char* v = std::getenv(env.c_str())) {
    e.password = v;
  }
  ReadHttpsSettings(s, &e.tls_verify, &e.ca_file, &e.timeout_ns);
  if (!s->Has("timeout")) e.timeout_ns = 10 * kNsPerSec;
  return e;
}

RedfishClient::RedfishClient(RedfishEndpoint endpoint, std::string owner)
    : e_(std::move(endpoint)), owner_(std::move(owner)) {}

RedfishClient::~RedfishClient() = default;

std::string RedfishClient::Fail(const std::string& what, int status, const std::string& body) const {
  return owner_ + " on " + where() + ": " + what + " answered " + std::to_string(status) +
         (body.empty() ? "" : ": " + ErrorText(body));
}

Status RedfishClient::Connect() {
  if (!token_.empty() && !reset_target_.empty()) return Status::Ok();
  if (!client_) {
    auto c = NewRestClient(e_.url, e_.tls_verify, e_.ca_file, e_.timeout_ns);
    if (!c) return Status::InvalidInput(owner_ + ": bad url \"" + e_.url + "\"");
    client_ = std::move(c);
  }
  if (e_.password.empty())
    return Status::InvalidInput(owner_ + " on " + where() + ": no BMC password (password_env is not set)");
  if (token_.empty()) {
    json body = {{"UserName", e_.user}, {"Password", e_.password}};
    auto res = client_->Post(kSessions, body.dump(), "application/json");
    if (!res) return Status::Unavailable(owner_ + " on " + where() + ": login: " + httplib::to_string(res.error()));
    if (res->status != 201 && res->status != 200)
      return Status::Unavailable(Fail("POST " + std::string(kSessions), res->status, res->body));
    token_ = res->get_header_value("X-Auth-Token");
    session_ = res->get_header_value("Location");
    if (token_.empty())
      return Status::Unavailable(owner_ + " on " + where() + ": login answered no X-Auth-Token header");
    if (session_.rfind("http", 0) == 0) session_ = session_.substr(session_.find('/', session_.find("//") + 2));
  }
  auto systems = Get(kSystems);
  if (!systems.ok()) return systems.status();
  std::vector<std::string> members;
  if (systems->contains("Members") && (*systems)["Members"].is_array()) {
    for (const auto& m : (*systems)["Members"]) {
      if (m.is_object() && m.contains("@odata.id") && m["@odata.id"].is_string()) members.push_back(m["@odata.id"]);
    }
  }
  system_path_.clear();
  for (const auto& m : members) {
    std::string id = m.substr(m.find_last_of('/') + 1);
    if (e_.system.empty() ? members.size() == 1 : id == e_.system) system_path_ = m;
  }
  if (system_path_.empty()) {
    std::string names;
    for (const auto& m : members) names += (names.empty() ? "" : ", ") + m.substr(m.find_last_of('/') + 1);
    return Status::InvalidInput(owner_ + " on " + where() + ": " +
                                (e_.system.empty() ? "the BMC has " + std::to_string(members.size()) +
                                                         " systems (" + names + "): name one with system:"
                                                   : "no system \"" + e_.system + "\" (it has " + names + ")"));
  }
  auto sys = Get(system_path_);
  if (!sys.ok()) return sys.status();
  const json actions = sys->value("Actions", json::object());
  const json reset = actions.is_object() ? actions.value("#ComputerSystem.Reset", json::object()) : json::object();
  reset_target_ = reset.is_object() ? reset.value("target", std::string()) : "";
  if (reset_target_.empty())
    return Status::Unavailable(owner_ + " on " + where() + ": " + system_path_ + " offers no ComputerSystem.Reset");
  return Status::Ok();
}

Result<json> RedfishClient::Get(const std::string& path) {
  auto res = client_->Get(path, {{"X-Auth-Token", token_}});
  if (!res) return Status::Unavailable(owner_ + " on " + where() + ": GET " + path + ": " + httplib::to_string(res.error()));
  if (res->status == 401) token_.clear();
  if (res->status != 200) return Status::Unavailable(Fail("GET " + path, res->status, res->body));
  json j = json::parse(res->body, nullptr, false);
  if (!j.is_object()) return Status::Unavailable(owner_ + " on " + where() + ": GET " + path + ": not a JSON object");
  return j;
}

Result<std::string> RedfishClient::PowerState() {
  FB_RETURN_IF_ERROR(Connect());
  auto sys = Get(system_path_);
  if (!sys.ok()) return sys.status();
  std::string state = sys->value("PowerState", std::string());
  if (state.empty()) return Status::Unavailable(owner_ + " on " + where() + ": " + system_path_ + " has no PowerState");
  return state;
}

Status RedfishClient::Reset(const std::string& type) {
  FB_RETURN_IF_ERROR(Connect());
  json body = {{"ResetType", type}};
  auto res = client_->Post(reset_target_, {{"X-Auth-Token", token_}}, body.dump(), "application/json");
  if (!res)
    return Status::Unavailable(owner_ + " on " + where() + ": POST " + reset_target_ + ": " + httplib::to_string(res.error()));
  if (res->status != 200 && res->status != 202 && res->status != 204)
    return Status::Unavailable(Fail("POST " + reset_target_ + " {\"ResetType\": \"" + type + "\"}", res->status, res->body));
  return Status::Ok();
}

void RedfishClient::Logout() {
  if (!client_ || token_.empty() || session_.empty()) return;
  (void)client_->Delete(session_, {{"X-Auth-Token", token_}});
  token_.clear();
  session_.clear();
}

}  // namespace fb
