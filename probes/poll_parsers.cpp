#include "probes/poll_parsers.h"

#include <dirent.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <set>
#include <sstream>

namespace fb::poll_parsers {

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::vector<std::string> Words(const std::string& line) {
  std::vector<std::string> w;
  std::istringstream in(line);
  for (std::string t; in >> t;) w.push_back(t);
  return w;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    if (!l.empty() && l.back() == '\r') l.pop_back();
    out.push_back(l);
  }
  return out;
}

Result<Table> ParsePaths(const std::string& out) {
  static const std::set<std::string> kDm = {"active", "failed", "undef"};
  Table t;
  bool header = false, other = false;
  for (const std::string& line : Lines(out)) {
    std::vector<std::string> w = Words(line);
    if (w.empty()) continue;
    if (w[0] == "dev") {
      header = true;
      continue;
    }
    if (w.size() < 4 || !kDm.count(w[1])) {
      other = true;
      continue;
    }
    std::string chk = w[2];
    for (size_t i = 3; i + 1 < w.size(); ++i) chk += " " + w[i];
    t[w[0]] = Entry{{{"dm_state", w[1]}, {"chk_state", chk}, {"dev_state", w.back()}}, Trim(line)};
  }
  if (t.empty() && !header && other)
    return Status::IoError("neither a header (dev ...) nor a path row in the output");
  return t;
}

Health PathHealth(const Entry& e) {
  static const std::set<std::string> kDownChk = {"faulty", "shaky", "i/o timeout", "disconnected"};
  std::string dm = e.Get("dm_state"), chk = e.Get("chk_state"), dev = e.Get("dev_state");
  if (dm == "failed" || kDownChk.count(chk) || dev == "offline" || dev == "transport-offline")
    return Health::kDown;
  if (dm == "active" && (chk == "ready" || chk == "ghost")) return Health::kUp;
  return Health::kUnknown;
}

// Columns by the header words' positions; a row with exactly as many words as
// the header is split on whitespace instead (output that is not aligned).
Result<Table> ParseMaps(const std::string& out) {
  std::vector<std::string> lines = Lines(out);
  size_t i = 0;
  while (i < lines.size() && Trim(lines[i]).empty()) ++i;
  if (i == lines.size()) return Table{};
  std::vector<std::string> names = Words(lines[i]);
  if (std::find(names.begin(), names.end(), "name") == names.end())
    return Status::IoError("no header row with a \"name\" column: \"" + Trim(lines[i]) + "\"");
  std::vector<size_t> starts;
  size_t pos = 0;
  for (const std::string& n : names) {
    pos = lines[i].find(n, pos);
    starts.push_back(pos);
    pos += n.size();
  }
  Table t;
  for (++i; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    std::vector<std::string> w = Words(line);
    if (w.empty()) continue;
    Entry e{{}, Trim(line)};
    for (size_t c = 0; c < names.size(); ++c) {
      if (w.size() == names.size()) {
        e.f[names[c]] = w[c];
      } else {
        size_t end = c + 1 < starts.size() ? starts[c + 1] : std::string::npos;
        e.f[names[c]] = starts[c] < line.size() ? Trim(line.substr(starts[c], end - starts[c])) : "";
      }
    }
    std::string map = e.Get("name");
    if (!map.empty()) t[map] = std::move(e);
  }
  return t;
}

// Rows "sessionN STATE [targetname]", from the local read or the remote loop.
Table ParseSessions(const std::string& out) {
  Table t;
  for (const std::string& line : Lines(out)) {
    std::vector<std::string> w = Words(line);
    if (w.size() < 2 || w[0].rfind("session", 0) != 0) continue;
    t[w[0]] = Entry{{{"state", w[1]}, {"targetname", w.size() > 2 ? w[2] : ""}}, Trim(line)};
  }
  return t;
}

Health SessionHealth(const std::string& state) {
  if (state == "LOGGED_IN") return Health::kUp;
  if (state == "FAILED" || state == "FREE") return Health::kDown;
  return Health::kUnknown;
}

Table ParseKeyValue(const std::string& out) {
  Table t;
  for (const std::string& raw : Lines(out)) {
    std::string line = Trim(raw);
    if (line.empty() || line[0] == '#') continue;
    size_t p = line.find_first_of(" \t:=");
    if (p == std::string::npos || p == 0) continue;
    std::string rest = Trim(line.substr(p));
    if (!rest.empty() && (rest[0] == ':' || rest[0] == '=')) rest = Trim(rest.substr(1));
    t[line.substr(0, p)] = Entry{{{"value", rest}}, line};
  }
  return t;
}

Result<std::string> ReadSessionsLocal(const std::string& sysfs_root) {
  std::string dir = sysfs_root + "/class/iscsi_session";
  DIR* d = opendir(dir.c_str());
  if (!d) {
    if (errno == ENOENT) return std::string();  // no iSCSI transport loaded: no sessions
    return ErrnoStatus("open " + dir, errno);
  }
  std::vector<std::string> names;
  while (dirent* de = readdir(d)) {
    std::string n = de->d_name;
    if (n.rfind("session", 0) == 0) names.push_back(n);
  }
  closedir(d);
  std::string out;
  for (const std::string& n : names) {
    std::ifstream sf(dir + "/" + n + "/state");
    std::string state, target;
    if (!std::getline(sf, state)) continue;  // a session going away
    std::ifstream tf(dir + "/" + n + "/targetname");
    std::getline(tf, target);
    out += n + " " + Trim(state) + (Trim(target).empty() ? "" : " " + Trim(target)) + "\n";
  }
  return out;
}

}  // namespace fb::poll_parsers
