// The xapi probe as the HA simulator's tests use it (ha_sim_node_test,
// pool_ha_test): short timeouts, so a dead master is noticed within about 1.5 s.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "plugin/settings.h"
#include "probes/probe.h"

namespace fb {

// An xapi probe on `url` then `fallback_urls`, the password from password_env.
// Null with the settings' problems in *problems when it cannot be made.
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

}  // namespace fb
