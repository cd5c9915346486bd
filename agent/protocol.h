// The agent protocol: JSON lines on the agent's stdin (controller -> agent) and
// stdout (agent -> controller), one object per line, its kind in "type". The
// controller runs the agent as `ssh host faultbench-agent --stdio` (the same as
// `faultbench agent --stdio`), or connects
// over TCP to `faultbench agent --listen HOST:PORT --token-file FILE`
// (agent/agent_listener.h), where each connection is the same session in a
// forked process with the same messages. Times are CLOCK_REALTIME nanoseconds
// (`_utc_ns`) of the clock named in the field.
//
// controller -> agent
//   hello   {"protocol":1, "version":"0.1.0", "attach":"RUN_ID"?, "token":"..."?}
//                                                  version: the controller's (core/version.h)
//                                                  attach: follow that run of this
//                                                  agent's state dir (as --attach)
//           token (TCP only, required there): the content of the listener's
//           --token-file without trailing whitespace, compared in constant
//           time. Over TCP the first message must be this hello; anything
//           else, or a wrong token, gets `error` and the connection closes. A
//           reconnect sends it again (with "attach"). The token never appears
//           in logs, errors or the journal.
//   time    {"controller_utc_ns":T}                a clock ping
//   start   {"run_id":"name", "workload":{...}, "hold":true?}    workload: agent/workload_json.h
//           hold: prepare the load (target, journal, threads), answer `started`,
//           and issue no I/O until `go` (none within 120 s, a `stop` or the
//           controller gone: the load ends unstarted, event load_not_started)
//   go      {"at_utc_ns":A}                       a held start's load clock starts at A
//                                                  (this agent's clock); answered by `going`
//   resume  {"from_seq":N}                         (re)stream records from seq N
//   stop    {}                                     end the load now (final, as SIGINT)
//   check   {"id":N, "blocks":[[offset, generation, ack_utc_ns], ...]}
//           read those blocks of the run's target and compare each with the
//           generation the controller saw acknowledged (after an HA restart)
// agent -> controller
//   hello    {"protocol":1, "version":"0.1.0", "pid":P, "host":"...", "state_dir":"...",
//             "run_id":"..."|null, "run_dir":"..."|null}
//            The controller refuses an agent of another version (or none: older
//            than 0.1.0) with one line naming both; the agent answers any
//            version (a controller too old to check still gets its hello).
//   time     {"controller_utc_ns":T, "agent_utc_ns":A}   A read when the ping arrived
//   started  {"run_id":"<journal dir name>", "run_dir":"...", "held":bool}  records follow from seq 0
//   going    {"load_start_utc_ns":S}              the start a `go` gave the load: A, or
//            later when the go came too late to meet A (less than 5 ms ahead)
//   record   {"seq":N, "stream":"samples|stalls|events|acks", "body":{...}}
//            body: the record exactly as the agent's journal wrote it (core/journal.h,
//            loadgen/journal_sink.h); seq: agent/record_log.h. With verify,
//            "acks" bodies {"segment":K, "load_start_utc_ns":T, "acks":[[offset,
//            generation, ack_utc_ns], ...]} carry every acknowledged write of a
//            verify block (agent clock; at most 2000 per record, ~50 ms behind).
//   check_result {"id":N, "checked":n, "ok":n, "newer":n, "bad":n, "elapsed_ms":x,
//            "findings":[{offset, verdict (loadgen/verify.h VerdictName: lost_write, ...),
//            acked_generation, found_generation, found_write_utc_ns, ack_utc_ns}],
//            "error":"..."?}   a block found older is read again 20 ms later first
//   finished {"seq":N, "status":"completed|interrupted|max-errors|failed",
//             "summary":{...SummaryToJson...}}   the last message of a run
//   error    {"message":"..."}                   a refused request; the agent goes on
//
// Offset = agent clock - controller clock = A - (T + T_recv)/2, uncertainty = rtt/2.
// An agent whose stdin closes keeps its load (and journal) to the end of the
// duration, then exits; `faultbench agent --stdio --attach RUN_ID` streams that
// run's records to a new controller from the seq its `resume` names.
// An agent process that dies mid-run (crash, HA restart of its VM) leaves
// agent_state.json (agent/run_state.h); `faultbench agent --boot` continues the
// run until its planned end: seq goes on in the same record log, the first
// record after the gap being the event `agent_restarted` (attrs.gap_ms), and a
// later `finished` ends it; past the planned end, `finished` has status
// "interrupted". A SIGTERM (an orderly shutdown of the VM) stops the load with
// the event `agent_shutdown` and no `finished`: the run stays open for --boot.
// A resumed segment K stamps verify generations above K << 24, so nothing it
// writes is older than what was acknowledged before. agent/README.md describes
// the lifecycle.
#pragma once

namespace fb {

constexpr int kAgentProtocolVersion = 1;
// Where an agent keeps its runs unless --state-dir says otherwise (the
// package's unit and postinst make it, 0700).
constexpr const char* kAgentDefaultStateDir = "/var/lib/faultbench/agent";

}  // namespace fb
