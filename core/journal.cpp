#include "core/journal.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>

namespace fb {

namespace {
Status MakeDirs(const std::string& path) {
  std::string cur;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    cur = path.substr(0, pos);
    if (cur.empty()) continue;
    if (::mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST) return ErrnoStatus("mkdir " + cur, errno);
  }
  return Status::Ok();
}
}  // namespace

std::string SanitizeName(const std::string& name) {
  std::string out;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_' || c == '.';
    out.push_back(ok ? c : '-');
  }
  if (out.empty() || out[0] == '.') out = "run" + out;
  return out;
}

Status Journal::Create(const std::string& base_dir, const std::string& run_name, const ClockAnchor& anchor) {
  anchor_ = anchor;
  FB_RETURN_IF_ERROR(MakeDirs(base_dir));
  std::string stem = SanitizeName(run_name) + "-" + FormatUtcCompact(anchor.utc_ns);
  for (int i = 1; i < 1000; ++i) {
    std::string name = i == 1 ? stem : stem + "-" + std::to_string(i);
    std::string path = base_dir + "/" + name;
    if (::mkdir(path.c_str(), 0755) == 0) {
      dir_ = path;
      run_id_ = name;
      break;
    }
    if (errno != EEXIST) return ErrnoStatus("mkdir " + path, errno);
  }
  if (dir_.empty()) return Status::IoError("no free run directory name for " + stem + " in " + base_dir);
  FB_RETURN_IF_ERROR(samples_.Open(PathOf("samples.jsonl")));
  FB_RETURN_IF_ERROR(stalls_.Open(PathOf("stalls.jsonl")));
  FB_RETURN_IF_ERROR(events_.Open(PathOf("events.jsonl")));
  return UpdateRunInfo({{"format_version", kJournalFormatVersion},
                        {"run_id", run_id_},
                        {"anchor", {{"mono_ns", anchor.mono_ns},
                                    {"utc_ns", anchor.utc_ns},
                                    {"utc", FormatUtcIso(anchor.utc_ns)},
                                    {"uncertainty_ns", anchor.uncertainty_ns}}},
                        {"status", "running"}});
}

void Journal::Stamp(int64_t mono_ns, nlohmann::json* record) const {
  int64_t utc = anchor_.ToUtc(mono_ns);
  (*record)["t_utc_ns"] = utc;
  (*record)["t"] = FormatUtcIso(utc, 6);
  (*record)["t_rel_s"] = std::round(double(mono_ns - anchor_.mono_ns) / 1e3) / 1e6;
}

Status Journal::AppendEvent(const Event& event) {
  nlohmann::json r;
  Stamp(event.mono_ns, &r);
  r["source"] = event.source;
  r["kind"] = event.kind;
  r["severity"] = SeverityName(event.severity);
  r["message"] = event.message;
  r["attrs"] = event.attrs;
  return events_.Append(r);
}

Status Journal::UpdateRunInfo(const nlohmann::json& info) {
  std::lock_guard<std::mutex> lock(info_mu_);
  info_.merge_patch(info);
  return WriteFileAtomic(PathOf("run.json"), info_.dump(2) + "\n");
}

void Journal::Close() {
  samples_.Close();
  stalls_.Close();
  events_.Close();
}

}  // namespace fb
