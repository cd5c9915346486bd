// `reach`: the management network's view of hosts. Every `interval` each target
// is checked on its own schedule: a non-blocking TCP connect (only a completed
// handshake counts; refused, unreachable and no answer within `timeout` are
// misses), or with `icmp: true` an ICMP echo for a target without a port. All
// checks of one probe wait in one poll(), so a dead target never delays the others.
//
// Settings:
//   targets: [host:port, "[v6addr]:port", host]   required; a host without a port
//                          is pinged (needs icmp: true; IPv4 only)
//   interval: 500ms        at least 10ms; per target, from the start of one check
//   timeout: = interval    a check without an answer by then is a miss
//   failures: 1            consecutive misses before host_unreachable
//   icmp: false            allow ICMP targets: a raw ICMP socket (root), else a
//                          datagram ICMP socket (net.ipv4.ping_group_range);
//                          Start() fails when neither opens
//   netns: NAME            check from network namespace NAME (/run/netns/NAME):
//                          the probe's own thread joins it; the process does not
// Names are resolved (getaddrinfo, blocking) on the probe's thread until they
// resolve once; a failed resolution is a miss. Use addresses where DNS may fail.
//
// Events (source = the probe's name; attrs target, proto tcp|icmp):
//   host_unreachable  after `failures` consecutive misses (also when a target never
//                     answered since the start); attrs error (the last miss:
//                     "connection refused", "timed out after 500ms"...), misses,
//                     since_first_miss_ms, since_last_ok_ms (null if never)
//   host_reachable    the first success after host_unreachable; attrs gap_ms =
//                     from the start of the first missed check to the end of this
//                     successful one (how long the target did not answer, to one
//                     interval), since_last_ok_ms = from the end of the last
//                     success before the outage (null if never), rtt_ms, misses
// A success while reachable and the first success at start emit nothing.
#pragma once

#include "probes/probe.h"

namespace fb {

std::unique_ptr<Probe> NewReachProbe(const std::string& name, Settings* settings);

}  // namespace fb
