#include "agent/agent_listener.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "agent/agent_token.h"

namespace fb {

namespace {

std::atomic<bool> g_listener_stop{false};

void OnChildStop(int) { AgentRequestStop(); }
void OnChildShutdown(int) { AgentRequestShutdown(); }

// The child: a session on `fd` exactly as `agent --stdio` runs one. Its own
// session (setsid), so a signal to the listener's group leaves its load alone;
// SIGTERM / SIGINT sent to it mean what they mean to `agent --stdio`.
[[noreturn]] void ServeConnection(int fd, const AgentOptions& options) {
  setsid();
  signal(SIGPIPE, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  signal(SIGCHLD, SIG_DFL);
  struct sigaction sa {};
  sigemptyset(&sa.sa_mask);
  sa.sa_handler = OnChildStop;
  sigaction(SIGINT, &sa, nullptr);
  sa.sa_handler = OnChildShutdown;
  sigaction(SIGTERM, &sa, nullptr);
  int code = RunAgent(fd, fd, options);
  ::shutdown(fd, SHUT_RDWR);
  ::close(fd);
  fflush(stderr);
  _exit(code);
}

void ReapChildren() {
  int status;
  while (waitpid(-1, &status, WNOHANG) > 0) {
  }
}

}  // namespace

Status ParseHostPort(const std::string& text, std::string* host, int* port) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
    return Status::InvalidInput("--listen \"" + text + "\": want HOST:PORT");
  std::string h = text.substr(0, colon), p = text.substr(colon + 1);
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos || std::stoi(p) > 65535)
    return Status::InvalidInput("--listen \"" + text + "\": port \"" + p + "\" is not 0..65535");
  *host = h;
  *port = std::stoi(p);
  return Status::Ok();
}

int RunAgentListener(const AgentListenOptions& options) {
  std::string host;
  int port = 0;
  Status s = ParseHostPort(options.address, &host, &port);
  if (!s.ok()) {
    fprintf(stderr, "faultbench: agent: %s\n", s.message().c_str());
    return kExitUsage;
  }
  auto token = ReadAgentToken(options.token_file);
  if (!token.ok()) {
    fprintf(stderr, "faultbench: agent: --token-file: %s\n", token.status().message().c_str());
    return kExitUsage;
  }
  AgentOptions session = options.agent;
  session.token = *token;

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string port_text = std::to_string(port);
  int rc = getaddrinfo(host.c_str(), port_text.c_str(), &hints, &res);
  if (rc != 0) {
    fprintf(stderr, "faultbench: agent: --listen %s: %s\n", options.address.c_str(), gai_strerror(rc));
    return kExitUsage;
  }
  int lfd = -1;
  std::string err;
  for (addrinfo* ai = res; ai && lfd < 0; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      err = strerror(errno);
      continue;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 16) != 0) {
      err = strerror(errno);
      ::close(fd);
      continue;
    }
    lfd = fd;
  }
  freeaddrinfo(res);
  if (lfd < 0) {
    fprintf(stderr, "faultbench: agent: cannot listen on %s: %s\n", options.address.c_str(), err.c_str());
    return kExitRunFailed;
  }
  sockaddr_storage bound{};
  socklen_t blen = sizeof bound;
  getsockname(lfd, reinterpret_cast<sockaddr*>(&bound), &blen);
  char shown[INET6_ADDRSTRLEN] = "?";
  int bound_port = 0;
  if (bound.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&bound);
    inet_ntop(AF_INET, &a->sin_addr, shown, sizeof shown);
    bound_port = ntohs(a->sin_port);
  } else if (bound.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&bound);
    inet_ntop(AF_INET6, &a->sin6_addr, shown, sizeof shown);
    bound_port = ntohs(a->sin6_port);
  }
  fprintf(stderr, "faultbench: agent: listening on %s:%d\n", shown, bound_port);
  fflush(stderr);

  while (!g_listener_stop.load()) {
    ReapChildren();
    pollfd p{lfd, POLLIN, 0};
    int r = poll(&p, 1, 200);
    if (r <= 0) continue;  // timeout or a signal: look at the stop flag, reap
    sockaddr_storage peer{};
    socklen_t plen = sizeof peer;
    int cfd = accept4(lfd, reinterpret_cast<sockaddr*>(&peer), &plen, SOCK_CLOEXEC);
    if (cfd < 0) {
      if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
        fprintf(stderr, "faultbench: agent: accept: %s\n", strerror(errno));
      continue;
    }
    int one = 1;
    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    // A dead network never closes the connection by itself (as ssh's
    // ServerAlive): keep-alives let the session notice in ~10 s.
    setsockopt(cfd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    int idle = 5, intvl = 1, cnt = 5;
    setsockopt(cfd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    setsockopt(cfd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
    setsockopt(cfd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
    pid_t pid = fork();
    if (pid == 0) {
      ::close(lfd);
      ServeConnection(cfd, session);
    }
    if (pid < 0) fprintf(stderr, "faultbench: agent: fork: %s\n", strerror(errno));
    ::close(cfd);
  }
  ::close(lfd);
  ReapChildren();
  fprintf(stderr, "faultbench: agent: stopped listening on %s:%d\n", shown, bound_port);
  return kExitOk;
}

void AgentListenerRequestStop() { g_listener_stop.store(true); }

}  // namespace fb
