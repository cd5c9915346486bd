// A BMC's Redfish service (DMTF DSP0266, docs/platform.md "BMCs"): a session
// (POST /redfish/v1/SessionService/Sessions {UserName, Password} -> 201 with
// X-Auth-Token and Location; DELETE the Location to log out), the computer
// system (GET /redfish/v1/Systems -> Members[]), its PowerState, and its
// ComputerSystem.Reset action (the target the system resource names). Errors
// carry the HTTP status and the messages of error.@Message.ExtendedInfo[].
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/status.h"
#include "plugin/settings.h"

namespace httplib {
class Client;
}

namespace fb {

struct RedfishEndpoint {
  std::string url;   // http(s)://host[:port], no path
  std::string user;
  std::string password;  // never logged
  std::string system;    // the Systems member's Id; "" = the only one
  std::string ca_file;
  bool tls_verify = true;
  int64_t timeout_ns = 10 * kNsPerSec;  // per request
};

// Reads url, user, password_env (FB_BMC_PASSWORD) | password_file, system,
// tls_verify (true), ca_file, timeout (10s); a literal password is refused.
RedfishEndpoint RedfishEndpointFromSettings(Settings* settings);

class RedfishClient {
 public:
  // `owner` starts error messages ("injector power").
  RedfishClient(RedfishEndpoint endpoint, std::string owner);
  ~RedfishClient();
  RedfishClient(const RedfishClient&) = delete;
  RedfishClient& operator=(const RedfishClient&) = delete;

  // Logs in (once) and finds the system and its Reset target.
  Status Connect();
  // "On", "Off", "PoweringOn", "PoweringOff".
  Result<std::string> PowerState();
  // POST ComputerSystem.Reset {"ResetType": type}; an unknown type is refused
  // by the service (its AllowableValues are named in the error).
  Status Reset(const std::string& type);
  // Best effort: DELETE the session.
  void Logout();

  std::string where() const { return "bmc " + e_.url; }

 private:
  Result<nlohmann::json> Get(const std::string& path);
  std::string Fail(const std::string& what, int status, const std::string& body) const;

  RedfishEndpoint e_;
  std::string owner_;
  std::unique_ptr<httplib::Client> client_;
  std::string token_, session_, system_path_, reset_target_;
};

}  // namespace fb
