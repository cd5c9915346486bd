// AgentClient's transport: the ssh child or the TCP socket, its stderr, and
// one JSON line at a time each way (agent/protocol.h).
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

#include "agent/agent_client.h"
#include "agent/agent_token.h"
#include "agent/protocol.h"
#include "core/clock.h"
#include "plugin/command_target.h"
#include "plugin/settings.h"

namespace fb {

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
  // A write to an agent whose ssh (or socket) just died must fail with EPIPE,
  // never kill the controller: SIGPIPE is blocked on this thread for the write,
  // and one it raised is taken before the mask is restored.
  sigset_t pipe_set, old_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
  bool lost = false, broken = false;
  for (size_t off = 0; off < text.size();) {
    ssize_t n = ::write(to_agent_, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      lost = true;
      broken = n < 0 && errno == EPIPE;
      break;
    }
    off += size_t(n);
  }
  if (broken) {
    struct timespec zero = {0, 0};
    while (sigtimedwait(&pipe_set, nullptr, &zero) == SIGPIPE) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old_set, nullptr);
  if (lost) return Status::Unavailable("agent " + opts_.name + " on " + where_ + ": connection lost while sending");
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

}  // namespace fb
