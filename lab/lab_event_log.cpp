#include "lab/lab_event_log.h"

#include <cstdio>

#include "core/clock.h"

namespace fb::lab {

Status LabEventLog::Open(const std::string& path, const std::string& site, const std::string& source) {
  site_ = site;
  source_ = source;
  return writer_.Open(path);
}

Status LabEventLog::Emit(int64_t t_utc_ns, const std::string& kind, Severity severity,
                         const std::string& message, nlohmann::json attrs) {
  nlohmann::json rec = {{"t_utc_ns", t_utc_ns}, {"t", FormatUtcIso(t_utc_ns)},
                        {"source", source_},    {"site", site_},
                        {"kind", kind},         {"severity", SeverityName(severity)},
                        {"message", message},   {"attrs", std::move(attrs)}};
  std::fprintf(stderr, "%s %s %s: %s\n", FormatUtcIso(t_utc_ns, 6).c_str(), site_.c_str(), kind.c_str(),
               message.c_str());
  return writer_.Append(rec);
}

}  // namespace fb::lab
