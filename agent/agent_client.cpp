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
#include "injectors/command_target.h"
#include "injectors/settings.h"

namespace fb {

namespace {

Severity SeverityFromName(const std::string& s) {
  for (Severity v :
       {Severity::kDebug, Severity::kInfo, Severity::kWarning, Severity::kError, Severity::kCritical}) {
    if (s == SeverityName(v)) return v;
  }
  return Severity::kInfo;
}

double RelS(int64_t utc_ns, const ClockAnchor& a) {
  return std::round(double(utc_ns - a.utc_ns) / 1e3) / 1e6;
}

// As Journal::Stamp, on `a`.
void StampOn(const ClockAnchor& a, int64_t mono_ns, nlohmann::json* record) {
  int64_t utc = a.ToUtc(mono_ns);
  (*record)["t_utc_ns"] = utc;
  (*record)["t"] = FormatUtcIso(utc, 6);
  (*record)["t_rel_s"] = std::round(double(mono_ns - a.mono_ns) / 1e3) / 1e6;
}

uint64_t Ios(const nlohmann::json& sample) {
  uint64_t n = 0;
  for (const char* op : {"read", "write"}) {
    if (sample.contains(op) && sample[op].is_object()) n += sample[op].value("ios", uint64_t(0));
  }
  return n;
}

}  // namespace

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

Status AgentClient::ConnectTcp() {
  const std::string who = "agent " + opts_.name + " on " + where_;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(opts_.address.c_str(), std::to_string(opts_.port).c_str(), &hints, &res);
  if (rc != 0) return Status::Unavailable(who + ": " + gai_strerror(rc));
  std::string err = "no address";
  int fd = -1;
  for (addrinfo* ai = res; ai && fd < 0; ai = ai->ai_next) {
    int s = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (s < 0) {
      err = strerror(errno);
      continue;
    }
    int r = ::connect(s, ai->ai_addr, ai->ai_addrlen);
    if (r != 0 && errno == EINPROGRESS) {
      pollfd p{s, POLLOUT, 0};
      int64_t deadline = MonoNs() + opts_.connect_timeout_ns;
      do {
        r = poll(&p, 1, int(std::max<int64_t>(1, (deadline - MonoNs()) / kNsPerMs)));
      } while (r < 0 && errno == EINTR && MonoNs() < deadline);
      if (r == 0) {
        err = "connect timed out after " + std::to_string(opts_.connect_timeout_ns / kNsPerMs) + " ms";
        ::close(s);
        continue;
      }
      int so_error = 0;
      socklen_t len = sizeof so_error;
      getsockopt(s, SOL_SOCKET, SO_ERROR, &so_error, &len);
      r = so_error == 0 ? 0 : -1;
      errno = so_error;
    }
    if (r != 0) {
      err = strerror(errno);
      ::close(s);
      continue;
    }
    fd = s;
  }
  freeaddrinfo(res);
  if (fd < 0) return Status::Unavailable(who + ": " + err);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  // Writes to a dead peer must fail, not block: the silence timeout notices
  // the rest.
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int wfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (wfd < 0) {
    int e = errno;
    ::close(fd);
    return ErrnoStatus(who + ": dup", e);
  }
  to_agent_ = wfd;
  from_agent_ = fd;
  err_fd_ = -1;
  in_buf_.clear();
  err_tail_.clear();
  tcp_fd_ = fd;
  return Status::Ok();
}

Status AgentClient::Spawn(const std::vector<std::string>& extra_args) {
  if (tcp()) return ConnectTcp();
  Settings settings(opts_.ssh.is_object() ? opts_.ssh : nlohmann::json::object());
  CommandTarget target = CommandTarget::FromSettings("agent " + opts_.name, &settings);
  settings.RejectUnknownKeys();
  if (!settings.problems().empty()) {
    const auto& p = settings.problems().front();
    return Status::InvalidInput("agent " + opts_.name + ": ssh." + p.key + ": " + p.message);
  }
  std::vector<std::string> inner = opts_.agent_argv;
  if (!opts_.state_dir.empty()) inner.insert(inner.end(), {"--state-dir", opts_.state_dir});
  inner.insert(inner.end(), extra_args.begin(), extra_args.end());
  std::vector<std::string> argv = target.Wrap(inner);
  if (target.remote()) {
    // A dead network never closes the connection by itself: let ssh notice.
    argv.insert(argv.begin() + 1, {"-o", "ServerAliveInterval=1", "-o", "ServerAliveCountMax=5"});
  }
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0) return ErrnoStatus("pipe", errno);
  if (pipe2(out_pipe, O_CLOEXEC) != 0) return ErrnoStatus("pipe", errno);
  if (pipe2(err_pipe, O_CLOEXEC) != 0) return ErrnoStatus("pipe", errno);
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) return ErrnoStatus("fork", errno);
  if (pid == 0) {
    dup2(in_pipe[0], 0);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    setpgid(0, 0);
    signal(SIGPIPE, SIG_DFL);
    execvp(cargv[0], cargv.data());
    _exit(127);
  }
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  to_agent_ = in_pipe[1];
  from_agent_ = out_pipe[0];
  err_fd_ = err_pipe[0];
  fcntl(err_fd_, F_SETFL, O_NONBLOCK);
  in_buf_.clear();
  err_tail_.clear();
  ssh_pid_ = pid;
  return Status::Ok();
}

