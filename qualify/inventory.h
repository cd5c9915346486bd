// The inventory `faultbench discover` writes: what a pool and its arrays are,
// read-only, in the shape a person checks at a glance and `plan new` /
// `preflight` read back. No secret is ever in it (the clients never hand the
// password or token out).
//
// Shape (JSON here; inventory.yaml on disk):
//   complete: bool            false when a part could not be read (problems says which)
//   problems: [ "…" ]         each names the host or URL and what failed
//   xapi: { url, pool: {…}, hosts: [ … ], srs: [ … ], vms: [ … ] }
//   arrays: [ { url, pods: [ … ], connections: [ … ], volumes: [ … ] } ]
// Field by field in qualify/README.md. Refs are replaced by names (hosts, SRs,
// networks) so the file reads without the platform at hand.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "platform/array_client.h"
#include "platform/xapi_client.h"
#include "plugin/command_target.h"

namespace fb {

// Reads pool, host, host_metrics, PIF, Bond, network, SR, PBD, VDI, VBD, VM and
// VIF records through a connected client and folds them into the inventory's
// `xapi` part. Classes that cannot be read are problems; what was read is kept.
nlohmann::json ReadXapiInventory(XapiClient& xapi, std::vector<std::string>* problems);

// The same, from records already read (class -> ref -> record, classes as in
// `<Class>.get_all_records`: "pool", "host", "VM", ...): the folding alone.
nlohmann::json FoldXapiRecords(const nlohmann::json& records, const std::string& url);

// Reads pods, array-connections, network-interfaces and volumes of one array.
nlohmann::json ReadArrayInventory(ArrayClient& array, std::vector<std::string>* problems);

// The dm-multipath state of one host's dom0, from `multipathd show paths raw
// format "%w|%d|%D|%t|%T|%o"` run through `dom0` (ssh, or local in tests):
// {"maps": [{"wwid", "sr" (the SR whose SCSI id it is, or null), "active",
// "failed", "paths": [{"dev", "dev_t", "dm_state", "checker", "state"}]}]}.
// An error names the host and the command; lines of another shape are skipped
// and counted ("skipped").
Result<nlohmann::json> ReadMultipath(const CommandTarget& dom0, const nlohmann::json& srs);
// The same, from the command's output (the parsing alone).
nlohmann::json ParseMultipathPaths(const std::string& out, const nlohmann::json& srs);

// Names each array volume's SR ("sr"): the SR whose SCSI id ends with the
// volume's serial (a FlashArray LUN's id is "3624a9370" + serial, lower case).
void LinkVolumesToSrs(nlohmann::json* inventory);

// The inventory as tables for a terminal: pool, hosts, SRs, VMs, pods.
std::string InventoryTables(const nlohmann::json& inventory);

// The inventory as YAML (with a header comment saying where and when it was read).
std::string InventoryYaml(const nlohmann::json& inventory, const std::string& header);

}  // namespace fb
