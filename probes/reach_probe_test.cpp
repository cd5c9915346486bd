// reach against real listeners: on 127.0.0.1 (closed and reopened), and in the
// namespaces of a NetnsPair whose link goes down and up (TCP and ICMP, seen from
// inside a namespace through the probe's netns setting).
#include "probes/reach_probe.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <optional>
#include <thread>

#include "core/clock.h"
#include "core/subprocess.h"
#include "tests/support/recording_sink.h"
#include "tests/support/rigs.h"
#include "tests/support/skip.h"
#include "tests/support/test_util.h"

namespace fb {

namespace {

using nlohmann::json;

using Sink = RecordingSink;

// A TCP listener on ip:port (port 0 = any; kept across Close/Open) that accepts
// and closes every connection; optionally in network namespace `ns`.
class Listener {
 public:
  Listener(std::string ip, int port = 0, std::string ns = "")
      : ip_(std::move(ip)), port_(port), ns_(std::move(ns)) {
    stop_ = eventfd(0, EFD_CLOEXEC);
    Open();
  }
  ~Listener() {
    Close();
    close(stop_);
  }
  int port() const { return port_; }
  bool ok() const { return fd_ >= 0; }

  void Open() {
    // A socket belongs to the namespace it was made in: make it on a thread that joined ns.
    std::thread([this] {
      if (!ns_.empty()) {
        int nsfd = open(("/run/netns/" + ns_).c_str(), O_RDONLY | O_CLOEXEC);
        if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) != 0) return;
        close(nsfd);
      }
      int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      int one = 1;
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(uint16_t(port_));
      inet_pton(AF_INET, ip_.c_str(), &a.sin_addr);
      if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, 64) != 0) {
        close(fd);
        return;
      }
      socklen_t len = sizeof a;
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
      port_ = ntohs(a.sin_port);
      fd_ = fd;
    }).join();
    if (fd_ < 0) return;
    accepter_ = std::thread([this] {
      while (true) {
        pollfd p[2] = {{stop_, POLLIN, 0}, {fd_, POLLIN, 0}};
        if (poll(p, 2, 1000) < 0 || p[0].revents) return;
        if (p[1].revents) {
          int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
          if (c >= 0) close(c);
        }
      }
    });
  }
  void Close() {
    if (fd_ < 0) return;
    uint64_t one = 1;
    (void)!write(stop_, &one, sizeof one);
    accepter_.join();
    uint64_t v;
    (void)!read(stop_, &v, sizeof v);
    close(fd_);
    fd_ = -1;
  }

 private:
  std::string ip_;
  int port_;
  std::string ns_;
  int stop_ = -1, fd_ = -1;
  std::thread accepter_;
};

std::unique_ptr<Probe> MakeProbe(json settings) {
  RegisterBuiltinProbes();
  Settings s(std::move(settings));
  auto p = ProbeRegistry::Global().Create("reach", "mgmt", &s);
  for (const auto& pr : s.problems()) MESSAGE(pr.key << ": " << pr.message);
  REQUIRE(s.problems().empty());
  REQUIRE(p);
  return p;
}

double Ms(int64_t ns) { return double(ns) / double(kNsPerMs); }

}  // namespace

TEST_CASE("reach probe: a loopback listener closed and reopened, a dead port beside it, failures in a row" *
          doctest::test_suite("unit")) {
  Listener live("127.0.0.1");
  REQUIRE(live.ok());
  std::string target = "127.0.0.1:" + std::to_string(live.port());
  std::string dead = "127.0.0.1:" + std::to_string(FreePort());
  auto probe = MakeProbe({{"targets", {target, dead}}, {"interval", "50ms"}, {"timeout", "500ms"}});
  auto patient = MakeProbe({{"targets", {target}}, {"interval", "50ms"}, {"failures", "3"}});
  Sink sink, sink3;
  REQUIRE(probe->Start(&sink).ok());
  REQUIRE(patient->Start(&sink3).ok());

  auto never = sink.Wait("host_unreachable", "target", dead);
  REQUIRE(never);
  CHECK(never->attrs["proto"] == "tcp");
  CHECK(never->attrs["error"].get<std::string>().find("refused") != std::string::npos);
  CHECK(never->attrs["since_last_ok_ms"].is_null());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(sink.size() == 1);  // the live target: successes say nothing
  CHECK(sink3.size() == 0);

  int64_t t0 = MonoNs();
  live.Close();
  auto down = sink.Wait("host_unreachable", "target", target);
  REQUIRE(down);
  CHECK(Ms(down->mono_ns - t0) < 1000);
  CHECK(down->attrs["misses"] == 1);
  CHECK(down->attrs["since_last_ok_ms"].get<double>() < 1000);
  auto down3 = sink3.Wait("host_unreachable", "target", target);
  REQUIRE(down3);
  CHECK(down3->attrs["misses"] == 3);
  // Three attempts on a fixed 50 ms schedule: the third begins two intervals
  // after the first was due, more than one after it began however late.
  CHECK(down3->attrs["since_first_miss_ms"].get<double>() > 50);

  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  live.Open();
  REQUIRE(live.ok());
  int64_t t1 = MonoNs();
  auto up = sink.Wait("host_reachable", "target", target);
  REQUIRE(up);
  double gap = up->attrs["gap_ms"].get<double>();
  MESSAGE("gap_ms " << gap << " for a listener closed " << Ms(t1 - t0) << " ms");
  // From the first miss's attempt (begun at or before its event) to the answer,
  // and not before the close.
  CHECK(gap >= Ms(up->mono_ns - down->mono_ns));
  CHECK(gap <= Ms(up->mono_ns - t0) + 1);
  CHECK(up->attrs["since_last_ok_ms"].get<double>() >= gap);  // the last answer came before the first miss
  CHECK(up->attrs["rtt_ms"].get<double>() < 500);
  REQUIRE(sink3.Wait("host_reachable", "target", target));
  probe->Stop();
  patient->Stop();
  probe->Stop();
  CHECK(sink.Count("host_unreachable", "target", target) == 1);
  CHECK(sink.Count("host_reachable", "target", target) == 1);
  CHECK(sink.Count("host_reachable", "target", dead) == 0);
}

