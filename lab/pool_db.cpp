#include "lab/pool_db.h"

#include <algorithm>

#include "fakes/xapi_service.h"
#include "lab/ha_sim_node.h"

namespace fb::lab {

namespace {

using nlohmann::json;

bool Has(const std::vector<std::string>& defects, const std::string& d) {
  return std::find(defects.begin(), defects.end(), d) != defects.end();
}

std::string Ref(const std::string& name) { return HaRef(name); }

// Records are keyed by their lower-case class, as event.from names them.
void Put(json* records, const std::string& cls, const std::string& name, json record) {
  record["uuid"] = HaUuid(name);
  (*records)[cls][Ref(name)] = std::move(record);
}

}  // namespace

json PoolDatabase(const PoolDbSpec& spec) {
  const auto& d = spec.defects;
  json r = json::object();
  const int64_t timeout_s = std::max<int64_t>(1, (spec.ha_timeout_ns + 999'999'999) / 1'000'000'000);
  const bool ha = !Has(d, "ha-off");
  // The SM's SCSI ids: NAA-6 with a FlashArray's vendor prefix and the volume's
  // serial (lab/site_api.h serves LUN 1 as that volume); lab-made values.
  const std::string data_scsi = "3624a9370fb0000000000000000000001";
  const std::string hb_scsi = "3624a9370fb0000000000000000000002";
  std::string multihome;
  for (const std::string& p : spec.portals) multihome += (multihome.empty() ? "" : ",") + p + ":3260";

  // Networks: management (the VMs' VIFs too) and one per storage path.
  struct Net {
    const char* name;
    const char* bridge;
    const char* device;
  };
  const Net nets[] = {{"fb-mgmt", "xenbr0", "mgmt0"},
                      {"fb-storage-a", "xenbr1", "sto-a"},
                      {"fb-storage-b", "xenbr2", "sto-b"}};
  for (const Net& n : nets) {
    json pifs = json::array();
    for (int i = 1; i <= spec.hosts; ++i) pifs.push_back(Ref(HaHostName(i) + "/pif/" + n.device));
    Put(&r, "network", std::string("network/") + n.name,
        {{"name_label", n.name},
         {"bridge", n.bridge},
         {"PIFs", pifs},
         {"VIFs", json::array()},
         {"MTU", 1500},
         {"other_config", json::object()}});
  }

  // SRs: the data LUN (the VMs' disks) and the heartbeat LUN, both multipathed iSCSI.
  struct Sr {
    std::string name;
    int lun;
    std::string scsi;
    uint64_t bytes;
  };
  const Sr srs[] = {{"fb-metro-lun", 1, data_scsi, spec.lun_bytes},
                    {"fb-ha-heartbeat", 2, hb_scsi, spec.statefile_bytes}};
  for (const Sr& s : srs) {
    json pbds = json::array();
    for (int i = 1; i <= spec.hosts; ++i) {
      std::string h = HaHostName(i);
      std::string pbd = "pbd/" + s.name + "/" + h;
      pbds.push_back(Ref(pbd));
      int total = int(spec.portals.size());
      int active = Has(d, "one-path:" + h) ? std::min(1, total) : total;
      Put(&r, "pbd", pbd,
          {{"host", Ref(h)},
           {"SR", Ref("sr/" + s.name)},
           {"currently_attached", true},
           {"device_config",
            {{"target", spec.portals.empty() ? "" : spec.portals[0]},
             {"targetIQN", spec.iqn},
             {"SCSIid", s.scsi},
             {"port", "3260"},
             {"multihomed", "true"},
             {"multihomelist", multihome}}},
           {"other_config",
            {{"multipathed", "true"},
             {"mpath-" + s.scsi, "[" + std::to_string(active) + ", " + std::to_string(total) + "]"},
             {"iscsi_sessions", std::to_string(total)}}}});
    }
    Put(&r, "sr", "sr/" + s.name,
        {{"name_label", s.name},
         {"name_description", "the lab's LUN " + std::to_string(s.lun) + " on both sites"},
         {"type", "lvmoiscsi"},
         {"content_type", ""},
         {"shared", true},
         {"physical_size", s.bytes},
         {"physical_utilisation", 0},
         {"virtual_allocation", 0},
         {"PBDs", pbds},
         {"VDIs", json::array()},
         {"sm_config", {{"use_vhd", "true"}}},
         {"other_config", json::object()}});
  }
  auto add_vdi = [&](const std::string& name, const std::string& label, const std::string& sr,
                     const std::string& type, uint64_t bytes, bool sharable) {
    Put(&r, "vdi", name,
        {{"name_label", label},
         {"SR", Ref(sr)},
         {"type", type},
         {"virtual_size", bytes},
         {"physical_utilisation", bytes},
         {"sharable", sharable},
         {"read_only", false},
         {"managed", true},
         {"VBDs", json::array()}});
    r["sr"][Ref(sr)]["VDIs"].push_back(Ref(name));
  };
  if (ha) {
    add_vdi("vdi/statefile", "Statefile for HA", "sr/fb-ha-heartbeat", "ha_statefile", 4ull << 20, true);
    add_vdi("vdi/ha-metadata", "Metadata for HA", "sr/fb-ha-heartbeat", "redo_log", 256ull << 20, true);
  }

  r["pool"][Ref("pool")] = {
      {"uuid", HaUuid("pool")},
      {"name_label", "fb-pool"},
      {"master", Ref(HaHostName(1))},
      {"default_SR", Ref("sr/fb-metro-lun")},
      {"ha_enabled", ha},
      {"ha_host_failures_to_tolerate", ha ? 1 : 0},
      {"ha_plan_exists_for", ha ? 1 : 0},
      {"ha_statefiles", ha ? json::array({Ref("vdi/statefile")}) : json::array()},
      {"ha_configuration", ha ? json{{"timeout", std::to_string(timeout_s)}} : json::object()},
      {"ha_allow_overcommit", false},
      {"ha_overcommitted", false},
      {"other_config", {{"ha_master_generation", "0"}}}};

  for (int i = 1; i <= spec.hosts; ++i) {
    std::string h = HaHostName(i), m = h + "/metrics";
    std::string mgmt = i <= int(spec.mgmt_addrs.size()) ? spec.mgmt_addrs[i - 1] : "";
    json pifs = json::array();
    for (const Net& n : nets) {
      std::string pif = h + "/pif/" + n.device;
      pifs.push_back(Ref(pif));
      bool management = std::string(n.device) == "mgmt0";
      // The storage PIFs' addresses: 198.18.(20+i).2 and 198.18.(30+i).2 (lab/pool.h).
      std::string ip = management                         ? mgmt
                       : std::string(n.device) == "sto-a" ? "198.18." + std::to_string(20 + i) + ".2"
                                                          : "198.18." + std::to_string(30 + i) + ".2";
      bool dhcp = management && Has(d, "dhcp-mgmt:" + h);
      Put(&r, "pif", pif,
          {{"device", n.device},
           {"host", Ref(h)},
           {"network", Ref(std::string("network/") + n.name)},
           {"MAC", ""},
           {"physical", true},
           {"currently_attached", true},
           {"management", management},
           {"ip_configuration_mode", dhcp ? "DHCP" : "Static"},
           {"IP", ip},
           {"netmask", "255.255.255.0"},
           {"gateway", ""},
           {"DNS", ""},
           {"VLAN", -1},
           {"MTU", 1500},
           {"bond_master_of", json::array()},
           {"bond_slave_of", kXapiNullRef}});
    }
    json pbds = json::array();
    for (const Sr& s : srs) pbds.push_back(Ref("pbd/" + s.name + "/" + h));
    Put(&r, "host_metrics", m, {{"live", true}, {"memory_total", 8589934592}, {"memory_free", 4294967296}});
    Put(&r, "host", h,
        {{"name_label", h},
         {"name_description", "lab pool member in network namespace fb-host-" + std::to_string(i)},
         {"hostname", h},
         {"address", mgmt},
         {"enabled", true},
         {"metrics", Ref(m)},
         {"PIFs", pifs},
         {"PBDs", pbds},
         {"resident_VMs", json::array()},
         {"ha_statefiles", ha ? json::array({Ref("vdi/statefile")}) : json::array()},
         {"multipathing", true},
         {"power_on_mode", ""},
         {"power_on_config", json::object()},
         {"other_config", {{"multipathing", "true"}, {"multipathhandle", "dmp"}}}});
  }

  for (int k = 1; k <= spec.vms; ++k) {
    std::string v = HaVmName(k);
    auto it = spec.placement.find(k);
    bool placed = it != spec.placement.end() && it->second >= 1 && it->second <= spec.hosts;
    bool is_protected = !Has(d, "unprotected:" + v);
    add_vdi("vdi/" + v, v + " system disk", "sr/fb-metro-lun", "system", 10ull << 30, false);
    json vbds = json::array({Ref("vbd/" + v + "/0"), Ref("vbd/" + v + "/3")});
    Put(&r, "vbd", "vbd/" + v + "/0",
        {{"VM", Ref(v)},
         {"VDI", Ref("vdi/" + v)},
         {"device", "xvda"},
         {"userdevice", "0"},
         {"type", "Disk"},
         {"mode", "RW"},
         {"bootable", true},
         {"empty", false},
         {"currently_attached", placed}});
    r["vdi"][Ref("vdi/" + v)]["VBDs"].push_back(Ref("vbd/" + v + "/0"));
    std::string cd_vdi = kXapiNullRef;
    if (Has(d, "local-cd:" + v)) {
      // A host's local ISO library, not shared: the VM cannot move.
      int host = placed ? it->second : 1;
      std::string iso_sr = "sr/local-iso/" + HaHostName(host);
      if (!r["sr"].contains(Ref(iso_sr))) {
        std::string pbd = "pbd/local-iso/" + HaHostName(host);
        Put(&r, "pbd", pbd,
            {{"host", Ref(HaHostName(host))},
             {"SR", Ref(iso_sr)},
             {"currently_attached", true},
             {"device_config", {{"location", "/opt/iso"}, {"legacy_mode", "true"}}},
             {"other_config", json::object()}});
        Put(&r, "sr", iso_sr,
            {{"name_label", "Local ISO library on " + HaHostName(host)},
             {"type", "iso"},
             {"content_type", "iso"},
             {"shared", false},
             {"physical_size", 34359738368},
             {"PBDs", json::array({Ref(pbd)})},
             {"VDIs", json::array()},
             {"other_config", json::object()}});
        r["host"][Ref(HaHostName(host))]["PBDs"].push_back(Ref(pbd));
      }
      add_vdi("vdi/" + v + "/iso", "debian-12-netinst.iso", iso_sr, "user", 658505728, false);
      cd_vdi = Ref("vdi/" + v + "/iso");
    }
    Put(&r, "vbd", "vbd/" + v + "/3",
        {{"VM", Ref(v)},
         {"VDI", cd_vdi},
         {"device", "xvdd"},
         {"userdevice", "3"},
         {"type", "CD"},
         {"mode", "RO"},
         {"bootable", false},
         {"empty", cd_vdi == kXapiNullRef},
         {"currently_attached", placed}});
    Put(&r, "vif", "vif/" + v + "/0",
        {{"VM", Ref(v)},
         {"network", Ref("network/fb-mgmt")},
         {"device", "0"},
         {"MAC", ""},
         {"currently_attached", placed}});
    r["network"][Ref("network/fb-mgmt")]["VIFs"].push_back(Ref("vif/" + v + "/0"));
    std::string addr = k <= int(spec.vm_addrs.size()) ? spec.vm_addrs[k - 1] : "";
    Put(&r, "vm_guest_metrics", v + "/guest_metrics",
        {{"networks", {{"0/ip", addr}, {"0/ipv4/0", addr}}},
         {"os_version", {{"name", "faultbench lab VM"}}},
         {"live", true}});
    Put(&r, "vm", v,
        {{"name_label", v},
         {"name_description", "lab VM in network namespace fb-vm-" + std::to_string(k)},
         {"power_state", placed ? "Running" : "Halted"},
         {"resident_on", placed ? Ref(HaHostName(it->second)) : kXapiNullRef},
         {"affinity", kXapiNullRef},
         {"is_control_domain", false},
         {"is_a_template", false},
         {"is_a_snapshot", false},
         {"ha_always_run", is_protected},
         {"ha_restart_priority", is_protected ? "restart" : ""},
         {"order", k},
         {"start_delay", 0},
         {"VBDs", vbds},
         {"VIFs", json::array({Ref("vif/" + v + "/0")})},
         {"VGPUs", json::array()},
         {"VUSBs", json::array()},
         {"guest_metrics", Ref(v + "/guest_metrics")},
         {"memory_static_max", 1073741824},
         {"VCPUs_max", 1},
         {"other_config", json::object()}});
    if (placed) r["host"][Ref(HaHostName(it->second))]["resident_VMs"].push_back(Ref(v));
  }
  return {{"records", r}, {"next", 0}, {"epoch", 1}};
}

}  // namespace fb::lab
