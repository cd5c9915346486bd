// Timestamps found at the start of a log line: syslog ("Nov 22 03:49:42", read as
// UTC, the year being the one that puts it closest before `now_utc_ns` + 1 day),
// ISO 8601 ("2026-11-22T03:49:42.123Z", "+01:00" offsets honoured, no zone = UTC),
// journald's JSON export (`journalctl -o json`: __REALTIME_TIMESTAMP in µs, and
// the text to match is its MESSAGE), or a JSON object with an integer `t_utc_ns`
// anywhere in it (faultbench's own JSON lines, e.g. the lab's events.jsonl).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace fb {

struct LineTime {
  int64_t utc_ns = 0;
  int64_t resolution_ns = 0;  // 1 s for "03:49:42", 1 ms for ".123", ...
  std::string format;         // "syslog", "iso8601", "journald"
};

// The line's own timestamp, if it starts with one. For a journald JSON line,
// `message` receives its MESSAGE field (untouched otherwise).
std::optional<LineTime> ParseLineTime(const std::string& line, int64_t now_utc_ns, std::string* message);

// One record of journald's JSON export: an object with __REALTIME_TIMESTAMP
// (microseconds, a string of digits as journalctl writes it, or a number).
// MESSAGE is text; journald writes a non-UTF-8 MESSAGE as an array of bytes,
// which is decoded here. `fields` holds the whole record.
struct JournaldRecord {
  LineTime time;
  std::string message;
  nlohmann::json fields;
};
std::optional<JournaldRecord> ParseJournaldRecord(const std::string& line);

}  // namespace fb
