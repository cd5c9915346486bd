#include "probes/xapi_tracker.h"

#include <regex>

namespace fb {

namespace {

using nlohmann::json;

constexpr size_t kMaxRawBytes = 8192;
constexpr const char* kNullRef = "OpaqueRef:NULL";

std::string Str(const json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

bool Flag(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key)) return false;
  const json& v = j[key];
  return v.is_boolean() ? v.get<bool>() : v.is_string() && v.get<std::string>() == "true";
}

// The source object as it came, or its text cut short when huge.
json Raw(const json& j) {
  std::string text = j.dump();
  if (text.size() <= kMaxRawBytes) return j;
  return text.substr(0, kMaxRawBytes) + "...(" + std::to_string(text.size()) + " bytes)";
}

Severity FromPriority(int priority) {
  switch (priority) {
    case 1:
      return Severity::kCritical;
    case 2:
      return Severity::kError;
    case 3:
      return Severity::kWarning;
    default:
      return Severity::kInfo;
  }
}

std::string Trim(std::string s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  size_t e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

}  // namespace

const std::vector<std::string>& XapiTracker::Classes() {
  static const std::vector<std::string> kClasses = {"host", "host_metrics", "pool", "vm", "pbd", "message"};
  return kClasses;
}

std::string XapiTracker::RecordsMethod(const std::string& cls) {
  if (cls == "vm") return "VM.get_all_records";
  if (cls == "pbd") return "PBD.get_all_records";
  if (cls == "message") return "";
  return cls + ".get_all_records";
}

std::optional<std::pair<int, int>> XapiTracker::ParseMpathCounts(const std::string& value) {
  static const std::regex kCounts(R"(^\s*\[\s*(\d{1,6})\s*,\s*(\d{1,6})\s*\]\s*$)");
  std::smatch m;
  if (!std::regex_match(value, m, kCounts)) return std::nullopt;
  return std::make_pair(std::stoi(m[1]), std::stoi(m[2]));
}

json XapiTracker::ParseMultipathLine(const std::string& line) {
  json fields = json::object();
  std::string rest = line;
  size_t close = rest.find(']');
  if (!rest.empty() && rest[0] == '[' && close != std::string::npos) rest = rest.substr(close + 1);
  size_t pos = 0;
  while (pos < rest.size()) {
    size_t semi = rest.find(';', pos);
    std::string part = Trim(rest.substr(pos, semi == std::string::npos ? std::string::npos : semi - pos));
    pos = semi == std::string::npos ? rest.size() : semi + 1;
    size_t eq = part.find('=');
    if (eq == std::string::npos || eq == 0) continue;
    std::string key = Trim(part.substr(0, eq)), value = Trim(part.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    bool count = (key == "current" || key == "max") && !value.empty() && value.size() < 10 &&
                 value.find_first_not_of("0123456789") == std::string::npos;
    if (count)
      fields[key] = std::stoi(value);
    else
      fields[key] = value;
  }
  return fields;
}

void XapiTracker::OnEvent(const json& event) {
  if (!event.is_object()) return;
  std::string cls = Str(event, "class"), op = Str(event, "operation"), ref = Str(event, "ref");
  for (char& c : cls) c = char(std::tolower(static_cast<unsigned char>(c)));
  if (op == "del") {
    Deleted(cls, ref, op);
    return;
  }
  if (!event.contains("snapshot") || !event["snapshot"].is_object()) return;
  Apply(cls, ref, op, event["snapshot"]);
}

void XapiTracker::OnRecords(const std::string& cls, const json& records) {
  if (!records.is_object()) return;
  for (const auto& [ref, rec] : records.items())
    if (rec.is_object()) Apply(cls, ref, "records", rec);
}

void XapiTracker::Apply(const std::string& cls, const std::string& ref, const std::string& op,
                        const json& snap) {
  json base = {{"class", cls}, {"ref", ref}, {"operation", op}, {"raw", Raw(snap)}};
  if (cls == "host") {
    hosts_[ref] = {Str(snap, "name_label"), Str(snap, "uuid"), Str(snap, "metrics")};
  } else if (cls == "host_metrics") {
    HostMetrics(ref, snap, std::move(base));
  } else if (cls == "vm") {
    VmChange(ref, snap, std::move(base));
  } else if (cls == "pool") {
    PoolChange(ref, snap, std::move(base));
  } else if (cls == "pbd") {
    PbdChange(ref, snap, std::move(base));
  } else if (cls == "message") {
    Message(ref, snap, std::move(base));
  }
}

void XapiTracker::Deleted(const std::string& cls, const std::string& ref, const std::string& op) {
  std::string what;
  if (cls == "host" && hosts_.count(ref)) {
    what = "host " + hosts_[ref].name;
    hosts_.erase(ref);
  } else if (cls == "vm" && vms_.count(ref)) {
    bool ignored = vms_[ref].ignored;
    what = "VM " + vms_[ref].name;
    vms_.erase(ref);
    if (ignored) return;
  } else if (cls == "pbd" && pbds_.count(ref)) {
    what = "PBD " + pbds_[ref].uuid + " of host " + HostName(pbds_[ref].host);
    pbds_.erase(ref);
  } else if (cls == "host_metrics") {
    live_.erase(ref);
    return;
  } else {
    return;  // messages are destroyed as a matter of course; unknown objects say nothing
  }
  emit_("log", Severity::kInfo, what + " was removed", {{"class", cls}, {"ref", ref}, {"operation", op}});
}

std::string XapiTracker::HostName(const std::string& ref) const {
  auto it = hosts_.find(ref);
  return it == hosts_.end() || it->second.name.empty() ? ref : it->second.name;
}

std::string XapiTracker::HostNameByUuid(const std::string& uuid) const {
  for (const auto& [ref, h] : hosts_)
    if (h.uuid == uuid && !h.name.empty()) return h.name;
  return "";
}

std::string XapiTracker::HostOfMetrics(const std::string& metrics_ref) const {
  for (const auto& [ref, h] : hosts_)
    if (h.metrics == metrics_ref) return ref;
  return "";
}

void XapiTracker::HostMetrics(const std::string& ref, const json& snap, json base) {
  if (!snap.contains("live")) return;
  bool live = Flag(snap, "live");
  auto it = live_.find(ref);
  bool known = it != live_.end();
  bool was = known && it->second;
  live_[ref] = live;
  if (!known || was == live) return;
  std::string host_ref = HostOfMetrics(ref);
  std::string name = host_ref.empty() ? ref : HostName(host_ref);
  base["host"] = name;
  base["host_ref"] = host_ref;
  base["host_uuid"] = host_ref.empty() ? "" : hosts_[host_ref].uuid;
  base["live"] = live;
  if (live)
    emit_("host_up", Severity::kInfo, "host " + name + " is live again", std::move(base));
  else
    emit_("host_down", Severity::kError, "host " + name + " is no longer live (host_metrics.live false)",
          std::move(base));
}

void XapiTracker::VmChange(const std::string& ref, const json& snap, json base) {
  Vm cur;
  cur.name = Str(snap, "name_label");
  cur.uuid = Str(snap, "uuid");
  cur.power_state = Str(snap, "power_state");
  cur.resident_on = Str(snap, "resident_on");
  cur.ignored = Flag(snap, "is_control_domain") || Flag(snap, "is_a_template");
  auto it = vms_.find(ref);
  bool known = it != vms_.end();
  Vm prev = known ? it->second : Vm{};
  cur.last_host = cur.resident_on.empty() || cur.resident_on == kNullRef ? prev.last_host : cur.resident_on;
  vms_[ref] = cur;
  if (!known || cur.ignored) return;
  bool was_running = prev.power_state == "Running", running = cur.power_state == "Running";
  base["vm"] = cur.name;
  base["vm_uuid"] = cur.uuid;
  base["power_state"] = cur.power_state;
  base["previous_power_state"] = prev.power_state;
  base["resident_on"] = cur.resident_on;
  bool here = !cur.resident_on.empty() && cur.resident_on != kNullRef;
  if (was_running && !running) {
    std::string host = prev.last_host.empty() ? "" : HostName(prev.last_host);
    base["host"] = host;
    emit_("vm_stopped", Severity::kWarning,
          "VM " + cur.name + " " + cur.power_state + " (was Running on " + host + ")", std::move(base));
  } else if (!was_running && running) {
    std::string host = here ? HostName(cur.resident_on) : "";
    base["host"] = host;
    base["previous_host"] = prev.last_host.empty() ? "" : HostName(prev.last_host);
    emit_("vm_started", Severity::kInfo, "VM " + cur.name + " Running on " + host, std::move(base));
  } else if (was_running && running && here && !prev.resident_on.empty() && prev.resident_on != kNullRef &&
             prev.resident_on != cur.resident_on) {
    base["host"] = HostName(cur.resident_on);
    base["previous_host"] = HostName(prev.resident_on);
    emit_("vm_moved", Severity::kInfo,
          "VM " + cur.name + " moved from " + HostName(prev.resident_on) + " to " + HostName(cur.resident_on),
          std::move(base));
  }
}

void XapiTracker::PoolChange(const std::string& ref, const json& snap, json base) {
  std::string master = Str(snap, "master");
  auto it = masters_.find(ref);
  bool known = it != masters_.end();
  std::string prev = known ? it->second : "";
  masters_[ref] = master;
  if (!known || prev == master) return;
  base["master"] = HostName(master);
  base["master_ref"] = master;
  base["previous_master"] = HostName(prev);
  base["previous_master_ref"] = prev;
  emit_("master_changed", Severity::kWarning, "pool master " + HostName(prev) + " -> " + HostName(master),
        std::move(base));
}

void XapiTracker::PbdChange(const std::string& ref, const json& snap, json base) {
  Pbd cur;
  cur.uuid = Str(snap, "uuid");
  cur.host = Str(snap, "host");
  cur.sr = Str(snap, "SR");
  if (snap.contains("other_config") && snap["other_config"].is_object()) {
    for (const auto& [k, v] : snap["other_config"].items()) {
      if (k.rfind("mpath-", 0) != 0 || !v.is_string()) continue;
      auto counts = ParseMpathCounts(v.get<std::string>());
      if (counts) cur.mpath[k.substr(6)] = *counts;
    }
  }
  auto it = pbds_.find(ref);
  bool known = it != pbds_.end();
  Pbd prev = known ? it->second : Pbd{};
  pbds_[ref] = cur;
  if (!known) return;
  for (const auto& [scsi, counts] : cur.mpath) {
    auto p = prev.mpath.find(scsi);
    if (p == prev.mpath.end() || p->second.first == counts.first) continue;
    json attrs = base;
    attrs["scsi_id"] = scsi;
    attrs["active"] = counts.first;
    attrs["total"] = counts.second;
    attrs["previous_active"] = p->second.first;
    attrs["previous_total"] = p->second.second;
    attrs["host"] = HostName(cur.host);
    attrs["host_ref"] = cur.host;
    attrs["pbd_uuid"] = cur.uuid;
    attrs["sr_ref"] = cur.sr;
    std::string text = "host " + HostName(cur.host) + " SCSI " + scsi + ": " + std::to_string(counts.first) +
                       " of " + std::to_string(counts.second) + " paths active (was " +
                       std::to_string(p->second.first) + ")";
    if (counts.first < p->second.first)
      emit_("path_failed", counts.first == 0 ? Severity::kError : Severity::kWarning, text, std::move(attrs));
    else
      emit_("path_reinstated", Severity::kInfo, text, std::move(attrs));
  }
}

void XapiTracker::Message(const std::string& ref, const json& snap, json base) {
  std::string uuid = Str(snap, "uuid");
  if (!messages_.insert(uuid.empty() ? ref : uuid).second) return;
  std::string name = Str(snap, "name"), cls = Str(snap, "cls"), obj = Str(snap, "obj_uuid");
  std::string body = Str(snap, "body");
  int priority = 5;
  if (snap.contains("priority")) {
    const json& p = snap["priority"];
    if (p.is_number_integer()) priority = p.get<int>();
    if (p.is_string()) priority = std::atoi(p.get<std::string>().c_str());
  }
  for (const char* k : {"name", "cls", "obj_uuid", "body"}) base[k] = Str(snap, k);
  base["priority"] = priority;
  base["source_timestamp"] = Str(snap, "timestamp");
  std::string about = cls;
  if (cls == "Host") {
    std::string host = HostNameByUuid(obj);
    static const std::regex kServer("Server '([^']*)'");
    std::smatch m;
    if (host.empty() && std::regex_search(body, m, kServer)) host = m[1];
    base["host"] = host;
    if (!host.empty()) about += " " + host;
  } else if (!obj.empty()) {
    about += " " + obj;
  }
  std::string first_line = body.substr(0, body.find('\n'));
  std::string text = name + " (" + about + "): " + first_line.substr(0, 200);
  Severity sev = FromPriority(priority);
  std::string kind;
  if (name == "HA_HOST_FAILED") {
    kind = "host_failed";
    sev = std::max(sev, Severity::kError);
  } else if (name == "HA_HOST_WAS_FENCED") {
    kind = "host_fenced";
    sev = std::max(sev, Severity::kWarning);
  } else if (name == "POOL_MASTER_TRANSITION") {
    kind = "master_transition";
  } else if (name == "MULTIPATH_PERIODIC_ALERT") {
    kind = "alert";
    json paths = json::array();
    size_t pos = 0;
    while (pos <= body.size()) {
      size_t nl = body.find('\n', pos);
      std::string line = Trim(body.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos));
      pos = nl == std::string::npos ? body.size() + 1 : nl + 1;
      json f = ParseMultipathLine(line);
      if (!f.empty()) paths.push_back(std::move(f));
    }
    if (!paths.empty())
      for (const auto& [k, v] : paths[0].items()) base[k] = v;
    base["paths"] = paths;
  } else {
    kind = name.rfind("HA_", 0) == 0 || priority <= 3 ? "alert" : "log";
  }
  emit_(kind, sev, text, std::move(base));
}

}  // namespace fb
