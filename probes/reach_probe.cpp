#include "probes/reach_probe.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <future>
#include <thread>

#include "core/clock.h"
#include "core/units.h"
#include "probes/probe_base.h"

namespace fb {

namespace {

using nlohmann::json;

struct Target {
  std::string text, host, port;  // port empty: ICMP
  bool resolved = false;
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  // The check in flight.
  bool in_flight = false;
  int fd = -1;       // TCP
  uint16_t seq = 0;  // ICMP
  int64_t started_ns = 0, deadline_ns = 0, next_ns = 0;
  // Since the last success.
  int misses = 0;
  int64_t first_miss_ns = 0, last_ok_ns = 0;
  bool down = false;
  bool icmp() const { return port.empty(); }
};

struct Config {
  std::string name, netns;
  std::vector<Target> targets;
  int64_t interval_ns = 0, timeout_ns = 0;
  int failures = 1;
  bool icmp = false;
};

uint16_t Checksum(const uint8_t* data, size_t n) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < n; i += 2) sum += uint32_t(data[i]) << 8 | data[i + 1];
  if (n & 1) sum += uint32_t(data[n - 1]) << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return htons(uint16_t(~sum));
}

class ReachProbe : public ProbeBase {
 public:
  explicit ReachProbe(Config c) : ProbeBase(c.name), c_(std::move(c)) {}
  ~ReachProbe() override { Stop(); }

  std::vector<std::string> EventKinds() const override { return {"host_reachable", "host_unreachable", "probe_error"}; }

