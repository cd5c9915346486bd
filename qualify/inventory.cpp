#include "qualify/inventory.h"

#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <map>
#include <set>

#include "qualify/json_fields.h"

namespace fb {

namespace {

using nlohmann::json;

// The XAPI classes discover reads, as get_all_records spells them.
const char* const kClasses[] = {"pool", "host", "host_metrics", "PIF", "Bond", "network",         "SR",
                                "PBD",  "VDI",  "VBD",          "VM",  "VIF",  "VM_guest_metrics"};

using fields::Arr;
using fields::Obj;
using fields::Str;

bool Bool(const json& r, const char* key) {
  if (!r.is_object() || !r.contains(key)) return false;
  const json& v = r[key];
  return v.is_boolean() ? v.get<bool>() : v.is_string() && v.get<std::string>() == "true";
}
// An int64 field: a JSON number over JSON-RPC, a numeric string over XML-RPC.
json Int(const json& r, const char* key) {
  if (!r.is_object() || !r.contains(key)) return nullptr;
  const json& v = r[key];
  if (v.is_number_integer()) return v;
  if (v.is_string()) {
    try {
      return std::stoll(v.get<std::string>());
    } catch (const std::exception&) {
    }
  }
  return nullptr;
}
bool IsRef(const std::string& ref) { return !ref.empty() && ref != "OpaqueRef:NULL"; }

// class -> ref -> record, with lookups that never throw.
struct Db {
  const json& all;
  const json& Class(const char* cls) const {
    static const json kEmpty = json::object();
    return all.contains(cls) && all[cls].is_object() ? all[cls] : kEmpty;
  }
  const json& Get(const char* cls, const std::string& ref) const {
    static const json kNull = nullptr;
    const json& c = Class(cls);
    return c.contains(ref) ? c[ref] : kNull;
  }
  std::string Name(const char* cls, const std::string& ref) const {
    const json& r = Get(cls, ref);
    return r.is_null() ? (IsRef(ref) ? ref : "") : Str(r, "name_label");
  }
};

json FoldPool(const Db& db, std::set<std::string>* heartbeat_srs) {
  const json& pools = db.Class("pool");
  if (pools.empty()) return nullptr;
  const json& p = pools.begin().value();
  // HA timeout precedence: ha_configuration:timeout, other_config:default_ha_timeout, 60 s.
  std::string timeout = Str(Obj(p, "ha_configuration"), "timeout");
  std::string source = "ha_configuration:timeout";
  if (timeout.empty()) {
    timeout = Str(Obj(p, "other_config"), "default_ha_timeout");
    source = "other_config:default_ha_timeout";
  }
  json timeout_s = 60;
  if (timeout.empty()) {
    source = "default";
  } else {
    try {
      timeout_s = std::stoll(timeout);
    } catch (const std::exception&) {
      source = "unreadable \"" + timeout + "\": default";
    }
  }
  // pool.ha_statefiles holds VDI refs; the heartbeat SR is their VDI's SR.
  json statefile_srs = json::array();
  for (const json& vdi : Arr(p, "ha_statefiles")) {
    if (!vdi.is_string()) continue;
    std::string sr = Str(db.Get("VDI", vdi.get<std::string>()), "SR");
    if (IsRef(sr) && heartbeat_srs->insert(sr).second) statefile_srs.push_back(db.Name("SR", sr));
  }
  return {{"name", Str(p, "name_label")},
          {"uuid", Str(p, "uuid")},
          {"master", db.Name("host", Str(p, "master"))},
          {"ha_enabled", Bool(p, "ha_enabled")},
          {"ha_host_failures_to_tolerate", Int(p, "ha_host_failures_to_tolerate")},
          {"ha_plan_exists_for", Int(p, "ha_plan_exists_for")},
          {"ha_timeout_s", timeout_s},
          {"ha_timeout_from", source},
          {"heartbeat_srs", statefile_srs}};
}

json FoldHosts(const Db& db, const std::string& master_ref) {
  json hosts = json::array();
  for (const auto& [ref, h] : db.Class("host").items()) {
    json management = nullptr, other_ips = json::array();
    for (const json& pif_ref : Arr(h, "PIFs")) {
      const json& pif = db.Get("PIF", pif_ref.is_string() ? pif_ref.get<std::string>() : "");
      if (!Bool(pif, "management")) {
        // Another way into dom0 than the management network (for an injector that cuts it).
        if (!Str(pif, "IP").empty())
          other_ips.push_back({{"device", Str(pif, "device")},
                               {"ip", Str(pif, "IP")},
                               {"network", db.Name("network", Str(pif, "network"))}});
        continue;
      }
      management = {{"device", Str(pif, "device")},
                    {"mode", Str(pif, "ip_configuration_mode")},
                    {"ip", Str(pif, "IP")},
                    {"network", db.Name("network", Str(pif, "network"))},
                    {"bonded", !Arr(pif, "bond_master_of").empty()}};
    }
    const json& metrics = db.Get("host_metrics", Str(h, "metrics"));
    // The BMC XAPI knows of (host.power_on_mode "IPMI" / "DRAC" with power_on_ip, power_on_user).
    json bmc = nullptr;
    if (!Str(h, "power_on_mode").empty())
      bmc = {{"mode", Str(h, "power_on_mode")},
             {"address", Str(Obj(h, "power_on_config"), "power_on_ip")},
             {"user", Str(Obj(h, "power_on_config"), "power_on_user")}};
    hosts.push_back({{"name", Str(h, "name_label")},
                     {"uuid", Str(h, "uuid")},
                     {"address", Str(h, "address")},
                     {"enabled", Bool(h, "enabled")},
                     {"live", metrics.is_null() ? json(nullptr) : json(Bool(metrics, "live"))},
                     {"master", ref == master_ref},
                     {"management", management},
                     {"other_ips", other_ips},
                     {"bmc", bmc}});
  }
  return hosts;
}

// "[1, 2]" -> {1, 2}; false when it is not that shape.
bool MpathCounts(const std::string& v, int* active, int* total) {
  return sscanf(v.c_str(), "[%d, %d]", active, total) == 2;
}

json FoldSrs(const Db& db, const std::set<std::string>& heartbeat_srs) {
  json srs = json::array();
  for (const auto& [ref, sr] : db.Class("SR").items()) {
    json pbds = json::array();
    for (const auto& [pref, pbd] : db.Class("PBD").items()) {
      if (Str(pbd, "SR") != ref) continue;
      const json& dc = Obj(pbd, "device_config");
      const json& oc = Obj(pbd, "other_config");
      json entry = {{"host", db.Name("host", Str(pbd, "host"))},
                    {"attached", Bool(pbd, "currently_attached")},
                    {"target", Str(dc, "target")},
                    {"iqn", Str(dc, "targetIQN")},
                    {"scsi_id", Str(dc, "SCSIid")},
                    {"chap", !Str(dc, "chapuser").empty()},
                    {"multipathed", Str(oc, "multipathed") == "true"},
                    {"paths_active", nullptr},
                    {"paths_total", nullptr}};
      if (!Str(dc, "multihomelist").empty()) entry["portals"] = Str(dc, "multihomelist");
      for (const auto& [key, value] : oc.items()) {
        int active = 0, total = 0;
        if (key.rfind("mpath-", 0) == 0 && value.is_string() &&
            MpathCounts(value.get<std::string>(), &active, &total)) {
          entry["paths_active"] = active;
          entry["paths_total"] = total;
          if (entry["scsi_id"] == "") entry["scsi_id"] = key.substr(6);
        }
      }
      pbds.push_back(std::move(entry));
    }
    srs.push_back({{"name", Str(sr, "name_label")},
                   {"uuid", Str(sr, "uuid")},
                   {"type", Str(sr, "type")},
                   {"shared", Bool(sr, "shared")},
                   {"content_type", Str(sr, "content_type")},
                   {"size_bytes", Int(sr, "physical_size")},
                   {"heartbeat", heartbeat_srs.count(ref) != 0},
                   {"pbds", pbds}});
  }
  return srs;
}

// VM.assert_agile's conditions on the records: every non-empty VBD's SR shared
// and plugged on every enabled host; every VIF's network with a PIF that is not
// a bond slave on every enabled host. Returns why not (empty: agile).
json NotAgile(const Db& db, const json& vm) {
  std::set<std::string> enabled;
  for (const auto& [ref, h] : db.Class("host").items())
    if (Bool(h, "enabled")) enabled.insert(ref);
  json why = json::array();
  for (const json& vbd_ref : Arr(vm, "VBDs")) {
    const json& vbd = db.Get("VBD", vbd_ref.is_string() ? vbd_ref.get<std::string>() : "");
    if (vbd.is_null() || Bool(vbd, "empty")) continue;
    std::string sr_ref = Str(db.Get("VDI", Str(vbd, "VDI")), "SR");
    const json& sr = db.Get("SR", sr_ref);
    std::string what = (Str(vbd, "type") == "CD" ? "CD " : "disk ") + Str(vbd, "userdevice") + " on SR " +
                       db.Name("SR", sr_ref);
    if (!Bool(sr, "shared")) {
      why.push_back(what + " is not shared (HA_CONSTRAINT_VIOLATION_SR_NOT_SHARED)");
      continue;
    }
    std::set<std::string> plugged;
    for (const auto& [pref, pbd] : db.Class("PBD").items())
      if (Str(pbd, "SR") == sr_ref && Bool(pbd, "currently_attached")) plugged.insert(Str(pbd, "host"));
    for (const std::string& h : enabled)
      if (!plugged.count(h)) why.push_back(what + " is not attached on " + db.Name("host", h));
  }
  for (const json& vif_ref : Arr(vm, "VIFs")) {
    const json& vif = db.Get("VIF", vif_ref.is_string() ? vif_ref.get<std::string>() : "");
    std::string net = Str(vif, "network");
    std::set<std::string> hosts_with_pif;
    for (const auto& [pref, pif] : db.Class("PIF").items())
      if (Str(pif, "network") == net && !IsRef(Str(pif, "bond_slave_of")))
        hosts_with_pif.insert(Str(pif, "host"));
    for (const std::string& h : enabled) {
      if (!hosts_with_pif.count(h)) {
        why.push_back("VIF " + Str(vif, "device") + " on network " + db.Name("network", net) +
                      " has no PIF on " + db.Name("host", h) +
                      " (HA_CONSTRAINT_VIOLATION_NETWORK_NOT_SHARED)");
      }
    }
  }
  return why;
}

json FoldVms(const Db& db) {
  json vms = json::array();
  for (const auto& [ref, vm] : db.Class("VM").items()) {
    if (Bool(vm, "is_control_domain") || Bool(vm, "is_a_template") || Bool(vm, "is_a_snapshot")) continue;
    json disks = json::array(), cds = json::array(), vifs = json::array();
    for (const json& vbd_ref : Arr(vm, "VBDs")) {
      const json& vbd = db.Get("VBD", vbd_ref.is_string() ? vbd_ref.get<std::string>() : "");
      if (vbd.is_null()) continue;
      const json& vdi = db.Get("VDI", Str(vbd, "VDI"));
      json d = {{"device", Str(vbd, "userdevice")},
                {"empty", Bool(vbd, "empty")},
                {"vdi", Str(vdi, "name_label")},
                {"sr", db.Name("SR", Str(vdi, "SR"))}};
      if (Str(vbd, "type") == "CD") {
        cds.push_back(std::move(d));
      } else {
        d.erase("empty");
        d["size_bytes"] = Int(vdi, "virtual_size");
        disks.push_back(std::move(d));
      }
    }
    for (const json& vif_ref : Arr(vm, "VIFs")) {
      const json& vif = db.Get("VIF", vif_ref.is_string() ? vif_ref.get<std::string>() : "");
      vifs.push_back({{"device", Str(vif, "device")}, {"network", db.Name("network", Str(vif, "network"))}});
    }
    std::string priority = Str(vm, "ha_restart_priority");
    json why = NotAgile(db, vm);
    // The guest's first address as its tools report it (VM_guest_metrics.networks "0/ip").
    std::string address = Str(Obj(db.Get("VM_guest_metrics", Str(vm, "guest_metrics")), "networks"), "0/ip");
    vms.push_back({{"name", Str(vm, "name_label")},
                   {"uuid", Str(vm, "uuid")},
                   {"address", address},
                   {"power_state", Str(vm, "power_state")},
                   {"host", IsRef(Str(vm, "resident_on")) ? db.Name("host", Str(vm, "resident_on")) : ""},
                   {"ha_restart_priority", priority},
                   {"protected", priority == "restart"},
                   {"order", Int(vm, "order")},
                   {"agile", why.empty()},
                   {"not_agile", why},
                   {"disks", disks},
                   {"cds", cds},
                   {"vifs", vifs}});
  }
  return vms;
}

void EmitYaml(YAML::Emitter& out, const json& j) {
  if (j.is_object()) {
    out << YAML::BeginMap;
    for (const auto& [k, v] : j.items()) {
      out << YAML::Key << k << YAML::Value;
      EmitYaml(out, v);
    }
    out << YAML::EndMap;
  } else if (j.is_array()) {
    bool flat = std::all_of(j.begin(), j.end(), [](const json& e) { return !e.is_structured(); });
    out << (flat ? YAML::Flow : YAML::Block) << YAML::BeginSeq;
    for (const json& e : j) EmitYaml(out, e);
    out << YAML::EndSeq;
  } else if (j.is_string()) {
    out << YAML::DoubleQuoted << j.get<std::string>();
  } else if (j.is_null()) {
    out << YAML::Null;
  } else {
    out << j.dump();
  }
}

std::string Cell(const json& v) {
  if (v.is_null()) return "?";
  if (v.is_string()) return v.get<std::string>().empty() ? "-" : v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  return v.dump();
}

// A table with a header row; columns as wide as their widest cell.
std::string Table(const std::vector<std::string>& head, const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(head.size());
  for (size_t c = 0; c < head.size(); ++c) width[c] = head[c].size();
  for (const auto& r : rows)
    for (size_t c = 0; c < r.size() && c < width.size(); ++c) width[c] = std::max(width[c], r[c].size());
  auto line = [&](const std::vector<std::string>& r) {
    std::string s;
    for (size_t c = 0; c < head.size(); ++c) {
      std::string cell = c < r.size() ? r[c] : "";
      s += cell + (c + 1 < head.size() ? std::string(width[c] - cell.size() + 2, ' ') : "");
    }
    return s + "\n";
  };
  std::string out = line(head);
  for (const auto& r : rows) out += line(r);
  return out;
}

}  // namespace

json FoldXapiRecords(const json& records, const std::string& url) {
  Db db{records};
  std::set<std::string> heartbeat;
  json pool = FoldPool(db, &heartbeat);
  std::string master_ref;
  if (!db.Class("pool").empty()) master_ref = Str(db.Class("pool").begin().value(), "master");
  return {{"url", url},
          {"pool", pool},
          {"hosts", FoldHosts(db, master_ref)},
          {"srs", FoldSrs(db, heartbeat)},
          {"vms", FoldVms(db)}};
}

json ReadXapiInventory(XapiClient& xapi, std::vector<std::string>* problems) {
  json records = json::object();
  for (const char* cls : kClasses) {
    auto r = xapi.AllRecords(cls);
    if (r.ok()) {
      records[cls] = std::move(*r);
    } else {
      problems->push_back(r.status().message());
    }
  }
  return FoldXapiRecords(records, xapi.url());
}

json ReadArrayInventory(ArrayClient& array, std::vector<std::string>* problems) {
  json out = {{"url", array.url()}};
  for (const char* list : {"pods", "array-connections", "network-interfaces", "volumes"}) {
    auto r = array.List(list);
    std::string key = list;
    std::replace(key.begin(), key.end(), '-', '_');
    if (!r.ok()) {
      problems->push_back(r.status().message());
      out[key] = nullptr;
      continue;
    }
    json items = json::array();
    for (const json& item : *r) {
      if (key == "pods") {
        json arrays = json::array();
        for (const json& a : Arr(item, "arrays"))
          arrays.push_back({{"name", Str(a, "name")},
                            {"status", Str(a, "status")},
                            {"mediator_status", Str(a, "mediator_status")},
                            {"pre_elected", Bool(a, "pre_elected")}});
        items.push_back({{"name", Str(item, "name")},
                         {"mediator", Str(item, "mediator")},
                         {"promotion_status", Str(item, "promotion_status")},
                         {"arrays", arrays}});
      } else if (key == "array_connections") {
        items.push_back(
            {{"name", Str(item, "name")}, {"status", Str(item, "status")}, {"type", Str(item, "type")}});
      } else if (key == "network_interfaces") {
        // The replication ports are what a replication cut disables.
        json services = Arr(item, "services");
        bool replication = std::any_of(services.begin(), services.end(), [](const json& s) {
          return s.is_string() && s.get<std::string>() == "replication";
        });
        if (!replication) continue;
        items.push_back(
            {{"name", Str(item, "name")}, {"enabled", Bool(item, "enabled")}, {"services", services}});
      } else {
        items.push_back({{"name", Str(item, "name")},
                         {"serial", Str(item, "serial")},
                         {"pod", Str(Obj(item, "pod"), "name")},
                         {"size_bytes", Int(item, "provisioned")}});
      }
    }
    out[key] = items;
  }
  return out;
}

json ParseMultipathPaths(const std::string& out, const json& srs) {
  std::map<std::string, json> maps;  // wwid -> map, in wwid order
  int skipped = 0;
  size_t start = 0;
  while (start < out.size()) {
    size_t end = out.find('\n', start);
    if (end == std::string::npos) end = out.size();
    std::string line = out.substr(start, end - start);
    start = end + 1;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (line.empty()) continue;
    std::vector<std::string> f;
    for (size_t a = 0;;) {
      size_t b = line.find('|', a);
      f.push_back(line.substr(a, b == std::string::npos ? std::string::npos : b - a));
      if (b == std::string::npos) break;
      a = b + 1;
    }
    // A path with no map (wwid "" or "undef"), or any other shape, is not a map's path.
    if (f.size() != 6 || f[0].empty() || f[0] == "undef" || f[1].empty()) {
      ++skipped;
      continue;
    }
    json& m = maps[f[0]];
    if (m.is_null()) {
      m = {{"wwid", f[0]}, {"sr", nullptr}, {"active", 0}, {"failed", 0}, {"paths", json::array()}};
      for (const json& sr : srs.is_array() ? srs : json::array())
        for (const json& pbd : Arr(sr, "pbds"))
          if (Str(pbd, "scsi_id") == f[0]) m["sr"] = Str(sr, "name");
    }
    bool active = f[3] == "active" && f[4] == "ready";
    m[active ? "active" : "failed"] = m[active ? "active" : "failed"].get<int>() + 1;
    m["paths"].push_back(
        {{"dev", f[1]}, {"dev_t", f[2]}, {"dm_state", f[3]}, {"checker", f[4]}, {"state", f[5]}});
  }
  json list = json::array();
  for (auto& [wwid, m] : maps) list.push_back(std::move(m));
  return {{"maps", list}, {"skipped", skipped}};
}

Result<json> ReadMultipath(const CommandTarget& dom0, const json& srs) {
  auto out =
      dom0.RunOk("read the paths", {"multipathd", "show", "paths", "raw", "format", "%w|%d|%D|%t|%T|%o"});
  if (!out.ok()) return out.status();
  return ParseMultipathPaths(*out, srs);
}

void LinkVolumesToSrs(json* inv) {
  if (!inv->contains("arrays") || !(*inv)["arrays"].is_array()) return;
  const json* srs = nullptr;
  if (inv->contains("xapi") && (*inv)["xapi"].is_object() && (*inv)["xapi"]["srs"].is_array())
    srs = &(*inv)["xapi"]["srs"];
  auto lower = [](std::string s) {
    for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  for (json& array : (*inv)["arrays"]) {
    if (!array.is_object() || !array["volumes"].is_array()) continue;
    for (json& vol : array["volumes"]) {
      std::string serial = lower(Str(vol, "serial"));
      vol["sr"] = nullptr;
      if (serial.empty() || !srs) continue;
      for (const json& sr : *srs) {
        for (const json& pbd : Arr(sr, "pbds")) {
          std::string id = lower(Str(pbd, "scsi_id"));
          if (id.size() > serial.size() && id.compare(id.size() - serial.size(), serial.size(), serial) == 0)
            vol["sr"] = Str(sr, "name");
        }
      }
    }
  }
}

// "2 maps, 4 active, 0 failed", "not read", or "-" when discover had no ssh key.
static std::string MultipathCell(const json& host) {
  if (!host.contains("multipath")) return "-";
  const json& mp = host["multipath"];
  if (!mp.is_object()) return "NOT READ";
  int active = 0, failed = 0;
  for (const json& m : Arr(mp, "maps")) {
    active += m.value("active", 0);
    failed += m.value("failed", 0);
  }
  return std::to_string(Arr(mp, "maps").size()) + " maps, " + std::to_string(active) + " active, " +
         std::to_string(failed) + " failed";
}

std::string InventoryTables(const json& inv) {
  std::string out;
  const json& x = inv.contains("xapi") ? inv["xapi"] : json(nullptr);
  if (x.is_object()) {
    const json& p = x["pool"];
    if (p.is_object()) {
      out += "pool " + Cell(p["name"]) + " at " + Cell(x["url"]) + ": master " + Cell(p["master"]) + ", HA " +
             (p.value("ha_enabled", false) ? "on" : "OFF") + ", tolerates " +
             Cell(p["ha_host_failures_to_tolerate"]) + " host failure(s), plan for " +
             Cell(p["ha_plan_exists_for"]) + ", HA timeout " + Cell(p["ha_timeout_s"]) + " s (" +
             Cell(p["ha_timeout_from"]) + "), heartbeat SR " +
             (p["heartbeat_srs"].empty() ? std::string("none") : Cell(p["heartbeat_srs"][0])) + "\n\n";
    }
    std::vector<std::vector<std::string>> rows;
    for (const json& h : x["hosts"]) {
      const json& m = h["management"];
      rows.push_back({Cell(h["name"]), Cell(h["address"]), Cell(h["enabled"]), Cell(h["live"]),
                      h["master"].get<bool>() ? "master" : "",
                      m.is_object() ? Cell(m["device"]) + " " + Cell(m["mode"]) +
                                          (m["bonded"].get<bool>() ? " bond" : "")
                                    : "?",
                      MultipathCell(h)});
    }
    out +=
        Table({"HOST", "ADDRESS", "ENABLED", "LIVE", "ROLE", "MANAGEMENT", "MULTIPATH (dom0)"}, rows) + "\n";
    rows.clear();
    for (const json& sr : x["srs"]) {
      std::string paths;
      for (const json& pbd : sr["pbds"]) {
        if (!paths.empty()) paths += ", ";
        paths += Cell(pbd["host"]) + (pbd["attached"].get<bool>() ? "" : " DETACHED");
        if (!pbd["paths_total"].is_null())
          paths += " " + Cell(pbd["paths_active"]) + "/" + Cell(pbd["paths_total"]);
      }
      rows.push_back({Cell(sr["name"]), Cell(sr["type"]), Cell(sr["shared"]), Cell(sr["size_bytes"]),
                      sr["heartbeat"].get<bool>() ? "heartbeat" : "", paths});
    }
    out += Table({"SR", "TYPE", "SHARED", "SIZE_BYTES", "HA", "PBDS (host paths active/total)"}, rows) + "\n";
    rows.clear();
    for (const json& vm : x["vms"]) {
      std::string srs;
      for (const json& d : vm["disks"]) srs += (srs.empty() ? "" : ",") + Cell(d["sr"]);
      rows.push_back({Cell(vm["name"]), Cell(vm.value("address", "")), Cell(vm["power_state"]),
                      Cell(vm["host"]), Cell(vm["ha_restart_priority"]), Cell(vm["order"]),
                      vm["agile"].get<bool>() ? "yes" : "NO: " + Cell(vm["not_agile"][0]), srs});
    }
    out += Table({"VM", "ADDRESS", "POWER", "HOST", "HA", "ORDER", "AGILE", "DISK SRS"}, rows);
  }
  for (const json& a : inv.value("arrays", json::array())) {
    std::vector<std::vector<std::string>> rows;
    for (const json& pod : a.value("pods", json::array()))
      for (const json& m : pod["arrays"])
        rows.push_back({Cell(pod["name"]), Cell(m["name"]), Cell(m["status"]), Cell(m["mediator_status"])});
    out += "\narray " + Cell(a["url"]) + "\n" + Table({"POD", "ARRAY", "STATUS", "MEDIATOR"}, rows);
    rows.clear();
    for (const json& v : a.value("volumes", json::array()))
      if (v.is_object())
        rows.push_back(
            {Cell(v["name"]), Cell(v["pod"]), Cell(v["size_bytes"]), Cell(v.value("sr", json(nullptr)))});
    if (!rows.empty()) out += Table({"VOLUME", "POD", "SIZE_BYTES", "SR"}, rows);
  }
  if (!inv.value("complete", true)) {
    out += "\nINCOMPLETE:\n";
    for (const json& p : inv["problems"]) out += "  " + Cell(p) + "\n";
  }
  return out;
}

std::string InventoryYaml(const json& inv, const std::string& header) {
  YAML::Emitter out;
  EmitYaml(out, inv);
  std::string text;
  size_t start = 0;
  while (start < header.size()) {
    size_t nl = header.find('\n', start);
    if (nl == std::string::npos) nl = header.size();
    text += "# " + header.substr(start, nl - start) + "\n";
    start = nl + 1;
  }
  return text + out.c_str() + "\n";
}

}  // namespace fb
