// `xapi`: follows an XCP-ng / XenServer pool through the pool master's JSON-RPC
// API (`POST /jsonrpc`, docs/platform.md) with event.from long polls on
// host, host_metrics, pool, vm, pbd and message, and turns what changed into
// events. Survives the master's death: it finds the new master among the listed
// pool members and follows HOST_IS_SLAVE.
//
// Settings:
//   url: https://198.18.0.10              the pool master (scheme://host[:port], no path)
//   fallback_urls: [https://198.18.0.11, ...]  the other pool members, tried in order
//                                        when the master does not answer
//   user: root                           (default root)
//   password_env: FB_XAPI_PASSWORD (default) | password_file: FILE
//                                        a literal `password:` is refused; the password
//                                        is never logged nor written to the journal
//   tls_verify: true                     (default) check https certificates and host names
//   ca_file: FILE                        CA bundle for https (default: the system's)
//   poll_timeout: 5s                     event.from's timeout (the long poll)
//   timeout: 2s                          connect/write timeout and the limit of other calls
//   retry: 250ms  retry_max: 5s          backoff between reconnection rounds (doubles)
// Login: session.login_with_password [user, password, "1.0", "faultbench"]. A
// member answering HOST_IS_SLAVE ["<address>"] is left for that address: the
// listed URL whose host it is, else the same scheme and port with that host
// ("host:port" is taken as is). SESSION_INVALID logs in again and goes on with the
// same token (nothing is lost); EVENT_FROM_TOKEN_PARSE_FAILURE starts again from
// now. Whenever it starts from now (first start, a new master, a rejected token)
// it reads host, host_metrics, pool, VM and PBD get_all_records: the first time as
// the baseline, later to name what changed while it could not see (attrs.operation
// "records"), with the messages raised meanwhile (message.get_since from 10 s
// before the last moment it saw everything; messages seen before are skipped).
// Events (stamped on arrival: XAPI's event timestamps are "0.0"; attrs: class, ref,
// operation, raw = the snapshot or message record, url = the master answering):
//   host_down / host_up      host_metrics.live false / true (attrs host = name_label)
//   vm_stopped / vm_started  power_state left / reached Running (attrs vm, host,
//                            previous_host); control domains and templates are skipped
//   vm_moved                 Running with a different resident_on
//   master_changed           pool.master changed (attrs master, previous_master)
//   path_failed / path_reinstated  PBD other_config "mpath-<SCSIid>" = "[active, total]"
//                            changed (attrs scsi_id, active, total, previous_active, host)
//   host_failed              message HA_HOST_FAILED;  host_fenced: HA_HOST_WAS_FENCED
//   master_transition        message POOL_MASTER_TRANSITION (attrs host = new master)
//   alert                    MULTIPATH_PERIODIC_ALERT (attrs host, host-name, pbd,
//                            scsi_id, current, max of the first body line; paths: all),
//                            other HA_* messages, any message of priority 1-3
//   log                      other messages (raw body kept), objects removed (`del`)
//   probe_error              no member answered / a call failed (once per outage)
//   probe_recovered          a master answers again: attrs blind_from_utc_ns, blind_ms
// HTTP is allowed (labs, tests); https uses cpp-httplib's OpenSSL support.
#pragma once

#include "probes/probe.h"

namespace fb {

std::unique_ptr<Probe> NewXapiProbe(const std::string& name, Settings* settings);

}  // namespace fb
