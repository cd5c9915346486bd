// Helpers of the HA simulator's tests (ha_sim_node_test, pool_ha_test): an
// EventSink that keeps what the xapi probe emits (thread-safe), and that probe
// with short timeouts.
#pragma once

#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "injectors/settings.h"
#include "probes/probe.h"

namespace fb::lab {

class HaTestSink : public EventSink {
 public:
  void Emit(Event e) override {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(std::move(e));
  }
  std::vector<Event> Of(const std::string& kind) {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Event> out;
    for (const Event& e : events_)
      if (e.kind == kind) out.push_back(e);
    return out;
  }
  // The first event of `kind` whose attrs[key] is `value`.
  std::optional<Event> First(const std::string& kind, const std::string& key, const std::string& value) {
    for (const Event& e : Of(kind))
      if (e.attrs.value(key, "") == value) return e;
    return std::nullopt;
  }
  // Every kind in arrival order, for a failed check's message.
  std::string Kinds() {
    std::lock_guard<std::mutex> lock(mu_);
    std::string k;
    for (const Event& e : events_) k += e.kind + " ";
    return k;
  }

 private:
  std::mutex mu_;
  std::vector<Event> events_;
};

// An xapi probe on `url` then `fallback_urls`, the password from password_env,
// short timeouts (a dead master is noticed within about 1.5 s). Null with the
// settings' problems in *problems when it cannot be made.
inline std::unique_ptr<Probe> HaTestXapiProbe(const std::string& url,
                                              const std::vector<std::string>& fallback_urls,
                                              const std::string& password_env, std::string* problems) {
  RegisterBuiltinProbes();
  Settings s(nlohmann::json{{"url", url},
                            {"fallback_urls", fallback_urls},
                            {"password_env", password_env},
                            {"poll_timeout", "1s"},
                            {"timeout", "500ms"},
                            {"retry", "100ms"},
                            {"retry_max", "300ms"}});
  auto probe = ProbeRegistry::Global().Create("xapi", "xapi", &s);
  for (const auto& p : s.problems()) *problems += p.key + ": " + p.message + "; ";
  return s.problems().empty() ? std::move(probe) : nullptr;
}

}  // namespace fb::lab
