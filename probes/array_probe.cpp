#include "probes/array_probe.h"

#include <httplib.h>

#include <cstdlib>
#include <fstream>
#include <map>

#include "core/clock.h"
#include "probes/probe_base.h"

namespace fb {

namespace {

using nlohmann::json;

constexpr const char* kPrefix = "/api/2.42";

struct Config {
  std::string name, url, token, token_source;
  int64_t interval_ns = 0, timeout_ns = 0;
};

std::string Str(const json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

class ArrayProbe : public ProbeBase {
 public:
  explicit ArrayProbe(Config c) : ProbeBase(c.name), c_(std::move(c)) {}
  ~ArrayProbe() override { Stop(); }

 private:
  Status Setup() override {
    client_ = std::make_unique<httplib::Client>(c_.url);
    if (!client_->is_valid())
      return Status::InvalidInput("probe " + c_.name + ": bad url \"" + c_.url + "\"");
    auto to = std::chrono::nanoseconds(c_.timeout_ns);
    client_->set_connection_timeout(std::chrono::duration_cast<std::chrono::microseconds>(to));
    client_->set_read_timeout(std::chrono::duration_cast<std::chrono::microseconds>(to));
    client_->set_write_timeout(std::chrono::duration_cast<std::chrono::microseconds>(to));
    return Status::Ok();
  }

  void Run() override {
    int64_t next = MonoNs();
    while (!WaitStop(next - MonoNs())) {
      next += c_.interval_ns;
      if (next < MonoNs()) next = MonoNs() + c_.interval_ns;  // fell behind: skip, do not burst
      Poll();
    }
    if (!session_.empty())
      client_->Post(std::string(kPrefix) + "/logout", {{"x-auth-token", session_}}, "", "");
  }

  void Poll() {
    int64_t start = MonoNs();
    auto pods = Get("/pods");
    auto conns = pods.ok() ? Get("/array-connections") : pods;
    auto alerts = conns.ok() ? Get("/alerts") : conns;
    int64_t now = MonoNs();
    if (!alerts.ok()) {
      if (blind_since_ == 0) {
        blind_since_ = start;
        Emit(now, "probe_error", Severity::kWarning, alerts.status().message(), {});
      }
      return;
    }
    if (blind_since_ != 0) {
      Emit(now, "probe_recovered", Severity::kInfo, "probe " + c_.name + ": " + c_.url + " answers again",
           {{"blind_ms", double(now - blind_since_) / double(kNsPerMs)}});
      blind_since_ = 0;
    }
    window_ms_ = last_poll_ == 0 ? 0 : double(now - last_poll_) / double(kNsPerMs);
    bool first = last_poll_ == 0;
    last_poll_ = now;
    Pods(*pods, now, first);
    Connections(*conns, now, first);
    Alerts(*alerts, now, first);
  }

  void Decorate(const std::string& kind, json* attrs) const override {
    (*attrs)["url"] = c_.url;
    if (kind != "probe_error" && kind != "probe_recovered") (*attrs)["window_ms"] = window_ms_;
  }

  Status Login() {
    auto res = client_->Post(std::string(kPrefix) + "/login", {{"api-token", c_.token}}, "", "");
    if (!res)
      return Status::IoError("probe " + c_.name + ": login to " + c_.url + ": " +
                             httplib::to_string(res.error()));
    std::string session = res->get_header_value("x-auth-token");
    if (res->status != 200 || session.empty()) {
      return Status::IoError("probe " + c_.name + ": login to " + c_.url + " answered " +
                             std::to_string(res->status) + " " + res->body.substr(0, 200));
    }
    session_ = session;
    return Status::Ok();
  }

  // GET an item list; logs in first when needed and once more on a 401.
  Result<json> Get(const std::string& path) {
    std::string url = c_.url + kPrefix + path;
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (session_.empty()) FB_RETURN_IF_ERROR(Login());
      auto res = client_->Get(std::string(kPrefix) + path, {{"x-auth-token", session_}});
      if (!res)
        return Status::IoError("probe " + c_.name + ": GET " + url + ": " + httplib::to_string(res.error()));
      if (res->status == 401) {
        session_.clear();
        continue;
      }
      if (res->status != 200) {
        return Status::IoError("probe " + c_.name + ": GET " + url + " answered " +
                               std::to_string(res->status) + " " + res->body.substr(0, 200));
      }
      json body = json::parse(res->body, nullptr, false);
      if (body.is_discarded() || !body.contains("items") || !body["items"].is_array()) {
        return Status::IoError("probe " + c_.name + ": GET " + url + ": not an item list");
      }
      return body["items"];
    }
    return Status::IoError("probe " + c_.name + ": GET " + url + ": 401 again after a fresh login");
  }

  void Pods(const json& items, int64_t now, bool first) {
    for (const json& pod : items) {
      std::string pod_name = Str(pod, "name");
      if (!pod.contains("arrays") || !pod["arrays"].is_array()) continue;
      std::map<std::string, std::string>& prev = pod_status_[pod_name];
      std::map<std::string, std::string> cur;
      for (const json& a : pod["arrays"]) cur[Str(a, "name")] = Str(a, "status");
      if (!first) PodChanges(pod_name, pod["arrays"], prev, cur, now);
      prev = std::move(cur);
    }
  }

  void PodChanges(const std::string& pod, const json& arrays, const std::map<std::string, std::string>& prev,
                  const std::map<std::string, std::string>& cur, int64_t now) {
    auto all_online = [](const std::map<std::string, std::string>& m) {
      for (const auto& [n, s] : m)
        if (s != "online") return false;
      return !m.empty();
    };
    json statuses = cur;
    if (all_online(prev) && !all_online(cur)) {
      Emit(now, "replication_down", Severity::kError, "pod " + pod + ": a member left online",
           {{"pod", pod}, {"status", statuses}});
    }
    std::string stayed;
    for (const auto& [n, s] : cur)
      if (s == "online") stayed = n;
    for (const json& a : arrays) {
      std::string n = Str(a, "name"), s = Str(a, "status");
      auto it = prev.find(n);
      std::string was = it == prev.end() ? "" : it->second;
      if (s == was) continue;
      json attrs = {{"pod", pod}, {"array", n}, {"status", s}, {"previous", was}, {"raw", a}};
      if (s == "offline") {
        attrs["frozen_at"] = a.value("frozen_at", json(nullptr));
        Emit(now, "mediator_lost", Severity::kError, "pod " + pod + ": " + n + " went offline", attrs);
        if (!stayed.empty()) {
          Emit(now, "mediator_won", Severity::kWarning, "pod " + pod + ": " + stayed + " stayed online",
               {{"pod", pod}, {"array", stayed}, {"loser", n}});
        }
      } else if (s == "resyncing") {
        attrs["progress"] = a.value("progress", json(nullptr));
        Emit(now, "resync_start", Severity::kInfo, "pod " + pod + ": " + n + " resyncing", attrs);
      } else if (was == "resyncing") {
        Emit(now, "resync_done", Severity::kInfo, "pod " + pod + ": " + n + " " + s + " after resync", attrs);
      }
    }
    if (!all_online(prev) && all_online(cur)) {
      Emit(now, "replication_up", Severity::kInfo, "pod " + pod + ": every member online",
           {{"pod", pod}, {"status", statuses}});
    }
  }

  void Connections(const json& items, int64_t now, bool first) {
    for (const json& c : items) {
      std::string n = Str(c, "name"), s = Str(c, "status");
      std::string& was = conn_status_[n];
      if (!first && s != was) {
        Emit(now, "array_connection", s == "connected" ? Severity::kInfo : Severity::kWarning,
             "array connection " + n + ": " + was + " -> " + s,
             {{"connection", n}, {"status", s}, {"previous", was}});
      }
      was = s;
    }
  }

  void Alerts(const json& items, int64_t now, bool first) {
    for (const json& a : items) {
      std::string id =
          a.contains("id") ? (a["id"].is_string() ? a["id"].get<std::string>() : a["id"].dump()) : "";
      std::string state = Str(a, "state");
      auto it = alert_state_.find(id);
      bool changed = it == alert_state_.end() || it->second != state;
      alert_state_[id] = state;
      if (first || !changed) continue;
      std::string sev = Str(a, "severity");
      Emit(now, "alert",
           sev == "critical"  ? Severity::kCritical
           : sev == "warning" ? Severity::kWarning
                              : Severity::kInfo,
           "array alert " + id + " (" + state + "): " + Str(a, "summary"),
           {{"alert_id", id}, {"state", state}, {"raw", a}});
    }
  }

  Config c_;
  std::unique_ptr<httplib::Client> client_;
  std::string session_;
  int64_t last_poll_ = 0, blind_since_ = 0;
  double window_ms_ = 0;
  std::map<std::string, std::map<std::string, std::string>> pod_status_;
  std::map<std::string, std::string> conn_status_, alert_state_;
};

}  // namespace

std::unique_ptr<Probe> NewArrayProbe(const std::string& name, Settings* s) {
  Config c;
  c.name = name;
  c.url = s->String("url", /*required=*/true);
  if (!c.url.empty() && c.url.rfind("http://", 0) != 0 && c.url.rfind("https://", 0) != 0) {
    s->Problem("url", "must start with http:// or https://");
  }
  while (!c.url.empty() && c.url.back() == '/') c.url.pop_back();
  c.interval_ns = s->DurationNs("interval", 500 * kNsPerMs);
  if (c.interval_ns < 10 * kNsPerMs) s->Problem("interval", "must be at least 10ms");
  c.timeout_ns = s->DurationNs("timeout", 2 * kNsPerSec);
  std::string token = s->String("api_token");
  std::string file = s->String("api_token_file");
  std::string env = s->String("api_token_env", false, "FB_ARRAY_API_TOKEN");
  if (!token.empty() && !file.empty())
    s->Problem("api_token_file", "give api_token or api_token_file, not both");
  if (token.empty() && !file.empty()) {
    // Read at construction so a missing file is a plan problem, not a run failure.
    std::ifstream f(file);
    if (!f) s->Problem("api_token_file", "cannot read \"" + file + "\"");
    std::getline(f, token);
  }
  if (token.empty()) {
    const char* v = std::getenv(env.c_str());
    if (v) token = v;
  }
  if (token.empty()) s->Problem("api_token", "no API token (api_token, api_token_file, or $" + env + ")");
  c.token = token;
  return std::make_unique<ArrayProbe>(std::move(c));
}

}  // namespace fb