TEST_CASE(
    "reach probe: from inside a namespace, a link down and up over TCP and ICMP, a dead target delays no "
    "other" *
    doctest::test_suite("integration")) {
  if (!IsRoot()) {
    Skip("needs root");
    return;
  }
  NetnsPair net(41);
  REQUIRE(net.ok());
  Listener far(net.addr_b(), 0, net.b());
  Listener near("127.0.0.1", 0, net.a());
  REQUIRE(far.ok());
  REQUIRE(near.ok());
  std::string tcp = net.addr_b() + ":" + std::to_string(far.port());
  std::string icmp = net.addr_b();
  std::string lo = "127.0.0.1:" + std::to_string(near.port());
  auto probe = MakeProbe({{"targets", {tcp, icmp, lo}},
                          {"icmp", "true"},
                          {"netns", net.a()},
                          {"interval", "100ms"},
                          {"timeout", "1500ms"}});
  Sink sink;
  REQUIRE(probe->Start(&sink).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  CHECK(sink.size() == 0);

  int64_t t0 = MonoNs();
  REQUIRE(RunChecked({"ip", "-n", net.b(), "link", "set", "fbvb", "down"}).ok());
  // While the far checks wait for their timeout, the near one goes on every interval.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  int64_t closed = MonoNs();
  near.Close();
  auto lo_down = sink.Wait("host_unreachable", "target", lo);
  REQUIRE(lo_down);
  CHECK(Ms(lo_down->mono_ns - closed) < 700);
  near.Open();
  REQUIRE(near.ok());
  REQUIRE(sink.Wait("host_reachable", "target", lo));

  auto tcp_down = sink.Wait("host_unreachable", "target", tcp);
  auto icmp_down = sink.Wait("host_unreachable", "target", icmp);
  REQUIRE(tcp_down);
  REQUIRE(icmp_down);
  CHECK(icmp_down->attrs["proto"] == "icmp");
  MESSAGE("tcp: " << tcp_down->attrs["error"] << ", icmp: " << icmp_down->attrs["error"]);
  CHECK(Ms(tcp_down->mono_ns - t0) < 3000);

  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  REQUIRE(RunChecked({"ip", "-n", net.b(), "link", "set", "fbvb", "up"}).ok());
  int64_t t1 = MonoNs();
  auto tcp_up = sink.Wait("host_reachable", "target", tcp, 8000);
  auto icmp_up = sink.Wait("host_reachable", "target", icmp, 8000);
  REQUIRE(tcp_up);
  REQUIRE(icmp_up);
  for (const Event& e : {*tcp_up, *icmp_up}) {
    double gap = e.attrs["gap_ms"].get<double>();
    MESSAGE(e.attrs["target"] << " gap_ms " << gap << " for a link down " << Ms(t1 - t0) << " ms");
    CHECK(gap >= Ms(t1 - t0) - 150);
    CHECK(gap <= Ms(e.mono_ns - t0) + 1);
  }
  probe->Stop();
  CHECK(sink.Count("host_unreachable", "target", tcp) == 1);
  CHECK(sink.Count("host_unreachable", "target", icmp) == 1);
}

TEST_CASE("reach probe: settings problems, and Start fails for a namespace that does not exist" *
          doctest::test_suite("integration")) {
  RegisterBuiltinProbes();
  auto problems = [](json j) {
    Settings s(std::move(j));
    auto p = ProbeRegistry::Global().Create("reach", "r", &s);
    CHECK(!p);
    std::string all;
    for (const auto& pr : s.problems()) all += pr.key + ": " + pr.message + "\n";
    return all;
  };
  CHECK(problems(json::object()).find("missing required setting \"targets\"") != std::string::npos);
  CHECK(problems({{"targets", {"198.18.0.1"}}}).find("set icmp: true") != std::string::npos);
  CHECK(problems({{"targets", {"198.18.0.1:70000"}}}).find("1-65535") != std::string::npos);
  CHECK(problems({{"targets", {"fe80::1:22"}}}).find("[addr]:port") != std::string::npos);
  CHECK(problems({{"targets", {"198.18.0.1:22"}}, {"failures", "0"}}).find("at least 1") !=
        std::string::npos);
  CHECK(problems({{"targets", {"198.18.0.1:22"}}, {"interval", "1ms"}}).find("at least 10ms") !=
        std::string::npos);
  CHECK(problems({{"targets", {"198.18.0.1:22"}}, {"timeot", "1s"}}).find("did you mean \"timeout\"") !=
        std::string::npos);

  Settings ok(json{{"targets", {"[::1]:22", "198.18.0.1:22"}}, {"netns", "fb-no-such-ns"}});
  auto p = ProbeRegistry::Global().Create("reach", "r", &ok);
  REQUIRE(p);
  Sink sink;
  Status st = p->Start(&sink);
  CHECK(!st.ok());
  CHECK(st.message().find("fb-no-such-ns") != std::string::npos);
  p->Stop();
}

}  // namespace fb
