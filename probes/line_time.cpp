#include "probes/line_time.h"

#include <ctime>
#include <nlohmann/json.hpp>
#include <regex>

#include "core/clock.h"

namespace fb {

namespace {

int64_t FractionNs(const std::string& frac, int64_t* resolution_ns) {
  // frac is ".123..." or "".
  int64_t ns = 0, scale = kNsPerSec;
  for (size_t i = 1; i < frac.size() && i <= 9; ++i) {
    scale /= 10;
    ns += (frac[i] - '0') * scale;
  }
  *resolution_ns = frac.size() > 1 ? scale : kNsPerSec;
  return ns;
}

int64_t UtcSeconds(int year, int mon0, int day, int h, int m, int s) {
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = mon0;
  tm.tm_mday = day;
  tm.tm_hour = h;
  tm.tm_min = m;
  tm.tm_sec = s;
  return int64_t(timegm(&tm));
}

}  // namespace

std::optional<JournaldRecord> ParseJournaldRecord(const std::string& line) {
  if (line.empty() || line[0] != '{' || line.find("__REALTIME_TIMESTAMP") == std::string::npos)
    return std::nullopt;
  JournaldRecord r;
  r.fields = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!r.fields.is_object() || !r.fields.contains("__REALTIME_TIMESTAMP")) return std::nullopt;
  const nlohmann::json& t = r.fields["__REALTIME_TIMESTAMP"];
  int64_t us = 0;
  if (t.is_string()) {
    const std::string& s = t.get_ref<const std::string&>();
    if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != std::string::npos)
      return std::nullopt;
    us = std::stoll(s);
  } else if (t.is_number_integer()) {
    us = t.get<int64_t>();
  } else {
    return std::nullopt;
  }
  r.time = LineTime{us * kNsPerUs, kNsPerUs, "journald"};
  auto m = r.fields.find("MESSAGE");
  if (m != r.fields.end() && m->is_string()) {
    r.message = m->get<std::string>();
  } else if (m != r.fields.end() && m->is_array()) {
    for (const auto& b : *m) {
      if (b.is_number_unsigned() && b.get<unsigned>() < 256) r.message += char(b.get<unsigned>());
    }
  }
  return r;
}

std::optional<LineTime> ParseLineTime(const std::string& line, int64_t now_utc_ns, std::string* message) {
  if (auto j = ParseJournaldRecord(line)) {
    if (j->fields.contains("MESSAGE")) *message = j->message;
    return j->time;
  }
  // faultbench's own JSON lines (the lab's events.jsonl, journals): the object's
  // keys are sorted, so its time is not at the start; the text to match stays the line.
  if (!line.empty() && line[0] == '{' && line.find("\"t_utc_ns\":") != std::string::npos) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && j.contains("t_utc_ns") && j["t_utc_ns"].is_number_integer()) {
      return LineTime{j["t_utc_ns"].get<int64_t>(), 1, "t_utc_ns"};
    }
  }
  static const std::regex kIso(
      R"(^\[?(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)?)");
  static const std::regex kSyslog(
      R"(^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ([ \d]\d) (\d\d):(\d\d):(\d\d)(\.\d+)?)");
  std::smatch m;
  if (std::regex_search(line, m, kIso)) {
    LineTime t{0, 0, "iso8601"};
    int64_t sec = UtcSeconds(std::stoi(m[1]), std::stoi(m[2]) - 1, std::stoi(m[3]), std::stoi(m[4]),
                             std::stoi(m[5]), std::stoi(m[6]));
    std::string zone = m[8].str();
    if (zone.size() > 1) {
      int sign = zone[0] == '-' ? -1 : 1;
      std::string digits = zone.substr(1);
      if (digits.size() == 5) digits.erase(2, 1);
      sec -= sign * (std::stoi(digits.substr(0, 2)) * 3600 + std::stoi(digits.substr(2, 2)) * 60);
    }
    t.utc_ns = sec * kNsPerSec + FractionNs(m[7].str(), &t.resolution_ns);
    return t;
  }
  if (std::regex_search(line, m, kSyslog)) {
    static const std::string kMonths = "JanFebMarAprMayJunJulAugSepOctNovDec";
    int mon0 = int(kMonths.find(m[1].str()) / 3);
    std::string day = m[2].str();
    if (day[0] == ' ') day.erase(0, 1);
    time_t now_s = time_t(now_utc_ns / kNsPerSec);
    std::tm now_tm{};
    gmtime_r(&now_s, &now_tm);
    LineTime t{0, 0, "syslog"};
    int64_t frac = FractionNs(m[6].str(), &t.resolution_ns);
    // Syslog has no year: a line from "Dec 31" read on Jan 1 is from last year.
    for (int year = now_tm.tm_year + 1900 + 1; year >= now_tm.tm_year + 1900 - 1; --year) {
      int64_t sec = UtcSeconds(year, mon0, std::stoi(day), std::stoi(m[3]), std::stoi(m[4]), std::stoi(m[5]));
      t.utc_ns = sec * kNsPerSec + frac;
      if (t.utc_ns <= now_utc_ns + 86400 * kNsPerSec) return t;
    }
    return t;
  }
  return std::nullopt;
}

}  // namespace fb