 private:
  // On the probe's thread: joins the namespace and opens the ICMP socket there;
  // Start reports whether that worked.
  Status Setup() override {
    if (!c_.netns.empty()) {
      std::string path = "/run/netns/" + c_.netns;
      int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) return ErrnoStatus("probe " + c_.name + ": open network namespace " + path, errno);
      int rc = setns(fd, CLONE_NEWNET);
      int e = errno;
      close(fd);
      if (rc != 0) return ErrnoStatus("probe " + c_.name + ": join network namespace " + c_.netns, e);
    }
    bool need_icmp = false;
    for (const Target& t : c_.targets) need_icmp |= t.icmp();
    if (need_icmp) {
      icmp_fd_ = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP);
      icmp_raw_ = icmp_fd_ >= 0;
      if (icmp_fd_ < 0) icmp_fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP);
      if (icmp_fd_ < 0)
        return ErrnoStatus(
            "probe " + c_.name + ": ICMP socket (raw needs root, datagram needs net.ipv4.ping_group_range)",
            errno);
    }
    ident_ = uint16_t(getpid() ^ uintptr_t(this));
    return Status::Ok();
  }

  void Cleanup() override {
    for (Target& t : c_.targets) {
      if (t.fd >= 0) close(t.fd);
      t.fd = -1;
    }
    if (icmp_fd_ >= 0) close(icmp_fd_);
    icmp_fd_ = -1;
  }

  void Run() override {
    int64_t now = MonoNs();
    for (Target& t : c_.targets) t.next_ns = now;
    std::vector<pollfd> fds;
    std::vector<Target*> owner;
    while (true) {
      now = MonoNs();
      int64_t wake = now + c_.interval_ns;
      for (Target& t : c_.targets) {
        if (t.in_flight && now >= t.deadline_ns)
          Finish(t, false, "timed out after " + FormatDuration(c_.timeout_ns), now);
        if (!t.in_flight && now >= t.next_ns) {
          t.next_ns += c_.interval_ns;
          if (t.next_ns <= now) t.next_ns = now + c_.interval_ns;  // overran: skip, do not burst
          Begin(t, now);
        }
        wake = std::min(wake, t.in_flight ? t.deadline_ns : t.next_ns);
      }
      fds.assign({{stop_fd(), POLLIN, 0}});
      owner.assign({nullptr});
      if (icmp_fd_ >= 0) {
        fds.push_back({icmp_fd_, POLLIN, 0});
        owner.push_back(nullptr);
      }
      for (Target& t : c_.targets) {
        if (t.fd < 0) continue;
        fds.push_back({t.fd, POLLOUT, 0});
        owner.push_back(&t);
      }
      int64_t wait_ms = std::max<int64_t>(0, (wake - MonoNs() + kNsPerMs - 1) / kNsPerMs);
      if (poll(fds.data(), fds.size(), int(wait_ms)) < 0 && errno != EINTR) {
        Emit(MonoNs(), "probe_error", Severity::kWarning, "probe " + c_.name + ": poll: " + strerror(errno),
             {});
        return;
      }
      if (fds[0].revents) return;
      now = MonoNs();
      for (size_t i = 1; i < fds.size(); ++i) {
        if (!fds[i].revents) continue;
        if (!owner[i]) {
          ReadIcmp(now);
          continue;
        }
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(fds[i].fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
        Finish(*owner[i], err == 0, err ? strerror(err) : "", now);
      }
    }
  }

  bool Resolve(Target& t, std::string* err) {
    addrinfo hints{};
    hints.ai_family = t.icmp() ? AF_INET : AF_UNSPEC;
    hints.ai_socktype = t.icmp() ? SOCK_DGRAM : SOCK_STREAM;
    hints.ai_flags = t.icmp() ? 0 : AI_NUMERICSERV;
    addrinfo* res = nullptr;
    int rc = getaddrinfo(t.host.c_str(), t.icmp() ? nullptr : t.port.c_str(), &hints, &res);
    if (rc != 0 || !res) {
      *err = "resolve " + t.host + ": " + (rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
      return false;
    }
    memcpy(&t.addr, res->ai_addr, res->ai_addrlen);
    t.addr_len = res->ai_addrlen;
    freeaddrinfo(res);
    t.resolved = true;
    return true;
  }

  void Begin(Target& t, int64_t now) {
    t.started_ns = now;
    t.deadline_ns = now + c_.timeout_ns;
    t.in_flight = true;
    std::string err;
    if (!t.resolved && !Resolve(t, &err)) return Finish(t, false, err, now);
    if (t.icmp()) {
      uint8_t pkt[sizeof(icmphdr) + 16] = {};
      icmphdr h{};
      h.type = ICMP_ECHO;
      h.un.echo.id = htons(ident_);
      t.seq = ++seq_;
      h.un.echo.sequence = htons(t.seq);
      memcpy(pkt, &h, sizeof h);
      memcpy(pkt + sizeof h, "faultbench-reach", 16);
      uint16_t sum = Checksum(pkt, sizeof pkt);
      memcpy(pkt + offsetof(icmphdr, checksum), &sum, sizeof sum);
      if (sendto(icmp_fd_, pkt, sizeof pkt, 0, reinterpret_cast<sockaddr*>(&t.addr), t.addr_len) < 0)
        return Finish(t, false, std::string("send echo: ") + strerror(errno), now);
      return;
    }
    int fd = socket(t.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return Finish(t, false, std::string("socket: ") + strerror(errno), now);
    if (connect(fd, reinterpret_cast<sockaddr*>(&t.addr), t.addr_len) == 0) {
      close(fd);
      return Finish(t, true, "", now);
    }
    if (errno != EINPROGRESS) {
      int e = errno;
      close(fd);
      return Finish(t, false, strerror(e), now);
    }
    t.fd = fd;
  }

  void ReadIcmp(int64_t now) {
    uint8_t buf[1500];
    while (true) {
      sockaddr_in from{};
      socklen_t len = sizeof from;
      ssize_t n = recvfrom(icmp_fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
      if (n < 0) return;  // EAGAIN: drained
      size_t off = icmp_raw_ ? size_t(buf[0] & 0x0f) * 4 : 0;
      if (size_t(n) < off + sizeof(icmphdr)) continue;
      icmphdr h;
      memcpy(&h, buf + off, sizeof h);
      if (h.type != ICMP_ECHOREPLY) continue;
      if (icmp_raw_ && ntohs(h.un.echo.id) != ident_) continue;  // a datagram socket's id is the kernel's
      uint16_t seq = ntohs(h.un.echo.sequence);
      for (Target& t : c_.targets) {
        if (!t.icmp() || !t.in_flight || t.seq != seq) continue;
        if (reinterpret_cast<sockaddr_in*>(&t.addr)->sin_addr.s_addr != from.sin_addr.s_addr) continue;
        Finish(t, true, "", now);
      }
    }
  }

  void Finish(Target& t, bool ok, const std::string& err, int64_t now) {
    if (t.fd >= 0) close(t.fd);
    t.fd = -1;
    t.in_flight = false;
    auto ms = [](int64_t ns) { return double(ns) / double(kNsPerMs); };
    json base = {{"target", t.text}, {"proto", t.icmp() ? "icmp" : "tcp"}};
    json since_ok = t.last_ok_ns ? json(ms(now - t.last_ok_ns)) : json(nullptr);
    if (ok) {
      if (t.down) {
        json a = base;
        a["gap_ms"] = ms(now - t.first_miss_ns);
        a["since_last_ok_ms"] = since_ok;
        a["rtt_ms"] = ms(now - t.started_ns);
        a["misses"] = t.misses;
        Emit(now, "host_reachable", Severity::kInfo,
             t.text + " answers again after " + FormatDuration(now - t.first_miss_ns), a);
      }
      t.down = false;
      t.misses = 0;
      t.first_miss_ns = 0;
      t.last_ok_ns = now;
      return;
    }
    if (t.misses++ == 0) t.first_miss_ns = t.started_ns;
    if (t.down || t.misses < c_.failures) return;
    t.down = true;
    json a = base;
    a["error"] = err;
    a["misses"] = t.misses;
    a["since_first_miss_ms"] = ms(now - t.first_miss_ns);
    a["since_last_ok_ms"] = since_ok;
    Emit(now, "host_unreachable", Severity::kWarning,
         t.text + " does not answer (" + err + ", " + std::to_string(t.misses) + " in a row)", a);
  }

  Config c_;
  int icmp_fd_ = -1;
  bool icmp_raw_ = false;
  uint16_t ident_ = 0, seq_ = 0;
};

// "host:port", "[v6]:port", or (ICMP) "host".
bool ParseTarget(const std::string& text, Target* t, std::string* err) {
  t->text = text;
  std::string rest;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos) {
      *err = "missing ']'";
      return false;
    }
    t->host = text.substr(1, close - 1);
    rest = text.substr(close + 1);
    if (rest.empty() || rest[0] != ':') {
      *err = "an [IPv6] target needs :port";
      return false;
    }
    t->port = rest.substr(1);
  } else {
    size_t colon = text.find(':');
    if (colon != std::string::npos && text.find(':', colon + 1) != std::string::npos) {
      *err = "write an IPv6 address as [addr]:port";
      return false;
    }
    t->host = text.substr(0, colon);
    if (colon != std::string::npos) {
      t->port = text.substr(colon + 1);
      if (t->port.empty()) {
        *err = "empty port";
        return false;
      }
    }
  }
  if (t->host.empty()) {
    *err = "no host";
    return false;
  }
  if (!t->port.empty()) {
    if (t->port.find_first_not_of("0123456789") != std::string::npos || t->port.size() > 5 ||
        std::stoi(t->port) < 1 || std::stoi(t->port) > 65535) {
      *err = "port must be 1-65535";
      return false;
    }
  }
  return true;
}

}  // namespace

