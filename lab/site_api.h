// A site's HTTP API in the FlashArray REST 2.42 shapes of docs/platform.md, served
// by the site's simulator on its path address. Only what the lab simulates:
// api_version, login/logout, pods, array-connections (and /path), alerts,
// network-interfaces (GET, and PATCH enabled=false|true on repl0,
// which really takes the link down or up).
#pragma once

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "core/status.h"
#include "lab/array_site.h"

namespace httplib {
class Server;
}

namespace fb::lab {

inline constexpr const char* kApiVersion = "2.42";
// The stretched LUN's volume serial (24 hex digits, as a FlashArray's).
inline constexpr const char* kLabLunSerial = "FB0000000000000000000001";

class SiteApi {
 public:
  // api_token is what POST /api/2.42/login accepts in its api-token header.
  SiteApi(ArraySite* site, std::string api_token);
  ~SiteApi();
  SiteApi(const SiteApi&) = delete;
  SiteApi& operator=(const SiteApi&) = delete;

  // Binds addr:port and serves on a thread of its own until Stop().
  Status Start(const std::string& addr, int port);
  void Stop();

 private:
  void Routes();
  bool Authorized(const std::string& session);

  ArraySite* site_;
  std::string api_token_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::mutex mu_;
  std::set<std::string> sessions_;
};

}  // namespace fb::lab