void AgentClient::CloseConnection(bool kill_ssh) {
  if (to_agent_ >= 0) ::close(to_agent_);
  to_agent_ = -1;
  tcp_fd_ = -1;
  pid_t pid = ssh_pid_.exchange(-1);
  if (pid > 0) {
    if (kill_ssh) kill(pid, SIGKILL);
    int status;
    int64_t deadline = MonoNs() + 3 * kNsPerSec;
    while (waitpid(pid, &status, WNOHANG) == 0) {
      if (MonoNs() > deadline) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        break;
      }
      usleep(10'000);
    }
  }
  for (int* fd : {&from_agent_, &err_fd_}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
}

void AgentClient::DrainStderr() {
  char buf[4096];
  ssize_t n;
  while (err_fd_ >= 0 && (n = ::read(err_fd_, buf, sizeof buf)) > 0) {
    err_tail_.append(buf, size_t(n));
    if (err_tail_.size() > 4096) err_tail_.erase(0, err_tail_.size() - 4096);
  }
}

std::string AgentClient::ErrTail() {
  DrainStderr();
  std::string t = err_tail_;
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
  return t.empty() ? "" : ": " + t;
}

Result<nlohmann::json> AgentClient::Receive(int64_t deadline_ns, bool wakeable) {
  for (;;) {
    size_t nl = in_buf_.find('\n');
    if (nl != std::string::npos) {
      std::string line = in_buf_.substr(0, nl);
      in_buf_.erase(0, nl + 1);
      auto m = nlohmann::json::parse(line, nullptr, false);
      if (m.is_discarded() || !m.is_object()) continue;  // not ours (a login banner, say)
      return m;
    }
    if (from_agent_ < 0)
      return Status::Unavailable("agent " + opts_.name + " on " + where_ + ": not connected");
    int64_t left = deadline_ns - MonoNs();
    if (left <= 0) return nlohmann::json();  // timeout: null
    // Negative fds are ignored by poll: err_fd_ may be closed, wake_fd_ unused.
    pollfd p[3] = {{from_agent_, POLLIN, 0}, {err_fd_, POLLIN, 0}, {wakeable ? wake_fd_ : -1, POLLIN, 0}};
    int r = poll(p, 3, int(std::min<int64_t>(left / kNsPerMs + 1, 1000)));
    if (r < 0 && errno != EINTR) return ErrnoStatus("poll", errno);
    if (r <= 0) continue;
    if (p[1].revents) DrainStderr();
    if (p[2].revents) {
      uint64_t v;
      while (::read(wake_fd_, &v, sizeof v) > 0) {
      }
      return nlohmann::json();  // woken: the caller looks at its flags
    }
    if (p[0].revents) {
      char buf[65536];
      ssize_t n = ::read(from_agent_, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        return Status::Unavailable("agent " + opts_.name + " on " + where_ + ": connection closed" +
                                   ErrTail());
      }
      in_buf_.append(buf, size_t(n));
    }
  }
}

Status AgentClient::Send(const nlohmann::json& msg) {
  if (to_agent_ < 0) return Status::Unavailable("agent " + opts_.name + " on " + where_ + ": not connected");
  std::string text = msg.dump() + "\n";
  for (size_t off = 0; off < text.size();) {
    ssize_t n = ::write(to_agent_, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      return Status::Unavailable("agent " + opts_.name + " on " + where_ + ": connection lost while sending");
    off += size_t(n);
  }
  return Status::Ok();
}

Result<nlohmann::json> AgentClient::Await(const std::string& type, int64_t deadline_ns) {
  for (;;) {
    auto m = Receive(deadline_ns);
    if (!m.ok()) return m.status();
    if (m->is_null()) {
      return Status::Unavailable("agent " + opts_.name + " on " + where_ + ": no \"" + type +
                                 "\" answer in time" + ErrTail());
    }
    std::string t = m->value("type", std::string());
    if (t == type) return m;
    if (t == "error") {
      return Status::Unavailable("agent " + opts_.name + " on " + where_ + ": " +
                                 m->value("message", std::string()));
    }
    if (t == "record" || t == "finished") OnMessage(*m);
  }
}

Status AgentClient::Hello(const std::string& attach) {
  nlohmann::json hello = {{"type", "hello"}, {"protocol", kAgentProtocolVersion}};
  if (!attach.empty()) hello["attach"] = attach;
  if (tcp()) hello["token"] = token_;  // never logged: errors name the file, not this
  FB_RETURN_IF_ERROR(Send(hello));
  auto m = Await("hello", MonoNs() + opts_.reply_timeout_ns);
  if (!m.ok()) return m.status();
  if (m->value("protocol", 0) != kAgentProtocolVersion) {
    return Status::Unavailable("agent " + opts_.name + " on " + where_ + ": speaks protocol " +
                               std::to_string(m->value("protocol", 0)));
  }
  agent_pid_ = m->value("pid", 0);
  return Status::Ok();
}

Status AgentClient::MeasureClock() {
  ClockOffset best;
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

Status AgentClient::Start(const std::string& run_id, const nlohmann::json& workload) {
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
  FB_RETURN_IF_ERROR(Send({{"type", "start"}, {"run_id", run_id}, {"workload", workload}}));
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

Status AgentClient::Stop() { return Send({{"type", "stop"}}); }

void AgentClient::WriteEvent(const std::string& kind, Severity sev, const std::string& message,
                             nlohmann::json attrs, int64_t utc_ns) {
  if (!started()) return;
  Event e;
  e.mono_ns = utc_ns ? anchor().ToMono(utc_ns) : MonoNs();
  e.source = opts_.name;
  e.kind = kind;
  e.severity = sev;
  e.message = message;
  e.attrs = std::move(attrs);
  e.attrs["agent"] = opts_.name;
  Deliver("events", nullptr, &e);
}

void AgentClient::Deliver(const std::string& stream, nlohmann::json record, const Event* event) {
  if (event) {
    if (opts_.sink) opts_.sink->OnAgentEvent(opts_.name, *event);
    if (journal_open_) (void)journal_.AppendEvent(*event);
  } else if (stream == "samples") {
    if (journal_open_) (void)journal_.AppendSample(record);
    if (opts_.sink) opts_.sink->OnAgentSample(opts_.name, std::move(record));
  } else {
    if (journal_open_) (void)journal_.AppendStall(record);
    if (opts_.sink) opts_.sink->OnAgentStall(opts_.name, std::move(record));
  }
}

void AgentClient::OnMessage(const nlohmann::json& m) {
  std::string type = m.value("type", std::string());
  if (type == "finished") {
    finished_ = m;
    uint64_t seq = m.value("seq", uint64_t(0));
    if (seq > next_seq_) seq_gaps_ += seq - next_seq_;
    next_seq_ = std::max(next_seq_, seq + 1);
    if (!journal_open_) return;
    journal_.UpdateRunInfo(
        {{"status", m.value("status", std::string("unknown"))},
         {"load_summary", m.value("summary", nlohmann::json())},
         {"agent", {{"records", next_seq_}, {"seq_gaps", seq_gaps_}, {"reconnects", reconnects_}}},
         {"end_utc", FormatUtcIso(UtcNs())}});
    return;
  }
  if (type == "check_result") return OnCheckResult(m);
  if (type != "record") return;
  uint64_t seq = m.value("seq", uint64_t(0));
  if (seq < next_seq_) return;  // already have it (a resume overlaps)
  if (seq > next_seq_) {
    seq_gaps_ += seq - next_seq_;
    WriteEvent("agent_seq_gap", Severity::kWarning,
               "records " + std::to_string(next_seq_) + ".." + std::to_string(seq - 1) + " never arrived",
               {{"from_seq", next_seq_}, {"to_seq", seq - 1}});
  }
  next_seq_ = seq + 1;
  const std::string stream = m.value("stream", std::string());
  nlohmann::json rec = m.value("body", nlohmann::json::object());
  if (!rec.is_object()) return;
  if (stream == "acks") {
    for (const auto& a : rec.value("acks", nlohmann::json::array())) {
      if (!a.is_array() || a.size() < 3 || !a[0].is_number_unsigned()) continue;
      int64_t at = ToController(a[2].get<int64_t>());
      acked_[a[0].get<uint64_t>()] = {a[1].get<uint32_t>(), at};
      // An acknowledged write is a completion, reported every ~50 ms where
      // samples come once per interval: it times a loss more closely.
      if (lost_completion_utc_ns_ < 0) {
        last_completion_utc_ns_ = std::max(last_completion_utc_ns_, at);
      } else if (at <= lost_at_utc_ns_) {
        lost_completion_utc_ns_ = std::max(lost_completion_utc_ns_, at);
      } else if (!first_ack_after_loss_utc_ns_ || at < first_ack_after_loss_utc_ns_) {
        first_ack_after_loss_utc_ns_ = at;
      }
    }
    return;
  }
  int64_t agent_t = rec.value("t_utc_ns", int64_t(0));
  int64_t t = ToController(agent_t);
  const ClockAnchor& a = anchor();
  if (stream == "events") {
    Event e;
    e.mono_ns = a.ToMono(t);
    e.source = rec.value("source", std::string());
    e.kind = rec.value("kind", std::string());
    e.severity = SeverityFromName(rec.value("severity", std::string()));
    e.message = rec.value("message", std::string());
    e.attrs = rec.value("attrs", nlohmann::json::object());
    e.attrs["agent"] = opts_.name;
    e.attrs["agent_t_utc_ns"] = agent_t;
    e.attrs["agent_seq"] = seq;
    Deliver("events", nullptr, &e);
    // A new agent process: the disk it found must hold every write the
    // controller saw acknowledged before (records arrive in seq order, so
    // acked_ holds exactly the dead process's acknowledgements here).
    if (e.kind == "agent_restarted" && !acked_.empty()) SendDiskCheck();
    return;
  }
  rec["agent"] = opts_.name;
  rec["agent_seq"] = seq;
  rec["agent_t_utc_ns"] = agent_t;
  StampOn(a, a.ToMono(t), &rec);
  if (stream == "samples") {
    // The interval's first and last completion, when the agent's load records
    // them; else the sample's end (its interval's resolution).
    int64_t first = t, last = t;
    const std::pair<const char*, int64_t*> edges[] = {{"first_completion_utc_ns", &first},
                                                      {"last_completion_utc_ns", &last}};
    for (auto [key, out] : edges) {
      if (!rec.contains(key) || !rec[key].is_number_integer()) continue;
      int64_t agent_edge = rec[key].get<int64_t>();
      rec[std::string("agent_") + key] = agent_edge;
      rec[key] = *out = ToController(agent_edge);
    }
    uint64_t ios = rec.value("job", nlohmann::json()) == "all" ? Ios(rec) : 0;
    if (ios > 0) {
      completed_ios_.fetch_add(ios);
      if (lost_completion_utc_ns_ >= 0 && last <= lost_at_utc_ns_) {
        // Completed before the loss was noticed: it arrives late (a resume).
        lost_completion_utc_ns_ = std::max(lost_completion_utc_ns_, last);
      } else if (lost_completion_utc_ns_ >= 0) {
        int64_t before = lost_completion_utc_ns_;
        lost_completion_utc_ns_ = -1;
        if (first_ack_after_loss_utc_ns_ && first_ack_after_loss_utc_ns_ < first)
          first = first_ack_after_loss_utc_ns_;
        first_ack_after_loss_utc_ns_ = 0;
        double down_ms = before ? double(first - before) / 1e6 : 0.0;
        WriteEvent(
            "agent_first_completion", Severity::kInfo,
            "agent " + opts_.name + ": I/O completes again" +
                (before ? " " + std::to_string(int64_t(down_ms)) + " ms after the last one before the loss"
                        : ""),
            {{"first_completion_utc_ns", first},
             {"last_completion_utc_ns", before},
             {"downtime_ms", down_ms}},
            std::max(t, lost_at_utc_ns_ + 1));  // after agent_lost: plans wait for it after the loss
      }
      last_completion_utc_ns_ = std::max(last_completion_utc_ns_, last);
    }
    Deliver("samples", std::move(rec), nullptr);
  } else if (stream == "stalls") {
    for (const char* edge : {"start", "end"}) {
      std::string k = std::string(edge) + "_utc_ns";
      if (!rec.contains(k) || !rec[k].is_number_integer()) continue;
      int64_t agent_edge = rec[k].get<int64_t>();
      int64_t edge_t = ToController(agent_edge);
      rec["agent_" + k] = agent_edge;
      rec[k] = edge_t;
      rec[edge] = FormatUtcIso(edge_t, 6);
      rec[std::string(edge) + "_rel_s"] = RelS(edge_t, a);
    }
    Deliver("stalls", std::move(rec), nullptr);
  }
}

void AgentClient::SendDiskCheck() {
  std::vector<std::pair<uint64_t, std::pair<uint32_t, int64_t>>> blocks(acked_.begin(), acked_.end());
  std::sort(blocks.begin(), blocks.end());
  nlohmann::json list = nlohmann::json::array();
  for (const auto& [offset, ga] : blocks) list.push_back({offset, ga.first, ga.second});
  pending_check_ = {{"type", "check"}, {"id", ++check_id_}, {"blocks", std::move(list)}};
  WriteEvent("agent_disk_check", Severity::kInfo,
             "agent " + opts_.name + " restarted: checking " + std::to_string(blocks.size()) +
                 " blocks on its disk against the writes acknowledged before",
             {{"blocks", blocks.size()}, {"id", check_id_}});
  (void)Send(pending_check_);  // on failure, the reconnect sends it again
}

// The agent's answer to SendDiskCheck: an event with the counts, and one
// finding event per block older than acknowledged (the kinds and attrs of the
// load's own verify findings, so reports and expectations count them).
void AgentClient::OnCheckResult(const nlohmann::json& m) {
  if (pending_check_.is_null() || m.value("id", -1) != pending_check_.value("id", -2)) return;
  pending_check_ = nullptr;
  if (m.contains("error")) {
    WriteEvent("agent_disk_checked", Severity::kError,
               "agent " + opts_.name + ": the check of its disk failed: " + m.value("error", std::string()),
               {{"error", m["error"]}});
    return;
  }
  uint64_t bad = m.value("bad", uint64_t(0));
  WriteEvent("agent_disk_checked", bad ? Severity::kError : Severity::kInfo,
             "agent " + opts_.name + ": " + std::to_string(m.value("checked", uint64_t(0))) +
                 " blocks acknowledged before the restart checked on disk, " + std::to_string(bad) +
                 " not as acknowledged",
             {{"checked", m.value("checked", uint64_t(0))},
              {"ok", m.value("ok", uint64_t(0))},
              {"newer", m.value("newer", uint64_t(0))},
              {"bad", bad},
              {"elapsed_ms", m.value("elapsed_ms", 0.0)}});
  for (const auto& f : m.value("findings", nlohmann::json::array())) {
    std::string kind = f.value("verdict", std::string("lost_write"));
    int64_t acked_at = f.value("ack_utc_ns", int64_t(0));
    WriteEvent(kind, Severity::kError,
               "agent " + opts_.name + ": block at offset " + std::to_string(f.value("offset", uint64_t(0))) +
                   " holds generation " + std::to_string(f.value("found_generation", 0u)) + ", generation " +
                   std::to_string(f.value("acked_generation", 0u)) + " was acknowledged at " +
                   FormatUtcIso(acked_at, 3) + " before the restart",
               {{"offset", f.value("offset", uint64_t(0))},
                {"acked_generation", f.value("acked_generation", 0u)},
                {"found_generation", f.value("found_generation", 0u)},
                {"acked_utc_ns", acked_at},
                {"final_pass", false},
                {"after_restart", true}});
  }
}

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
