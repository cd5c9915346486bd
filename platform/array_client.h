// A client of a FlashArray's REST 2.x API (docs/platform.md): `POST
// /api/2.42/login` with header `api-token` answers a session in `x-auth-token`,
// which every later call carries; a 401 logs in again once; lists are
// `{items, continuation_token, more_items_remaining, total_item_count}` and are
// followed to their last page. One client for the array probe
// (probes/array_probe.cpp) and `faultbench discover` (qualify/). Messages name
// the URL and the path, never the token.
//
// Thread-safety: one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "core/clock.h"
#include "core/status.h"
#include "plugin/settings.h"

namespace httplib {
class Client;
}

namespace fb {

struct ArrayEndpoint {
  std::string url;    // http(s)://host[:port], no path
  std::string token;  // the API token; never logged
  std::string ca_file;
  bool tls_verify = true;
  int64_t timeout_ns = 2 * kNsPerSec;  // per request
};

// Reads url, api_token_env (FB_ARRAY_API_TOKEN) | api_token_file | api_token,
// tls_verify (true), ca_file, timeout (2s); problems go to `settings`.
ArrayEndpoint ArrayEndpointFromSettings(Settings* settings);

class ArrayClient {
 public:
  // `owner` starts error messages ("probe array-a", "discover").
  ArrayClient(ArrayEndpoint endpoint, std::string owner);
  ~ArrayClient();
  ArrayClient(const ArrayClient&) = delete;
  ArrayClient& operator=(const ArrayClient&) = delete;

  // Every item of a list (`pods`, `array-connections`, `volumes`, ...; the path
  // after /api/2.42/, with its query), all pages; logs in first when needed.
  Result<nlohmann::json> List(const std::string& path);
  // Best effort: ends the session (`POST /api/2.42/logout`).
  void Logout();

  const std::string& url() const { return e_.url; }

 private:
  Status Login();
  Status Ready();

  ArrayEndpoint e_;
  std::string owner_;
  std::unique_ptr<httplib::Client> client_;
  std::string session_;
};

}  // namespace fb
