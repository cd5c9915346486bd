// The controller's side of one agent (agent/protocol.h): runs
// `ssh [opts] host faultbench-agent --stdio` through the OpenSSH client
// (CommandTarget), measures the agent's clock offset (again every
// clock_every_ns during the run: `agent_clock` events), starts a workload and
// hands what the agent streams, on the controller's timeline (the agent's own
// times kept as agent_t_utc_ns / agent_start_utc_ns / agent_end_utc_ns /
// agent_first_completion_utc_ns / agent_last_completion_utc_ns), to an
// AgentRecordSink (the runner: one run journal for every agent) and/or a
// controller-side journal of its own (own_journal). A lost connection is an
// `agent_lost` event (with the last completion seen); the client reconnects
// with backoff, attaches to the run, resumes from the first seq it lacks and
// writes `agent_back`, then `agent_first_completion` once a completion after
// the loss arrives. Over transport "tcp" the same protocol runs on a TCP
// connection to `faultbench agent --listen` (agent/agent_listener.h) instead of
// ssh. Not thread-safe except RequestStop(), completed_ios(), ssh_pid() and
// tcp_fd().
#pragma once

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/journal.h"
#include "core/status.h"

namespace fb {

// Receives an agent's records as they arrive, on the thread that runs
// Start()/RunToEnd(), each once and in seq order (the client's own events in
// between). Records are complete for the journal: stamped on the controller's
// timeline (AgentClientOptions::anchor) with "agent" and "agent_seq" set.
class AgentRecordSink {
 public:
  virtual ~AgentRecordSink() = default;
  virtual void OnAgentSample(const std::string& agent, nlohmann::json record) = 0;
  virtual void OnAgentStall(const std::string& agent, nlohmann::json record) = 0;
  // The agent's own events (attrs.agent, attrs.agent_seq, attrs.agent_t_utc_ns)
  // and the client's (source = the agent's name, attrs.agent).
  virtual void OnAgentEvent(const std::string& agent, const Event& event) = 0;
};

struct AgentClientOptions {
  std::string name = "agent";  // label: the journal name and the events' source
  // "ssh" (ssh: and agent_argv below) or "tcp": a TCP connection to an agent
  // listening there (`faultbench agent --listen`), its token read from
  // token_file at Connect() and sent in every hello (reconnects too). Over tcp
  // state_dir and agent_argv are the listener's business and ignored.
  std::string transport = "ssh";
  std::string address;                         // tcp: host name or address
  int port = 0;                                // tcp
  std::string token_file;                      // tcp: agent/agent_token.h
  int64_t connect_timeout_ns = 5'000'000'000;  // tcp: one connect attempt
  nlohmann::json ssh;  // CommandTarget settings: host, user, ssh_port, identity_file, known_hosts, ...
  std::vector<std::string> agent_argv = {"faultbench", "agent", "--stdio"};  // the remote command
  std::string state_dir;                       // the agent's --state-dir ("" = its default)
  std::string journal_dir = "runs";            // the controller-side journal goes under here
  int time_rounds = 8;                         // clock pings per measurement; the smallest rtt wins
  int64_t reply_timeout_ns = 15'000'000'000;   // hello/time/start answers, connection set-up included
  int64_t silence_timeout_ns = 5'000'000'000;  // no message this long during a run = lost
  int64_t ping_interval_ns = 1'000'000'000;    // keep-alive pings during a run
  int64_t reconnect_initial_ns = 200'000'000;  // backoff doubles from here ...
  int64_t reconnect_max_ns = 5'000'000'000;    // ... up to here
  int64_t give_up_ns = 120'000'000'000;        // stop reconnecting after this long lost
  int64_t clock_every_ns = 60'000'000'000;     // clock re-measured this often during a run
  int64_t stop_timeout_ns = 15'000'000'000;    // after RequestStop(), wait this long at most for `finished`
  AgentRecordSink* sink = nullptr;             // not owned; may be null
  bool own_journal = true;                     // also write the controller-side journal under journal_dir
  // The controller's timeline of the records (the run journal's anchor); null =
  // the own journal's. Must outlive the client.
  const ClockAnchor* anchor = nullptr;
};

struct AgentClockOffset {
  int64_t offset_ns = 0;       // agent clock - controller clock
  int64_t uncertainty_ns = 0;  // rtt / 2 of the best round trip
  int64_t rtt_ns = 0;
};

class AgentClient {
 public:
  explicit AgentClient(AgentClientOptions options);
  ~AgentClient();  // closes the connection; the agent's load goes on
  AgentClient(const AgentClient&) = delete;
  AgentClient& operator=(const AgentClient&) = delete;

  // ssh, hello, clock offset. Errors name the host and ssh's stderr.
  Status Connect();
  // Sends `start` and creates the controller-side journal. `hold`: the agent
  // prepares everything, answers, and waits for Go() before its first I/O.
  Status Start(const std::string& run_id, const nlohmann::json& workload, bool hold = false);
  // After Start(hold): sends `go`, the load's clock to start at `at_utc_ns`
  // (controller clock); AwaitGoing() then waits for the agent's `going`.
  Status SendGo(int64_t at_utc_ns);
  Status AwaitGoing();
  // When the agent's load clock started (controller clock), from `going`; 0 before.
  int64_t load_start_utc_ns() const { return load_start_utc_ns_; }
  // Receives records until `finished` (reconnecting as needed) or `timeout_ns`.
  Status RunToEnd(int64_t timeout_ns);
  // Sends `stop` (the run still ends with `finished`).
  Status Stop();
  // Any thread: RunToEnd sends `stop` as soon as it can (also after a reconnect).
  void RequestStop();