std::unique_ptr<Probe> NewReachProbe(const std::string& name, Settings* s) {
  Config c;
  c.name = name;
  c.icmp = s->Bool("icmp", false);
  if (const json* list = s->List("targets", /*required=*/true)) {
    if (list->empty()) s->Problem("targets", "must not be empty");
    for (size_t i = 0; i < list->size(); ++i) {
      std::string key = "targets[" + std::to_string(i) + "]";
      if (!(*list)[i].is_string()) {
        s->Problem(key, "must be host:port or host");
        continue;
      }
      Target t;
      std::string err;
      if (!ParseTarget((*list)[i].get<std::string>(), &t, &err)) {
        s->Problem(key, "\"" + t.text + "\": " + err);
        continue;
      }
      if (t.icmp() && !c.icmp) {
        s->Problem(key, "\"" + t.text + "\" has no port: give host:port, or set icmp: true to ping it");
        continue;
      }
      c.targets.push_back(std::move(t));
    }
  }
  c.interval_ns = s->DurationNs("interval", 500 * kNsPerMs);
  if (c.interval_ns < 10 * kNsPerMs) s->Problem("interval", "must be at least 10ms");
  c.timeout_ns = s->DurationNs("timeout", c.interval_ns);
  if (c.timeout_ns < kNsPerMs) s->Problem("timeout", "must be at least 1ms");
  std::string failures = s->String("failures", false, "1");
  if (failures.empty() || failures.size() > 6 ||
      failures.find_first_not_of("0123456789") != std::string::npos || std::stoi(failures) < 1) {
    s->Problem("failures", "must be a whole number of at least 1");
  } else {
    c.failures = std::stoi(failures);
  }
  c.netns = s->String("netns");
  if (c.netns.find('/') != std::string::npos || c.netns == "." || c.netns == "..")
    s->Problem("netns", "must be a namespace name (ip netns list)");
  return std::make_unique<ReachProbe>(std::move(c));
}

}  // namespace fb
