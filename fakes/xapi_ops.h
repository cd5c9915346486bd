// The XAPI operations the `xapi` injector calls, on an XapiService's database,
// with XAPI's checks and error codes (docs/platform.md): what the database says
// changes as a real pool's would, with events. What happens to the machines
// (a VM's processes moved, a host's master role) is the hooks' part: the lab's
// HA simulator moves its VMs for real; the tests' fake pool leaves them null.
//
//   VM.assert_can_boot_here(vm, host)   HOST_DISABLED [host], HOST_OFFLINE [host],
//                                       VM_REQUIRES_SR [vm, sr] (an SR not attached there),
//                                       HOST_NOT_ENOUGH_FREE_MEMORY [needed, available]
//                                       (bytes: host_metrics.memory_total less 1 GiB for
//                                       dom0 and the memory_static_max of its running VMs)
//   VM.pool_migrate(vm, host, options)  VM_BAD_POWER_STATE [vm, "running", state], the
//                                       checks above, VM_MIGRATE_FAILED [vm, from, to, why]
//                                       when the hook fails; then resident_on
//   host.disable / host.enable(host)    enabled
//   host.get_vms_which_prevent_evacuation(host)  {vm: [code, params...]}
//   host.evacuate(host)                 every running resident VM to the enabled live
//                                       host with the fewest VMs; the first VM that
//                                       cannot move fails it with its code
//   host.reboot(host)                   HOST_NOT_DISABLED [] while enabled, HOST_IN_USE
//                                       [host, "VM", vm] with a running guest; then
//                                       host_metrics.live false, and after
//                                       reboot_downtime_ns live and enabled again
//   pool.designate_new_master(host)     the master moves (POOL_MASTER_TRANSITION); with a
//                                       designate_master hook the hook makes the move (the
//                                       lab's new master announces itself)
//   VM.hard_shutdown(vm), VM.start(vm, paused, force), VM.hard_reboot(vm)
//   PBD.unplug / PBD.plug(pbd)          currently_attached
// Each also runs as `Async.<call>` (a task: fakes/xapi_service.h).
#pragma once

#include <functional>
#include <string>

#include "core/status.h"
#include "fakes/xapi_service.h"

namespace fb {

struct XapiOpsHooks {
  // Names are name_labels ("vm-1", "host-2"). A failure is the call's error.
  std::function<Status(const std::string& vm, const std::string& from, const std::string& to)> migrate;
  std::function<Status(const std::string& vm)> stop;
  std::function<Status(const std::string& vm, const std::string& host)> start;
  std::function<Status(const std::string& host)> designate_master;
  int64_t reboot_downtime_ns = 300'000'000;  // host.reboot: how long the host is away
};

void InstallXapiOperations(XapiService* service, XapiOpsHooks hooks = {});

}  // namespace fb