  const AgentClockOffset& clock() const { return clock_; }
  const std::string& agent_run_id() const { return agent_run_id_; }
  const std::string& agent_run_dir() const { return agent_run_dir_; }
  int agent_pid() const { return agent_pid_; }
  // The agent's faultbench version from its hello (after Connect).
  const std::string& agent_version() const { return agent_version_; }
  const std::string& journal_dir() const { return journal_.dir(); }
  const nlohmann::json& finished() const { return finished_; }  // the `finished` message
  uint64_t records() const { return next_seq_; }                // seq 0 .. records()-1 received
  uint64_t seq_gaps() const { return seq_gaps_; }               // records never received
  uint64_t completed_ios() const {
    return completed_ios_.load();
  }  // over the "all" samples so far, any thread
  const nlohmann::json& clock_history() const { return clock_history_; }
  int reconnects() const { return reconnects_; }
  pid_t ssh_pid() const { return ssh_pid_.load(); }
  // Over tcp: the connection's socket (-1 when none), e.g. for a test to shut
  // it down as a broken network would.
  int tcp_fd() const { return tcp_fd_.load(); }

 private:
  Status Spawn(const std::vector<std::string>& extra_args);
  Status ConnectTcp();  // tcp: Spawn's counterpart
  bool tcp() const { return opts_.transport == "tcp"; }
  void CloseConnection(bool kill_ssh);
  // The next message, or an error on EOF / `deadline_ns` (MonoNs).
  // `wakeable`: RequestStop() ends the wait early with null, as a timeout.
  Result<nlohmann::json> Receive(int64_t deadline_ns, bool wakeable = false);
  Status Send(const nlohmann::json& msg);
  Result<nlohmann::json> Await(const std::string& type, int64_t deadline_ns);
  Status Hello(const std::string& attach);
  Status MeasureClock();
  void OnMessage(const nlohmann::json& msg);
  void SendDiskCheck();
  void OnCheckResult(const nlohmann::json& msg);  // record or finished
  void DrainStderr();
  std::string ErrTail();  // ": <ssh's last stderr>" or ""
  void Lost(const std::string& why);
  Status Reconnect(int64_t deadline_ns);
  int64_t ToController(int64_t agent_utc_ns) const { return agent_utc_ns - clock_.offset_ns; }
  void WriteEvent(const std::string& kind, Severity sev, const std::string& message, nlohmann::json attrs,
                  int64_t utc_ns = 0);
  void ClockEvent(const nlohmann::json& measurement);
  void Deliver(const std::string& stream, nlohmann::json record, const Event* event);
  const ClockAnchor& anchor() const { return opts_.anchor ? *opts_.anchor : journal_.anchor(); }
  bool started() const { return journal_open_ || (!opts_.own_journal && !agent_run_id_.empty()); }

  AgentClientOptions opts_;
  std::string where_;
  std::atomic<pid_t> ssh_pid_{-1};
  std::atomic<int> tcp_fd_{-1};
  std::string token_;  // tcp: read at Connect()
  int to_agent_ = -1, from_agent_ = -1, err_fd_ = -1;
  std::string in_buf_, err_tail_;
  AgentClockOffset clock_;
  Journal journal_;
  bool journal_open_ = false;
  std::string agent_run_id_, agent_run_dir_;
  int agent_pid_ = 0;
  int64_t load_start_utc_ns_ = 0;  // Go()
  std::string agent_version_;
  uint64_t next_seq_ = 0, seq_gaps_ = 0;
  int reconnects_ = 0;
  int64_t last_completion_utc_ns_ =
      0;  // controller timeline: a sample's last_completion_utc_ns, else its end
  int64_t lost_completion_utc_ns_ = -1;  // the last completion before a loss, until one after it arrives
  // When the loss was noticed (controller UTC). Records that arrive later but
  // whose completions are older (the dead process's last records, resent by a
  // resume) still belong before the loss; the first completion after it is the
  // first one later than this.
  int64_t lost_at_utc_ns_ = 0;
  int64_t first_ack_after_loss_utc_ns_ = 0;  // acknowledged writes count as completions too
  // With verify: the last acknowledged write per block offset that the agent
  // streamed ("acks" records): generation and ack time (controller timeline).
  // After an `agent_restarted`, the blocks are sent in a `check` (resent after a
  // reconnect until its check_result arrives).
  std::unordered_map<uint64_t, std::pair<uint32_t, int64_t>> acked_;
  nlohmann::json pending_check_;
  int check_id_ = 0;
  std::atomic<uint64_t> completed_ios_{0};
  std::atomic<bool> stop_requested_{false};
  bool stop_sent_ = false;
  int wake_fd_ = -1;  // eventfd: RequestStop() wakes Receive()
  nlohmann::json finished_;
  nlohmann::json clock_history_ = nlohmann::json::array();  // every measurement, for run.json
};

}  // namespace fb
