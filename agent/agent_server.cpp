// The agent's entry points (agent_server.h: RunAgent, RunAgentBoot, the stop and
// shutdown requests) and its protocol session (AgentSession, agent_server_impl.h):
// reading requests, sending replies and records to the controller, each message
// type, attaching to a run, and the streamer that follows records.jsonl.
#include "agent/agent_server.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "agent/agent_server_impl.h"
#include "agent/agent_token.h"
#include "agent/disk_check.h"
#include "agent/protocol.h"
#include "core/version.h"

namespace fb {

std::atomic<LoadGenerator*> g_generator{nullptr};
std::atomic<bool> g_shutdown{false};  // SIGTERM: stop, but leave the run for --boot

std::string HostName() {
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  return host;
}

namespace {

// Finds the run directory `id` names: an exact directory name, else the newest
// "<id>-<utc>" one.
std::string FindRun(const std::string& state_dir, const std::string& id) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (id.empty() || id.find('/') != std::string::npos) return "";
  if (fs::is_directory(state_dir + "/" + id, ec)) return state_dir + "/" + id;
  std::string best;
  for (const auto& e : fs::directory_iterator(state_dir, ec)) {
    std::string name = e.path().filename().string();
    if (name.rfind(SanitizeName(id) + "-", 0) == 0 && name > best) best = name;
  }
  return best.empty() ? "" : state_dir + "/" + best;
}

}  // namespace

AgentSession::AgentSession(int in_fd, int out_fd, AgentOptions options)
    : in_fd_(in_fd), out_fd_(out_fd), options_(std::move(options)) {
  if (out_fd_ < 0) connected_ = false;  // --boot: nobody to talk to
  // Writes must never block for good: a controller that stops reading (or a
  // replay larger than the pipe while nobody reads) would hold this session's
  // threads, and so its exit, forever. Send waits in slices instead.
  if (out_fd_ >= 0) fcntl(out_fd_, F_SETFL, fcntl(out_fd_, F_GETFL) | O_NONBLOCK);
}

int AgentSession::Run() {
  if (!options_.attach.empty() && !Attach(options_.attach)) {
    fprintf(stderr, "faultbench: agent: no run \"%s\" in %s\n", options_.attach.c_str(),
            options_.state_dir.c_str());
    return kExitUsage;
  }
  std::string line;
  while (ReadLine(&line)) Handle(line);
  if (!quit_) closing_ = true;  // the controller is gone: nothing more is sent
  if (quit_) {
    // A shutdown: the streamer sends what is left, then ends by itself.
    if (streamer_.joinable()) streamer_.join();
  }
  StopStreamer();
  if (check_thread_.joinable()) check_thread_.join();
  if (load_thread_.joinable()) load_thread_.join();
  if (record_thread_.joinable()) record_thread_.join();
  journal_.Close();
  return kExitOk;
}

