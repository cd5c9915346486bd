// The output parsers of the `poll` probe (poll_probe.h): each turns one poll's
// output into a table of rows by device, map, session or key, and says whether a
// row is healthy. Pure functions: no I/O but ReadSessionsLocal.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/status.h"

namespace fb::poll_parsers {

// One row of the output: its fields by name and the raw line it came from.
struct Entry {
  std::map<std::string, std::string> f;
  std::string line;
  std::string Get(const std::string& k) const {
    auto it = f.find(k);
    return it == f.end() ? "" : it->second;
  }
};
using Table = std::map<std::string, Entry>;  // by device, map, session or key

enum class Health { kUnknown, kUp, kDown };

std::string Trim(const std::string& s);
std::vector<std::string> Words(const std::string& line);
std::vector<std::string> Lines(const std::string& text);

// `multipathd show paths format "%d %t %T %o"`: rows by device with dm_state,
// chk_state (may hold a space: "i/o pending") and dev_state.
Result<Table> ParsePaths(const std::string& out);
Health PathHealth(const Entry& e);
// `multipathd show maps status`: rows by map name, columns by the header's words.
Result<Table> ParseMaps(const std::string& out);
// Rows "sessionN STATE [targetname]", from ReadSessionsLocal or the remote loop.
Table ParseSessions(const std::string& out);
Health SessionHealth(const std::string& state);
// `key value`, `key: value` or `key=value` lines; '#' comments skipped.
Table ParseKeyValue(const std::string& out);
// The iSCSI sessions under sysfs_root/class/iscsi_session as ParseSessions rows;
// empty (not an error) when the directory does not exist.
Result<std::string> ReadSessionsLocal(const std::string& sysfs_root);

}  // namespace fb::poll_parsers
