#include "agent/agent_client.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "agent/agent_token.h"
#include "agent/protocol.h"
#include "core/clock.h"
#include "core/version.h"
#include "plugin/command_target.h"
#include "plugin/settings.h"

namespace fb {

AgentClient::AgentClient(AgentClientOptions options) : opts_(std::move(options)) {
  if (tcp()) {
    where_ = (opts_.address.find(':') != std::string::npos ? "[" + opts_.address + "]" : opts_.address) +
             ":" + std::to_string(opts_.port);
  } else {
    where_ = opts_.ssh.is_object() && opts_.ssh.contains("host") ? opts_.ssh.value("host", std::string())
                                                                 : "localhost";
  }
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

AgentClient::~AgentClient() {
  CloseConnection(false);
  if (journal_open_) journal_.Close();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void AgentClient::RequestStop() {
  stop_requested_.store(true);
  uint64_t one = 1;
  if (wake_fd_ >= 0) (void)!::write(wake_fd_, &one, sizeof one);
}

Status AgentClient::Hello(const std::string& attach) {
  nlohmann::json hello = {{"type", "hello"}, {"protocol", kAgentProtocolVersion}, {"version", kVersion}};
  if (!attach.empty()) hello["attach"] = attach;
  if (tcp()) hello["token"] = token_;  // never logged: errors name the file, not this
  FB_RETURN_IF_ERROR(Send(hello));
  auto m = Await("hello", MonoNs() + opts_.reply_timeout_ns);
  if (!m.ok()) return m.status();
  if (m->value("protocol", 0) != kAgentProtocolVersion) {
    return Status::Unavailable("agent " + opts_.name + " on " + where_ + ": speaks protocol " +
                               std::to_string(m->value("protocol", 0)));
  }
  agent_version_ =
      m->contains("version") && (*m)["version"].is_string() ? (*m)["version"].get<std::string>() : "";
  if (agent_version_ != kVersion) {
    return Status::Unavailable("agent " + opts_.name + " on " + where_ + " runs faultbench " +
                               (agent_version_.empty()
                                    ? std::string("older than 0.1.0 (no version in its hello)")
                                    : agent_version_) +
                               ", this controller " + kVersion + ": install faultbench-agent " + kVersion +
                               " there (faultbench deploy PLAN)");
  }
  agent_pid_ = m->value("pid", 0);
  return Status::Ok();
}

Status AgentClient::MeasureClock() {
  AgentClockOffset best;
  best.rtt_ns = INT64_MAX;
  for (int i = 0; i < std::max(1, opts_.time_rounds); ++i) {
    int64_t m0 = MonoNs(), u0 = UtcNs();
    FB_RETURN_IF_ERROR(Send({{"type", "time"}, {"controller_utc_ns", u0}}));
    Result<nlohmann::json> m = Status::Unavailable("no answer");
    do {  // a keep-alive ping's answer may come first: only ours counts
      m = Await("time", m0 + opts_.reply_timeout_ns);
      if (!m.ok()) return m.status();
    } while (m->value("controller_utc_ns", int64_t(0)) != u0);
    int64_t rtt = MonoNs() - m0;
    if (rtt < best.rtt_ns) {
      best.rtt_ns = rtt;
      best.uncertainty_ns = rtt / 2;
      best.offset_ns = m->value("agent_utc_ns", int64_t(0)) - (u0 + rtt / 2);
    }
  }
  clock_ = best;
  nlohmann::json c = {{"at_utc_ns", UtcNs()},
                      {"offset_ns", best.offset_ns},
                      {"uncertainty_ns", best.uncertainty_ns},
                      {"rtt_ns", best.rtt_ns},
                      {"rounds", opts_.time_rounds}};
  clock_history_.push_back(c);
  if (journal_open_) journal_.UpdateRunInfo({{"agent", {{"clock", clock_history_}}}});
  if (started()) ClockEvent(c);
  return Status::Ok();
}

void AgentClient::ClockEvent(const nlohmann::json& c) {
  WriteEvent("agent_clock", Severity::kDebug,
             "agent " + opts_.name + " clock offset " + std::to_string(c["offset_ns"].get<int64_t>() / 1000) +
                 " us +- " + std::to_string(c["uncertainty_ns"].get<int64_t>() / 1000) + " us",
             {{"offset_ns", c["offset_ns"]},
              {"uncertainty_ns", c["uncertainty_ns"]},
              {"rtt_ns", c["rtt_ns"]},
              {"rounds", c["rounds"]}},
             c["at_utc_ns"].get<int64_t>());
}

Status AgentClient::Connect() {
  if (tcp()) {
    if (opts_.port < 1 || opts_.port > 65535)
      return Status::InvalidInput("agent " + opts_.name + " on " + where_ + ": port must be 1..65535");
    auto token = ReadAgentToken(opts_.token_file);
    if (!token.ok()) return token.status().With("agent " + opts_.name + " on " + where_);
    token_ = *token;
  } else if (opts_.transport != "ssh") {
    return Status::InvalidInput("agent " + opts_.name + ": transport \"" + opts_.transport +
                                "\" (want ssh or tcp)");
  }
  FB_RETURN_IF_ERROR(Spawn({}));
  Status s = Hello("");
  if (s.ok()) s = MeasureClock();
  if (!s.ok()) CloseConnection(true);
  return s;
}

Status AgentClient::Start(const std::string& run_id, const nlohmann::json& workload, bool hold) {
  if (opts_.own_journal && !journal_open_) {
    FB_RETURN_IF_ERROR(journal_.Create(opts_.journal_dir, opts_.name, ClockAnchor::Take()));
    journal_open_ = true;
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    journal_.UpdateRunInfo({{"command", "agent-controller"},
                            {"name", opts_.name},
                            {"host", host},
                            {"agent", {{"name", opts_.name}, {"where", where_}, {"clock", clock_history_}}}});
  }
  nlohmann::json start = {{"type", "start"}, {"run_id", run_id}, {"workload", workload}};
  if (hold) start["hold"] = true;
  FB_RETURN_IF_ERROR(Send(start));
  auto m = Await("started", MonoNs() + opts_.reply_timeout_ns);
  if (!m.ok()) return m.status();
  agent_run_id_ = m->value("run_id", std::string());
  agent_run_dir_ = m->value("run_dir", std::string());
  if (journal_open_) {
    journal_.UpdateRunInfo(
        {{"agent", {{"run_id", agent_run_id_}, {"run_dir", agent_run_dir_}, {"pid", agent_pid_}}}});
  }
  for (const auto& c : clock_history_) ClockEvent(c);  // the connect's measurement(s)
  return Status::Ok();
}

Status AgentClient::SendGo(int64_t at_utc_ns) {
  return Send({{"type", "go"}, {"at_utc_ns", at_utc_ns + clock_.offset_ns}});
}

Status AgentClient::AwaitGoing() {
  auto m = Await("going", MonoNs() + opts_.reply_timeout_ns);
  if (!m.ok()) return m.status();
  load_start_utc_ns_ = ToController(m->value("load_start_utc_ns", int64_t(0)));
  return Status::Ok();
}

Status AgentClient::Stop() { return Send({{"type", "stop"}}); }

void AgentClient::Lost(const std::string& why) {
  WriteEvent("agent_lost", Severity::kWarning, "lost agent " + opts_.name + " on " + where_ + ": " + why,
             {{"why", why}, {"last_completion_utc_ns", last_completion_utc_ns_}, {"next_seq", next_seq_}});
  if (lost_completion_utc_ns_ < 0) {
    lost_completion_utc_ns_ = last_completion_utc_ns_;
    lost_at_utc_ns_ = UtcNs();
    first_ack_after_loss_utc_ns_ = 0;
  }
  CloseConnection(true);
}

Status AgentClient::Reconnect(int64_t deadline_ns) {
  int64_t lost_at = MonoNs();
  int64_t give_up = std::min(deadline_ns, lost_at + opts_.give_up_ns);
  int64_t backoff = opts_.reconnect_initial_ns;
  Status last = Status::Unavailable("not tried");
  for (int attempt = 1; MonoNs() + backoff < give_up; ++attempt) {
    SleepUntilMono(MonoNs() + backoff);
    backoff = std::min(backoff * 2, opts_.reconnect_max_ns);
    // Over ssh the agent process attaches by its flag, over tcp by the hello.
    last = Spawn({"--attach", agent_run_id_});
    if (last.ok()) last = Hello(tcp() ? agent_run_id_ : "");
    if (last.ok()) last = MeasureClock();
    if (last.ok()) last = Send({{"type", "resume"}, {"from_seq", next_seq_}});
    if (!last.ok()) {
      CloseConnection(true);
      continue;
    }
    ++reconnects_;
    if (!pending_check_.is_null()) (void)Send(pending_check_);  // its answer was lost with the connection
    WriteEvent("agent_back", Severity::kInfo, "agent " + opts_.name + " on " + where_ + " is back",
               {{"first_completion_utc_ns", 0},  // known later: agent_first_completion
                {"down_ms", double(MonoNs() - lost_at) / 1e6},
                {"attempts", attempt},
                {"resume_from_seq", next_seq_},
                {"offset_ns", clock_.offset_ns},
                {"uncertainty_ns", clock_.uncertainty_ns}});
    return Status::Ok();
  }
  return last.With("agent " + opts_.name + " on " + where_ + ": reconnect gave up");
}

Status AgentClient::RunToEnd(int64_t timeout_ns) {
  int64_t deadline = MonoNs() + timeout_ns;
  int64_t last_msg = MonoNs(), next_ping = MonoNs() + opts_.ping_interval_ns;
  int64_t next_clock = MonoNs() + opts_.clock_every_ns;
  while (finished_.is_null()) {
    if (MonoNs() >= deadline)
      return Status::Unavailable("agent " + opts_.name + " on " + where_ + ": run did not finish in time");
    std::string lost;
    if (stop_requested_.load() && !stop_sent_) {
      deadline = std::min(deadline, MonoNs() + opts_.stop_timeout_ns);
      Status s = Stop();
      if (s.ok())
        stop_sent_ = true;
      else
        lost = s.message();
    } else if (MonoNs() >= next_clock) {
      next_clock = MonoNs() + opts_.clock_every_ns;
      Status s = MeasureClock();
      if (!s.ok())
        lost = s.message();
      else
        last_msg = MonoNs();
    }
    if (!lost.empty()) {
      Lost(lost);
      FB_RETURN_IF_ERROR(Reconnect(deadline));
      stop_sent_ = false;
      last_msg = MonoNs();
      continue;
    }
    int64_t wake = std::min({deadline, next_ping, next_clock, last_msg + opts_.silence_timeout_ns});
    auto m = Receive(wake, true);
    if (!m.ok()) {
      lost = m.status().message();
    } else if (!m->is_null()) {
      last_msg = MonoNs();
      if (m->value("type", std::string()) == "error") {
        WriteEvent("agent_error", Severity::kError, m->value("message", std::string()),
                   nlohmann::json::object());
      }
      OnMessage(*m);
    } else if (MonoNs() >= last_msg + opts_.silence_timeout_ns) {
      lost = "no message for " + std::to_string(opts_.silence_timeout_ns / kNsPerMs) + " ms";
    } else if (MonoNs() >= next_ping) {
      next_ping = MonoNs() + opts_.ping_interval_ns;
      Status s = Send({{"type", "time"}, {"controller_utc_ns", UtcNs()}});
      if (!s.ok()) lost = s.message();
    }
    if (!lost.empty()) {
      Lost(lost);
      FB_RETURN_IF_ERROR(Reconnect(deadline));
      stop_sent_ = false;  // a stop requested before the loss is sent again
      last_msg = MonoNs();
    }
  }
  CloseConnection(false);
  return Status::Ok();
}

}  // namespace fb
