// The lab pool's XAPI database, as a real pool's reads through JSON-RPC: pool
// (HA fields, statefiles), host, host_metrics, PIF, network, SR, PBD, VDI, VBD,
// VM, VIF and VM_guest_metrics, with the field names and types of the XAPI
// reference (ints as JSON numbers, refs "OpaqueRef:<uuid>", the SM's
// "mpath-<SCSIid>" = "[active, total]" on each PBD). fb-ha-sim serves it and
// changes it as HA acts; `faultbench discover` reads it like any pool's.
//
// Defects (lab/pool.h, CheckPoolDefects) make the database wrong on purpose,
// each one thing that preflight must find (`lab up --pool N --pool-defect ...`):
//   ha-off             HA disabled on the pool (no statefile, no plan); the lab's
//                      HA simulator then restarts no VM either
//   unprotected:vm-K   vm-K's ha_restart_priority "" (HA does not restart it)
//   local-cd:vm-K      an ISO from a host's local ISO SR in vm-K's CD drive (not agile)
//   one-path:host-I    host-I's PBDs report one active path of two ("[1, 2]");
//                      only the database says so: the lab's paths stay up
//   dhcp-mgmt:host-I   host-I's management PIF configured by DHCP
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace fb::lab {

struct PoolDbSpec {
  int hosts = 0;
  std::vector<std::string> mgmt_addrs;  // [i-1]: host i's management address
  int vms = 0;
  std::map<int, int> placement;       // vm -> host; a VM not in it is Halted
  std::vector<std::string> vm_addrs;  // [k-1]: vm k's address (its guest metrics' "0/ip")
  std::string iqn;                    // the lab's target
  std::vector<std::string> portals;   // the sites' portal addresses, port 3260
  uint64_t lun_bytes = 0;             // LUN 1: the SR of the VMs' disks
  uint64_t statefile_bytes = 0;       // LUN 2: the heartbeat SR
  int64_t ha_timeout_ns = 0;
  std::vector<std::string> defects;
};

// The database ({"records": class -> ref -> record, "next", "epoch"}, as
// XapiService::Load takes it): every host live and enabled, host-1 the master,
// VMs Running where placed, each with a system disk on the data SR, an empty CD
// drive and a VIF on the management network; then the defects.
nlohmann::json PoolDatabase(const PoolDbSpec& spec);

}  // namespace fb::lab
