// A fake FlashArray for tests that cannot start the lab: the REST 2.42 shapes of
// docs/platform.md, as the lab's array simulator serves them (lab/site_api.cpp):
// `POST /api/2.42/login` with header `api-token` (the token "secret") answers
// `x-auth-token`; every list (`pods`, `array-connections`, `alerts`) without a
// valid session is 401 with `{"errors":[{context, message}]}`; lists are
// `{items, continuation_token, more_items_remaining, total_item_count}`.
// One listener on 127.0.0.1 and a free port. Thread-safe.
#pragma once

#include <httplib.h>

#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>

namespace fb {

class FakeFlashArray {
 public:
  FakeFlashArray();
  ~FakeFlashArray();
  FakeFlashArray(const FakeFlashArray&) = delete;
  FakeFlashArray& operator=(const FakeFlashArray&) = delete;

  int port() const { return port_; }

  // Pod "fb-pod" with arrays site-a (status a) and site-b (status b, frozen_at and
  // progress as given: null or a number).
  void SetArrays(const std::string& a, const std::string& b, nlohmann::json frozen_b,
                 nlohmann::json progress_b);
  // The one array connection's status: connected|connecting|partially_connected|unbalanced.
  void SetConnection(const std::string& status);
  // An open warning alert with this id.
  void AddAlert(int id);
  // Lists answer at most n items a page, with a continuation_token for the next
  // (0 = every item at once, the default).
  void SetPageSize(int n);
  // Every session token is forgotten: the next list call is a 401.
  void DropSessions();
  int logins();
  // Alert lists served: the last request of each of the array probe's polls.
  int alert_lists();

 private:
  httplib::Server srv_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mu_;
  nlohmann::json pod_, alerts_ = nlohmann::json::array();
  std::string conn_ = "connected";
  std::set<std::string> sessions_;
  int logins_ = 0;
  int alert_lists_ = 0;
  int page_size_ = 0;
};

}  // namespace fb
