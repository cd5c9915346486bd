// A normalized event on the run's timeline: {t, source, kind, severity, message,
// attrs}. `kind` comes from the small vocabulary in docs/design.md (fault_injected,
// path_failed, stall, io_error, ...); unknown source lines stay as kind "log".
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace fb {

enum class Severity { kDebug, kInfo, kWarning, kError, kCritical };
const char* SeverityName(Severity s);

struct Event {
  int64_t mono_ns = 0;  // when it happened, on this host's CLOCK_MONOTONIC
  std::string source;   // "loadgen", "runner", an injector or probe name
  std::string kind;
  Severity severity = Severity::kInfo;
  std::string message;
  nlohmann::json attrs = nlohmann::json::object();
};

}  // namespace fb
