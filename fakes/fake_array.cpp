#include "fakes/fake_array.h"

#include <algorithm>
#include <chrono>
#include <functional>

namespace fb {

namespace {

using nlohmann::json;

// One page of `items` from the offset a continuation token "offset-N" names.
json List(const json& items, int page_size, const std::string& continuation) {
  size_t n = items.size();
  size_t from = continuation.rfind("offset-", 0) == 0 ? std::stoul(continuation.substr(7)) : 0;
  size_t to = page_size > 0 ? std::min(n, from + size_t(page_size)) : n;
  json page = json::array();
  for (size_t i = from; i < to; ++i) page.push_back(items[i]);
  bool more = to < n;
  return {{"items", std::move(page)},
          {"continuation_token", more ? json("offset-" + std::to_string(to)) : json(nullptr)},
          {"more_items_remaining", more},
          {"total_item_count", n}};
}

}  // namespace

FakeFlashArray::FakeFlashArray() {
  SetArrays("online", "online", json(nullptr), json(nullptr));
  srv_.Post("/api/2.42/login", [this](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mu_);
    if (req.get_header_value("api-token") != "secret") {
      res.status = 401;
      res.set_content(R"({"errors":[{"context":"/api/2.42/login","message":"Invalid api-token."}]})",
                      "application/json");
      return;
    }
    std::string s = "session-" + std::to_string(++logins_);
    sessions_.insert(s);
    res.set_header("x-auth-token", s);
    res.set_content(List(json::array({{{"username", "pureuser"}}}), 0, "").dump(), "application/json");
  });
  auto list = [this](const std::string& path, std::function<json()> items) {
    srv_.Get(path, [this, items](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!sessions_.count(req.get_header_value("x-auth-token"))) {
        res.status = 401;
        res.set_content(R"({"errors":[{"context":"x","message":"Missing or invalid x-auth-token header."}]})",
                        "application/json");
        return;
      }
      res.set_content(List(items(), page_size_, req.get_param_value("continuation_token")).dump(),
                      "application/json");
    });
  };
  list("/api/2.42/pods", [this] { return json::array({pod_}); });
  list("/api/2.42/array-connections", [this] {
    return json::array({{{"name", "site-b"}, {"status", conn_}, {"type", "sync-replication"}}});
  });
  list("/api/2.42/alerts", [this] {
    ++alert_lists_;
    return alerts_;
  });
  port_ = srv_.bind_to_any_port("127.0.0.1");
  thread_ = std::thread([this] { srv_.listen_after_bind(); });
}

FakeFlashArray::~FakeFlashArray() {
  // stop() before listen began would be lost: wait for the server to run first.
  for (int i = 0; i < 500 && !srv_.is_running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  srv_.stop();
  thread_.join();
}

void FakeFlashArray::SetArrays(const std::string& a, const std::string& b, json frozen_b, json progress_b) {
  std::lock_guard<std::mutex> lock(mu_);
  auto arr = [](const std::string& n, const std::string& st, json frozen, json progress) {
    return json{
        {"id", "fb-lab-" + n},  {"name", n},           {"status", st},         {"mediator_status", "online"},
        {"pre_elected", false}, {"frozen_at", frozen}, {"progress", progress}, {"member", {{"name", n}}}};
  };
  pod_ = {
      {"name", "fb-pod"},
      {"arrays", json::array({arr("site-a", a, nullptr, nullptr), arr("site-b", b, frozen_b, progress_b)})}};
}

void FakeFlashArray::SetConnection(const std::string& status) {
  std::lock_guard<std::mutex> lock(mu_);
  conn_ = status;
}

void FakeFlashArray::AddAlert(int id) {
  std::lock_guard<std::mutex> lock(mu_);
  alerts_.push_back({{"id", std::to_string(id)},
                     {"name", std::to_string(id)},
                     {"code", 0},
                     {"category", "array"},
                     {"severity", "warning"},
                     {"state", "open"},
                     {"summary", "replication link down"}});
}

void FakeFlashArray::SetPageSize(int n) {
  std::lock_guard<std::mutex> lock(mu_);
  page_size_ = n;
}

void FakeFlashArray::DropSessions() {
  std::lock_guard<std::mutex> lock(mu_);
  sessions_.clear();
}

int FakeFlashArray::logins() {
  std::lock_guard<std::mutex> lock(mu_);
  return logins_;
}

int FakeFlashArray::alert_lists() {
  std::lock_guard<std::mutex> lock(mu_);
  return alert_lists_;
}

}  // namespace fb
