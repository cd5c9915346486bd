#include "core/units.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <vector>

namespace fb {

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

// Reads an unsigned decimal number with an optional fraction ("1", "1.5", ".5").
// Returns the count of characters consumed, 0 if none.
size_t ReadNumber(std::string_view s, long double* out) {
  size_t i = 0;
  long double v = 0;
  bool digits = false;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
    v = v * 10 + (s[i] - '0');
    ++i;
    digits = true;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    long double scale = 0.1L;
    bool frac_digits = false;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
      v += (s[i] - '0') * scale;
      scale /= 10;
      ++i;
      frac_digits = true;
    }
    if (!frac_digits) return 0;
    digits = true;
  }
  if (!digits) return 0;
  *out = v;
  return i;
}

struct UnitDef {
  const char* name;
  long double factor;
};

constexpr UnitDef kSizeUnits[] = {
    {"", 1},          {"B", 1},
    {"k", 1024.0L},   {"K", 1024.0L},   {"Ki", 1024.0L},   {"KiB", 1024.0L},
    {"kB", 1e3L},     {"KB", 1e3L},
    {"m", 1048576.0L}, {"M", 1048576.0L}, {"Mi", 1048576.0L}, {"MiB", 1048576.0L},
    {"MB", 1e6L},
    {"g", 1073741824.0L}, {"G", 1073741824.0L}, {"Gi", 1073741824.0L}, {"GiB", 1073741824.0L},
    {"GB", 1e9L},
    {"t", 1099511627776.0L}, {"T", 1099511627776.0L}, {"Ti", 1099511627776.0L},
    {"TiB", 1099511627776.0L}, {"TB", 1e12L},
};

constexpr UnitDef kDurationUnits[] = {
    {"ns", 1}, {"us", 1e3L}, {"µs", 1e3L}, {"ms", 1e6L}, {"s", 1e9L}, {"m", 60e9L}, {"h", 3600e9L},
};

}  // namespace

Result<uint64_t> ParseSize(std::string_view text) {
  std::string_view s = Trim(text);
  if (s.empty()) return Status::InvalidInput("invalid size " + Quote(text) + ": empty");
  if (s.front() == '-') return Status::InvalidInput("invalid size " + Quote(text) + ": must not be negative");
  long double v;
  size_t n = ReadNumber(s, &v);
  if (n == 0) return Status::InvalidInput("invalid size " + Quote(text) + ": expected a number such as 4k, 64KiB or 10GiB");
  std::string_view unit = s.substr(n);
  for (const UnitDef& u : kSizeUnits) {
    if (unit == u.name) {
      long double bytes = v * u.factor;
      if (bytes > 1.8e19L) return Status::InvalidInput("invalid size " + Quote(text) + ": too large");
      long double whole = std::round(bytes);
      if (std::fabs(bytes - whole) > 1e-6L * std::max<long double>(1, bytes)) {
        return Status::InvalidInput("invalid size " + Quote(text) + ": not a whole number of bytes");
      }
      return static_cast<uint64_t>(whole);
    }
  }
  return Status::InvalidInput("invalid size " + Quote(text) + ": unknown unit " + Quote(unit) +
                              " (use B, k/KiB, M/MiB, G/GiB, T/TiB, or KB/MB/GB/TB for powers of 1000)");
}

Result<int64_t> ParseDuration(std::string_view text) {
  std::string_view s = Trim(text);
  if (s.empty()) return Status::InvalidInput("invalid duration " + Quote(text) + ": empty");
  if (s.front() == '-') return Status::InvalidInput("invalid duration " + Quote(text) + ": must not be negative");
  long double total = 0;
  while (!s.empty()) {
    long double v;
    size_t n = ReadNumber(s, &v);
    if (n == 0) return Status::InvalidInput("invalid duration " + Quote(text) + ": expected a number with a unit such as 250ms, 90s, 2m or 1h");
    s.remove_prefix(n);
    size_t u = 0;
    while (u < s.size() && !std::isdigit(static_cast<unsigned char>(s[u])) && s[u] != '.') ++u;
    std::string_view unit = s.substr(0, u);
    s.remove_prefix(u);
    if (unit.empty()) return Status::InvalidInput("invalid duration " + Quote(text) + ": missing unit (ns, us, ms, s, m, h), e.g. \"60s\"");
    const UnitDef* found = nullptr;
    for (const UnitDef& d : kDurationUnits) {
      if (unit == d.name) found = &d;
    }
    if (!found) return Status::InvalidInput("invalid duration " + Quote(text) + ": unknown unit " + Quote(unit) + " (use ns, us, ms, s, m, h)");
    total += v * found->factor;
  }
  if (total > 9.2e18L) return Status::InvalidInput("invalid duration " + Quote(text) + ": too large");
  return static_cast<int64_t>(std::llround(total));
}

Result<double> ParsePercent(std::string_view text) {
  std::string_view s = Trim(text);
  if (!s.empty() && s.back() == '%') s.remove_suffix(1);
  long double v;
  size_t n = ReadNumber(s, &v);
  if (n == 0 || n != s.size()) return Status::InvalidInput("invalid percentage " + Quote(text) + ": expected a number from 0 to 100");
  if (v > 100) return Status::InvalidInput("invalid percentage " + Quote(text) + ": more than 100");
  return static_cast<double>(v / 100);
}

std::string FormatSize(uint64_t bytes) {
  static const char* kNames[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int i = 0;
  uint64_t v = bytes;
  while (i < 5 && v >= 1024 && v % 1024 == 0) {
    v /= 1024;
    ++i;
  }
  if (v < 1024 || i == 5) return std::to_string(v) + kNames[i];
  double d = double(bytes);
  i = 0;
  while (i < 5 && d >= 1024) {
    d /= 1024;
    ++i;
  }
  char buf[32];
  snprintf(buf, sizeof buf, "%.2f%s", d, kNames[i]);
  return buf;
}

std::string FormatDuration(int64_t ns) {
  char buf[48];
  const char* sign = ns < 0 ? "-" : "";
  int64_t a = ns < 0 ? -ns : ns;
  if (a < 1000) {
    snprintf(buf, sizeof buf, "%s%lldns", sign, (long long)a);
  } else if (a < 1000000) {
    snprintf(buf, sizeof buf, "%s%.3gus", sign, a / 1e3);
  } else if (a < 1000000000) {
    snprintf(buf, sizeof buf, "%s%.4gms", sign, a / 1e6);
  } else if (a < 60 * 1000000000LL) {
    snprintf(buf, sizeof buf, "%s%.3fs", sign, a / 1e9);
  } else {
    int64_t secs = a / 1000000000LL;
    if (secs < 3600) {
      snprintf(buf, sizeof buf, "%s%lldm%02llds", sign, (long long)(secs / 60), (long long)(secs % 60));
    } else {
      snprintf(buf, sizeof buf, "%s%lldh%02lldm%02llds", sign, (long long)(secs / 3600),
               (long long)(secs / 60 % 60), (long long)(secs % 60));
    }
  }
  return buf;
}

}  // namespace fb
