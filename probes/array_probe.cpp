#include "probes/array_probe.h"

#include <map>

#include "core/clock.h"
#include "platform/array_client.h"
#include "probes/probe_base.h"

namespace fb {

namespace {

using nlohmann::json;

struct Config {
  std::string name;
  ArrayEndpoint endpoint;
  int64_t interval_ns = 0;
};

std::string Str(const json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

class ArrayProbe : public ProbeBase {
 public:
  explicit ArrayProbe(Config c) : ProbeBase(c.name), c_(std::move(c)), array_(c_.endpoint, "probe " + c_.name) {}
  ~ArrayProbe() override { Stop(); }

  std::vector<std::string> EventKinds() const override {
    return {"replication_down", "replication_up", "resync_start", "resync_done", "mediator_lost",
            "mediator_won",     "array_connection", "alert",      "probe_error", "probe_recovered"};
  }

 private:
  void Run() override {
    int64_t next = MonoNs();
    while (!WaitStop(next - MonoNs())) {
      next += c_.interval_ns;
      if (next < MonoNs()) next = MonoNs() + c_.interval_ns;  // fell behind: skip, do not burst
      Poll();
    }
    array_.Logout();
  }

  void Poll() {
    int64_t start = MonoNs();
    auto pods = array_.List("pods");
    auto conns = pods.ok() ? array_.List("array-connections") : pods;
    auto alerts = conns.ok() ? array_.List("alerts") : conns;
    int64_t now = MonoNs();
    if (!alerts.ok()) {
      if (blind_since_ == 0) {
        blind_since_ = start;
        Emit(now, "probe_error", Severity::kWarning, alerts.status().message(), {});
      }
      return;
    }
    if (blind_since_ != 0) {
      Emit(now, "probe_recovered", Severity::kInfo, "probe " + c_.name + ": " + c_.endpoint.url + " answers again",
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
    (*attrs)["url"] = c_.endpoint.url;
    if (kind != "probe_error" && kind != "probe_recovered") (*attrs)["window_ms"] = window_ms_;
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
  ArrayClient array_;
  int64_t last_poll_ = 0, blind_since_ = 0;
  double window_ms_ = 0;
  std::map<std::string, std::map<std::string, std::string>> pod_status_;
  std::map<std::string, std::string> conn_status_, alert_state_;
};

}  // namespace

std::unique_ptr<Probe> NewArrayProbe(const std::string& name, Settings* s) {
  Config c;
  c.name = name;
  c.endpoint = ArrayEndpointFromSettings(s);
  c.interval_ns = s->DurationNs("interval", 500 * kNsPerMs);
  if (c.interval_ns < 10 * kNsPerMs) s->Problem("interval", "must be at least 10ms");
  return std::make_unique<ArrayProbe>(std::move(c));
}

}  // namespace fb