bool AgentSession::ReadLine(std::string* line) {
  for (;;) {
    size_t nl = in_buf_.find('\n');
    if (nl != std::string::npos) {
      *line = in_buf_.substr(0, nl);
      in_buf_.erase(0, nl + 1);
      return true;
    }
    if (quit_ || (g_shutdown && !gen_)) return false;
    pollfd pfd{in_fd_, POLLIN, 0};
    int rc = poll(&pfd, 1, 100);
    if (rc <= 0) continue;  // timeout or EINTR: look at quit_ again
    char buf[4096];
    ssize_t n = ::read(in_fd_, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
      continue;  // EAGAIN: in and out share a nonblocking socket
    if (n <= 0) return false;
    in_buf_.append(buf, size_t(n));
  }
}

bool AgentSession::Send(const nlohmann::json& msg) {
  std::string text = msg.dump() + "\n";
  std::lock_guard<std::mutex> lock(out_mu_);
  if (!connected_) return false;
  int64_t blocked_since = 0;
  for (size_t off = 0; off < text.size();) {
    ssize_t n = ::write(out_fd_, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      // Full: wait, unless the session is ending or the controller has not
      // read anything for kSendStallNs (then it is as good as gone).
      int64_t now = MonoNs();
      if (!blocked_since) blocked_since = now;
      if (closing_ || now - blocked_since > kSendStallNs) {
        connected_ = false;
        return false;
      }
      pollfd pfd{out_fd_, POLLOUT, 0};
      (void)poll(&pfd, 1, 100);
      continue;
    }
    if (n <= 0) {
      connected_ = false;  // the controller is gone; the load goes on
      return false;
    }
    blocked_since = 0;
    off += size_t(n);
  }
  return true;
}

void AgentSession::Handle(const std::string& line) {
  nlohmann::json m = nlohmann::json::parse(line, nullptr, false);
  if (!options_.token.empty() && !authenticated_) {
    // Nothing of the line is echoed: it may hold a (wrong) token.
    bool ok = m.is_object() && m.value("type", nlohmann::json()) == "hello" && m.contains("token") &&
              m["token"].is_string() &&
              AgentTokensEqual(m["token"].get_ref<const std::string&>(), options_.token);
    if (!ok) {
      SendError(m.is_object() && m.value("type", nlohmann::json()) == "hello"
                    ? "hello: token missing or wrong (the agent's --token-file)"
                    : "the first message must be hello with the token (the agent's --token-file)");
      in_buf_.clear();
      quit_ = true;  // ends the session: nothing was started
      return;
    }
    authenticated_ = true;
  }
  if (m.is_discarded() || !m.is_object() || !m.contains("type") || !m["type"].is_string()) {
    return SendError("not a JSON object with a \"type\": " + line.substr(0, 200));
  }
  std::string type = m["type"];
  if (type == "hello") {
    if (m.value("protocol", 0) != kAgentProtocolVersion) {
      return SendError("protocol " + m.value("protocol", nlohmann::json(nullptr)).dump() +
                       " not spoken (this agent: " + std::to_string(kAgentProtocolVersion) + ")");
    }
    if (m.contains("attach") && m["attach"].is_string() && run_dir_.empty() && !Attach(m["attach"])) {
      return SendError("no run \"" + m["attach"].get<std::string>() + "\" in " + options_.state_dir);
    }
    Send({{"type", "hello"},
          {"protocol", kAgentProtocolVersion},
          {"version", kVersion},
          {"pid", int(getpid())},
          {"host", HostName()},
          {"state_dir", options_.state_dir},
          {"run_id", run_dir_.empty() ? nlohmann::json(nullptr) : nlohmann::json(run_id_)},
          {"run_dir", run_dir_.empty() ? nlohmann::json(nullptr) : nlohmann::json(run_dir_)}});
  } else if (type == "time") {
    int64_t now = UtcNs();
    Send({{"type", "time"},
          {"controller_utc_ns", m.value("controller_utc_ns", int64_t(0))},
          {"agent_utc_ns", now}});
  } else if (type == "start") {
    Start(m);
  } else if (type == "go") {
    if (run_dir_.empty()) return SendError("go: no run");
    Go(m);
  } else if (type == "resume") {
    if (run_dir_.empty()) return SendError("resume: no run (start one, or attach)");
    if (!m.contains("from_seq") || !m["from_seq"].is_number_unsigned())
      return SendError("resume: from_seq missing");
    StartStreamer(m["from_seq"].get<uint64_t>());
  } else if (type == "stop") {
    if (run_dir_.empty()) return SendError("stop: no run");
    {
      std::lock_guard<std::mutex> lock(wake_mu_);
      if (held_ && !go_mono_ns_) go_cancelled_ = true;
      wake_cv_.notify_all();
    }
    if (gen_) {
      gen_->RequestStop();
    } else {
      // Another agent process runs this load: its record thread sees the file.
      int fd = ::open((run_dir_ + "/stop").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
      if (fd >= 0) ::close(fd);
    }
  } else if (type == "check") {
    if (run_dir_.empty()) return SendError("check: no run");
    if (check_thread_.joinable()) check_thread_.join();
    check_thread_ = std::thread([this, m] { Send(CheckAckedBlocks(run_dir_, m)); });
  } else {
    SendError("unknown message type \"" + type + "\"");
  }
}

bool AgentSession::Attach(const std::string& id) {
  std::string dir = FindRun(options_.state_dir, id);
  if (dir.empty()) return false;
  run_dir_ = dir;
  run_id_ = std::filesystem::path(dir).filename().string();
  owner_pid_ = ReadOwnerPid(dir);
  return true;
}

int AgentSession::ReadOwnerPid(const std::string& dir) {
  auto info = ReadFile(dir + "/run.json");
  if (!info.ok()) return 0;
  auto j = nlohmann::json::parse(*info, nullptr, false);
  return j.is_object() ? j.value("agent_pid", 0) : 0;
}

void AgentSession::StartStreamer(uint64_t from_seq) {
  StopStreamer();
  streamer_stop_ = false;
  streamer_ = std::thread([this, from_seq] { StreamMain(from_seq); });
}

void AgentSession::StopStreamer() {
  streamer_stop_ = true;
  if (streamer_.joinable()) streamer_.join();
}

void AgentSession::StreamMain(uint64_t from_seq) {
  FileTail tail(run_dir_ + "/" + kRecordLogFile);
  int idle_rounds = 0;
  while (!streamer_stop_ && connected_) {
    std::vector<std::string> lines;
    Status s = tail.ReadLines(&lines);
    if (!s.ok()) return SendError(s.message());
    for (const auto& l : lines) {
      auto r = nlohmann::json::parse(l, nullptr, false);
      if (r.is_discarded() || r.value("seq", uint64_t(0)) < from_seq) continue;
      if (r["stream"] == "finished") {
        nlohmann::json msg = r["body"];
        msg["type"] = "finished";
        msg["seq"] = r["seq"];
        Send(msg);
        return;
      }
      r["type"] = "record";
      if (!Send(r)) return;
    }
    if (lines.empty() && quit_) return;  // shut down and everything sent
    idle_rounds = lines.empty() ? idle_rounds + 1 : 0;
    // A run whose agent process died without finishing will never finish.
    // (A run `--boot` resumed has a new owner: run.json names it.)
    if (idle_rounds > 40 && owner_pid_ > 0 && owner_pid_ != getpid() && kill(owner_pid_, 0) != 0 &&
        errno == ESRCH && (owner_pid_ = ReadOwnerPid(run_dir_), kill(owner_pid_, 0) != 0)) {
      return SendError("the agent process " + std::to_string(owner_pid_) + " that ran " + run_id_ +
                       " is gone and the run did not finish");
    }
    std::unique_lock<std::mutex> lock(wake_mu_);
    wake_cv_.wait_for(lock, std::chrono::milliseconds(20));
  }
}

int RunAgent(int in_fd, int out_fd, const AgentOptions& options) {
  AgentSession session(in_fd, out_fd, options);
  return session.Run();
}

int RunAgentBoot(const AgentOptions& options) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<std::string> dirs;
  for (const auto& e : fs::directory_iterator(options.state_dir, ec)) {
    if (e.is_directory(ec) && fs::exists(e.path() / kAgentStateFile, ec)) dirs.push_back(e.path().string());
  }
  std::sort(dirs.begin(), dirs.end());
  // Runs nobody owns: those past their planned end are marked ended here; the
  // newest one still due is resumed (one load per agent process).
  std::string resume;
  for (const auto& dir : dirs) {
    auto st = LoadRunState(dir);
    if (!st.ok()) {
      fprintf(stderr, "faultbench: agent: %s\n", st.status().message().c_str());
      continue;
    }
    if (st->status != "running") continue;
    OwnerLock probe;
    Status s = probe.TryLock(dir);
    if (!s.ok()) {
      if (s.code() != Status::Code::kUnavailable)
        fprintf(stderr, "faultbench: agent: %s\n", s.message().c_str());
      continue;  // a live process runs it
    }
    probe.Release();
    if (st->planned_end_utc_ns <= UtcNs()) {
      AgentSession(-1, -1, options).Boot(dir);
    } else {
      if (!resume.empty())
        fprintf(stderr, "faultbench: agent: %s not resumed: a newer run is due\n", resume.c_str());
      resume = dir;
    }
  }
  if (resume.empty()) {
    fprintf(stderr, "faultbench: agent: no run to resume in %s\n", options.state_dir.c_str());
    return kExitOk;
  }
  fprintf(stderr, "faultbench: agent: resuming %s\n", resume.c_str());
  AgentSession session(-1, -1, options);
  return session.Boot(resume);
}

void AgentRequestStop() {
  LoadGenerator* g = g_generator.load();
  if (g) g->RequestStop();
}

void AgentRequestShutdown() {
  g_shutdown.store(true);
  AgentRequestStop();
}

}  // namespace fb
