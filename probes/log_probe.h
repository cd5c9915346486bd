// `log`: follows one source and turns its lines into events with regex rules.
//
// Source, exactly one of:
//   path: FILE           tail -F semantics: waits for it to appear, follows rotation
//                        by rename and truncation in place, loses no line
//   command: "shell line"  the command's stdout and stderr
//   unit: NAME           the journal of one systemd unit (`journalctl -f -o json -u
//                        NAME -n 0`); journal: true for the whole journal
// With `host:` (and user, ssh_port, identity_file, known_hosts,
// strict_host_key_checking, netns, timeout: plugin/command_target.h) the
// source is followed on that host through the OpenSSH client: `tail -F -n 0
// PATH`, journalctl or the command. Start() then opens the ControlMaster
// connection (an error if it cannot) and measures the host's clock offset.
// Stop() closes the session's stdin, which ends the remote follower (tail,
// journalctl, the command's shell); children a `command:` started itself end
// at their next write. A session that ends is a probe_error (no reconnect).
//
// Settings:
//   from_start: false     path: read the file from its beginning instead of its end
//   poll_interval: 100ms  local path: how often the file is checked for growth/rotation
//   unmatched: log|drop   lines no rule matches become kind "log" (default) or vanish
//   rules: - {match: REGEX, kind: path_failed, severity: warning, message: "path $1 down"}
//          - multipathd   (a shipped rule pack, rule_packs.h)
//   timestamps: line|arrival   event time from the line's own stamp (default) or arrival
//   clock_threshold: 2s   a line time this far from arrival is recorded (clock_offset_ms)
//   queue_lines: 10000    raw lines held between the reader and the rules; beyond, the
//                         oldest are dropped and counted in a `probe_overflow` event
// The first matching rule wins. In `message`, $0 is the whole match, $1..$9 the
// capture groups, $line the raw line; the default message is the raw line. Every
// event carries attrs {line, captures, rule} and source = the probe's name.
//
// Events of the probe itself:
//   clock_offset    (remote only, at start) attrs offset_ms (remote minus local),
//                   uncertainty_ms (rtt/2), rtt_ms, samples; line times from that
//                   host are corrected by it (attrs.clock_correction_ms)
//   probe_overflow  attrs lines_dropped, queue_lines; at most one a second while
//                   the rules fall behind, placed at the first drop
//   probe_error     the command or ssh session ended (exit status), or the clock
//                   could not be measured
// A journald record is matched on its MESSAGE (attrs.line), stamped from
// __REALTIME_TIMESTAMP, and keeps _SYSTEMD_UNIT, _HOSTNAME, PRIORITY,
// SYSLOG_IDENTIFIER and _PID in attrs.
#pragma once

#include "probes/probe.h"

namespace fb {

std::unique_ptr<Probe> NewLogProbe(const std::string& name, Settings* settings);

}  // namespace fb
