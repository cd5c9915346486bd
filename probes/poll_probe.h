// `poll`: runs a command every `interval` (on this host, in a network namespace,
// or over ssh: the CommandTarget settings), parses its output into a table of
// entries and emits an event for each entry that changed since the last poll.
// The first successful poll sets the baseline silently (one debug event of kind
// `initial` with the entry count). Every event carries attrs.window_ms (time
// since the previous successful poll: the change happened within it) and the raw
// row in attrs.line (attrs.previous_line for the row it replaced).
//
// Settings:
//   parser: multipathd_paths | multipathd_maps | iscsi_sessions | key_value   required
//   command: "shell line" | argv: [word, ...]   at most one; the multipathd parsers
//             default to the multipathd CLI call below, key_value needs one,
//             iscsi_sessions takes none
//   interval: 1s          at least 10ms; a poll that overruns is not made up for
//   timeout: 5s           per command; when given, also the ssh ConnectTimeout and
//                         the limit for opening the ssh master (else 30s)
//   host, user, ssh_port, identity_file, known_hosts, strict_host_key_checking,
//   netns                 where the command runs (plugin/command_target.h)
//   kind: changed         key_value only: the kind of its events
//   sysfs_root: /sys      iscsi_sessions only
//
// Parsers (event kinds; attrs besides window_ms/line):
//   multipathd_paths  `multipathd show paths format "%d %t %T %o"`: an optional
//     header row (`dev dm_st chk_st dev_st`), then `dev dm_state checker_state
//     dev_state`; the checker state is everything between the second and the last
//     word (`i/o pending`). A row whose dm state is not active|failed|undef is
//     ignored. A path is down when dm state is failed, the checker says faulty,
//     shaky, i/o timeout or disconnected, or the device is offline; up when dm
//     state is active, the checker ready or ghost and nothing is down; otherwise
//     (i/o pending, delayed, undef) it keeps its previous health.
//     path_failed (up -> down), path_reinstated (down -> up), path_state (debug:
//     any other change of a field), path_added, path_removed.
//     attrs device, dm_state, chk_state, dev_state, previous_dm_state,
//     previous_chk_state, previous_dev_state.
//   multipathd_maps  `multipathd show maps status`: a header row, then one row per
//     map. docs/platform.md does not give this layout; it is upstream multipath-tools'
//     PRINT_MAP_STATUS "%n %F %Q %N %t %r" with headers `name failback queueing
//     paths dm-st write_prot`, each column left-aligned and padded to its widest
//     value. Assumed: columns are found by the header words' positions (a value
//     may hold a space: queueing `5 chk`), `paths` is the active path count,
//     `dm-st` is active|suspend. Columns are read by header name, so an other
//     column order works. path_failed (paths fell; error at 0), path_reinstated
//     (paths rose), map_state (dm-st changed), map_added, map_removed; other
//     columns (countdowns) change without an event. attrs map, paths,
//     previous_paths, dm_st, previous_dm_st, columns {header: value}.
//   iscsi_sessions  reads <sysfs_root>/class/iscsi_session/session*/state
//     (LOGGED_IN|FAILED|FREE) and targetname (when present); with `host` set, the
//     same files are read over ssh with a shell loop. A missing iscsi_session
//     directory means no sessions. session_lost (LOGGED_IN -> FAILED|FREE),
//     session_restored (back to LOGGED_IN), session_state (debug: other changes),
//     session_added, session_removed (a logout removes the session).
//     attrs session, state, previous, targetname.
//   key_value  lines `key value`, `key: value` or `key=value` (blank lines, `#`
//     comments and lone words ignored; a repeated key keeps its last value). One
//     event of kind `kind` per key whose value changed; a key that appears has
//     previous null, one that vanishes value null. attrs key, value, previous.
//
// A command that cannot run, exits non-zero, times out, or (multipathd parsers)
// prints something that is neither a header nor a row, is an outage: one
// probe_error when it starts, then probe_recovered with attrs.blind_ms (from the
// start of the first failed poll to the first good one); the entries are then
// compared with the last good poll. Stop() ends a running command at once
// (SIGKILL to its process group); over ssh the first connection (ControlMaster)
// is opened on the probe's thread and may hold Stop() up to `timeout`.
#pragma once

#include "probes/probe.h"

namespace fb {

std::unique_ptr<Probe> NewPollProbe(const std::string& name, Settings* settings);

}  // namespace fb
