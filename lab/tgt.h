// One tgtd instance per site, driven through `tgtadm -C <control port>`.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace fb::lab {

inline constexpr int kTargetTid = 1;
inline constexpr int kLun = 1;
// The pool's HA statefile (lab/pool.h): LUN 2 of the same target, served by
// both sites, when this file is beside the LUN 1 file.
inline constexpr int kStatefileLunId = 2;
inline constexpr const char* kStatefileFile = "statefile.img";

// argv that runs tgtd in the foreground in namespace ns, portal addr:3260.
std::vector<std::string> TgtdArgv(const std::string& ns, int control_port, const std::string& portal_addr);

// Waits (at most timeout_ns) until tgtd answers on its control port.
Status WaitTgtdReady(int control_port, int64_t timeout_ns);

// Creates target tid 1 named iqn, LUN 1 backed by file, open to every initiator.
// Both sites get the same SCSI identity so they look like one LUN. If
// kStatefileFile is in the backing file's directory, it becomes LUN 2.
Status ConfigureStretchedLun(int control_port, const std::string& iqn, const std::string& backing_file);

// "ready" or "offline": an offline target refuses new logins ("Target error").
Status SetTargetState(int control_port, const std::string& state);
// Closes every iSCSI connection to the target (initiators must log in again).
Status DropConnections(int control_port);

// Deletes the target, forcing out its sessions; tgtd then exits on SIGTERM.
// A stopped tgtd must get SIGCONT first, or this times out.
Status DeleteTarget(int control_port);

// Files tgtd leaves behind for a control port (socket and lock file).
std::vector<std::string> TgtdControlFiles(int control_port);

}  // namespace fb::lab
