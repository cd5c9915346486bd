// `xapi`: a platform operation through XAPI (JSON-RPC, docs/platform.md), with
// the xapi probe's session handling (platform/xapi_client.h: login on the
// master, HOST_IS_SLAVE followed, fallback members, TLS verified by default,
// the password from the environment). Settings:
//   url, fallback_urls, user, password_env | password_file, tls_verify, ca_file,
//   timeout (per call, 2s)      as the xapi probe's
//   action                      vm_migrate | host_evacuate | host_reboot |
//                               designate_master | pbd_unplug | vm_hard_shutdown |
//                               vm_hard_reboot
//   vm                          the VM (name_label or uuid): vm_migrate, vm_hard_*
//   host                        the host (name_label, hostname or uuid): host_evacuate,
//                               host_reboot, designate_master, pbd_unplug
//   to                          vm_migrate's destination host, or "another" (default:
//                               the first enabled host by name other than the VM's)
//   sr                          pbd_unplug: the SR whose PBD on `host` is unplugged
//   revert                      vm_migrate: back (default) | none
//   task_timeout                a long call's limit (10m)
// Actions and their reverts (each revert checks the state first: it is idempotent):
//   vm_migrate        VM.assert_can_boot_here, Async.VM.pool_migrate {live: true};
//                     revert: back to the host it ran on at Prepare
//   host_evacuate     host.disable, Async.host.evacuate (an evacuation that fails
//                     enables the host again and names host.get_vms_which_prevent_
//                     evacuation); revert: host.enable
//   host_reboot       as host_evacuate, then Async.host.reboot (a clean reboot); revert:
//                     wait until host_metrics.live and enabled again (host.enable
//                     once it is live, when XAPI did not), within task_timeout
//   designate_master  Async.pool.designate_new_master; revert: the old master back
//   pbd_unplug        PBD.unplug; revert: PBD.plug
//   vm_hard_shutdown  VM.hard_shutdown; revert: VM.start if it is halted
//   vm_hard_reboot    VM.hard_reboot; no revert
// Long calls run as tasks (task.get_record polled until success or failure, then
// task.destroy); in a run, each task's start and end are events of the
// injector (xapi_task_started; xapi_task_done with status, duration_ms and the
// error code and parameters); an evacuation first names the host's running VMs
// (xapi_host_vms {host, vms}) for the report's all_vms_moved. An XAPI error is reported with its code and parameters
// (VM_REQUIRES_SR [vm, sr], HOST_DISABLED [host], ...). What Prepare resolved
// (the origin host, the old master, the refs) is kept in a state file named by
// run and injector, so the guard's revert after a dead runner knows it too.
// Check: the VM not on its origin host, the host disabled (host_reboot: not
// live or not enabled), the new master
// master, the PBD unplugged, the VM halted.
#pragma once

#include "injectors/injector.h"

namespace fb {

std::unique_ptr<Injector> NewXapiInjector(const std::string& name, Settings* settings);

// The state file of injector `name` in run `run_id`: written before the fault
// goes in, removed by a successful revert.
std::string XapiStatePath(const std::string& run_id, const std::string& name);

}  // namespace fb
