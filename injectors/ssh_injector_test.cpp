// ssh against the real thing: a throwaway OpenSSH server on 127.0.0.1 (its own
// host key, config and authorized key in a temp dir, root by key only), and
// the injector's OpenSSH client against it: the ControlMaster socket, host key
// checking, BatchMode failures, the reuse of the master connection, and the
// netfilter and link injectors over ssh against namespaces the test creates.
#include "injectors/ssh_injector.h"

#include <doctest/doctest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/clock.h"
#include "injectors/link_injector.h"
#include "injectors/netfilter_injector.h"
#include "plugin/command_target.h"
#include "tests/support/rigs.h"
#include "tests/support/skip.h"
#include "tests/support/test_util.h"

namespace fb {

namespace {

constexpr const char* kSshd = "/usr/sbin/sshd";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

size_t CountOf(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// Every process below `root` (by parent pid, read from /proc).
std::vector<int> Descendants(int root) {
  std::vector<std::pair<int, int>> procs;  // pid, ppid
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string stat = ReadFile("/proc/" + name + "/stat");
    size_t paren = stat.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream rest(stat.substr(paren + 2));
    char state;
    int ppid = 0;
    rest >> state >> ppid;
    procs.push_back({std::stoi(name), ppid});
  }
  std::vector<int> out = {root};
  for (size_t i = 0; i < out.size(); ++i) {
    for (const auto& [pid, ppid] : procs) {
      if (ppid == out[i]) out.push_back(pid);
    }
  }
  out.erase(out.begin());
  return out;
}

bool IsSocket(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

// sshd -D -e on 127.0.0.1:<free port> with everything in a temp dir: a host
// key, an authorized client key, a known_hosts file that knows the host key.
// On destruction: every connection process (sshd gives each its own session,
// so they are not in the listener's group) and the listener are killed.
class ThrowawaySshd {
 public:
  ThrowawaySshd() : port_(FreePort()) {
    const std::string d = dir_.path();
    for (const char* key : {"host_ed25519", "client_ed25519", "stranger_ed25519"}) {
      if (!RunChecked({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", key, "-f", d + "/" + key}).ok())
        return;
    }
    // A key with a passphrase: with BatchMode ssh must skip it, not ask.
    if (!RunChecked({"ssh-keygen", "-q", "-t", "ed25519", "-N", "secret", "-C", "locked", "-f",
                     d + "/locked_ed25519"})
             .ok()) {
      return;
    }
    std::ofstream(d + "/authorized_keys")
        << ReadFile(d + "/client_ed25519.pub") << ReadFile(d + "/locked_ed25519.pub");
    std::ofstream(d + "/known_hosts") << "[127.0.0.1]:" << port_ << " " << ReadFile(d + "/host_ed25519.pub");
    std::ofstream(d + "/empty_known_hosts");
    // The temp dir sits in /tmp (world-writable): StrictModes would refuse the
    // authorized_keys file there. No PAM: key login needs none of it.
    std::ofstream(d + "/sshd_config") << "Port " << port_ << "\n"
                                      << "ListenAddress 127.0.0.1\n"
                                      << "HostKey " << d << "/host_ed25519\n"
                                      << "PidFile " << d << "/sshd.pid\n"
                                      << "AuthorizedKeysFile " << d << "/authorized_keys\n"
                                      << "PermitRootLogin prohibit-password\n"
                                      << "PubkeyAuthentication yes\n"
                                      << "PasswordAuthentication no\n"
                                      << "KbdInteractiveAuthentication no\n"
                                      << "UsePAM no\n"
                                      << "StrictModes no\n"
                                      << "LogLevel INFO\n";
    // The privilege separation directory sshd insists on (the package's service
    // creates it at start; no service runs here).
    std::filesystem::create_directories("/run/sshd");
    sshd_ = std::make_unique<Background>(
        std::vector<std::string>{kSshd, "-D", "-e", "-f", d + "/sshd_config"}, log());
    ok_ = WaitFor([&] { return log_text().find("Server listening on 127.0.0.1 port") != std::string::npos; },
                  5000, 10) != 0;
  }

  ~ThrowawaySshd() {
    if (!sshd_) return;
    for (int pid : Descendants(sshd_->pid())) kill(pid, SIGKILL);
    sshd_->Kill();
  }

  ThrowawaySshd(const ThrowawaySshd&) = delete;
  ThrowawaySshd& operator=(const ThrowawaySshd&) = delete;

  bool ok() const { return ok_; }
  int port() const { return port_; }
  std::string file(const std::string& name) const { return dir_.path() + "/" + name; }
  std::string log() const { return file("sshd.log"); }
  std::string log_text() const { return ReadFile(log()); }
  size_t logins() const { return CountOf(log_text(), "Accepted publickey for root from 127.0.0.1"); }

  // The settings of an injector that logs in as root with the client key.
  nlohmann::json Login(nlohmann::json extra = nlohmann::json::object()) const {
    nlohmann::json s = {{"host", "127.0.0.1"},
                        {"user", "root"},
                        {"ssh_port", std::to_string(port_)},
                        {"identity_file", file("client_ed25519")},
                        {"known_hosts", file("known_hosts")},
                        {"timeout", "10s"}};
    s.update(extra);
    return s;
  }

 private:
  TempDir dir_;
  int port_;
  std::unique_ptr<Background> sshd_;
  bool ok_ = false;
};

bool HaveSshd() {
  return IsRoot() && access(kSshd, X_OK) == 0 && HaveCommand("ssh") && HaveCommand("ssh-keygen");
}

// The control socket the injector `name` bound to `context` uses: a
// CommandTarget built from the same settings maps to the same path.
std::string ControlPath(const std::string& name, nlohmann::json settings, const FaultContext& context) {
  fb::Settings s(settings);
  CommandTarget t = CommandTarget::FromSettings(name, &s);
  t.Bind(context);
  for (const auto& a : t.Wrap({"true"})) {
    if (a.rfind("ControlPath=", 0) == 0) return a.substr(strlen("ControlPath="));
  }
  return "";
}

std::string RunId(const char* what) {
  return std::string("ssh-test-") + what + "-" + std::to_string(getpid());
}

int64_t TimeMs(const std::function<Status()>& f, Status* st) {
  int64_t t0 = MonoNs();
  *st = f();
  return (MonoNs() - t0) / kNsPerMs;
}

int64_t Median(std::vector<int64_t> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

TEST_CASE("ssh injector: settings problems" * doctest::test_suite("unit")) {
  Settings none(nlohmann::json::object());
  NewSshInjector("x", &none);
  CHECK(none.problems().size() == 3);  // host, inject, revert
  Settings port(
      nlohmann::json{{"host", "h"}, {"inject", "true"}, {"revert", "true"}, {"ssh_port", "22; id"}});
  NewSshInjector("x", &port);
  CHECK(port.problems().size() == 1);
}

TEST_CASE(
    "ssh injector: Prepare opens the ControlMaster, inject check and revert run on the host through it" *
    doctest::test_suite("integration")) {
  if (!HaveSshd()) {
    Skip("needs root, /usr/sbin/sshd, ssh and ssh-keygen");
    return;
  }
  ThrowawaySshd sshd;
  REQUIRE_MESSAGE(sshd.ok(), sshd.log_text());
  const std::string marker = sshd.file("marker");
  // The marker holds SSH_CONNECTION: proof the line ran in a session of this sshd.
  nlohmann::json settings = sshd.Login({{"inject", "echo \"$SSH_CONNECTION\" > " + marker},
                                        {"revert", "rm -f " + marker},
                                        {"check", "test -e " + marker}});
  const FaultContext context{RunId("master"), 60 * kNsPerSec};
  const std::string control = ControlPath("marker", settings, context);
  REQUIRE(control.rfind("/tmp/fb-ssh-", 0) == 0);
  {
    Settings s(settings);
    auto inj = NewSshInjector("marker", &s);
    REQUIRE(s.problems().empty());
    CHECK(inj->where() == "root@127.0.0.1");
    inj->Bind(context);
    CHECK(!IsSocket(control));
    Status prepared = inj->Prepare();
    REQUIRE_MESSAGE(prepared.ok(), prepared.message());
    CHECK(IsSocket(control));
    CHECK(sshd.logins() == 1);

    CHECK(inj->checker()->InEffect().value() == false);
    Status injected = inj->Inject();
    REQUIRE_MESSAGE(injected.ok(), injected.message());
    CHECK(ReadFile(marker).find(" 127.0.0.1 " + std::to_string(sshd.port())) != std::string::npos);
    CHECK(inj->checker()->InEffect().value() == true);
    REQUIRE(inj->Revert().ok());
    CHECK(!std::filesystem::exists(marker));
    CHECK(inj->checker()->InEffect().value() == false);
    CHECK(inj->Revert().ok());  // reverting what is gone is not an error
    // Five commands, one login: every one went through the master.
    CHECK(sshd.logins() == 1);

    // A failing line: the error names the injector, the host, the command and its stderr.
    Settings bad_settings(sshd.Login({{"inject", "echo nope-from-remote >&2; exit 3"}, {"revert", "true"}}));
    auto bad = NewSshInjector("failing", &bad_settings);
    bad->Bind(context);
    Status st = bad->Inject();
    CHECK(!st.ok());
    CHECK(st.message().find("injector failing on root@127.0.0.1: inject") != std::string::npos);
    CHECK(st.message().find("exit 3: nope-from-remote") != std::string::npos);
  }
  // The injector's end closes the master it opened, and its socket.
  CHECK(WaitFor([&] { return !IsSocket(control); }, 3000, 20) != 0);
}

TEST_CASE("ssh injector: host keys are checked by default, an unknown host key is refused naming the host" *
          doctest::test_suite("integration")) {
  if (!HaveSshd()) {
    Skip("needs root, /usr/sbin/sshd, ssh and ssh-keygen");
    return;
  }
  ThrowawaySshd sshd;
  REQUIRE_MESSAGE(sshd.ok(), sshd.log_text());
  const std::string marker = sshd.file("marker");
  nlohmann::json lines = {
      {"inject", "touch " + marker}, {"revert", "rm -f " + marker}, {"check", "test -e " + marker}};
  const FaultContext context{RunId("hostkey"), 60 * kNsPerSec};

  nlohmann::json unknown = sshd.Login(lines);
  unknown["known_hosts"] = sshd.file("empty_known_hosts");
  Settings s(unknown);
  auto inj = NewSshInjector("strict", &s);
  REQUIRE(s.problems().empty());
  inj->Bind(context);
  Status st = inj->Prepare();
  REQUIRE(!st.ok());
  MESSAGE(st.message());
  CHECK(st.message().find("injector strict on root@127.0.0.1: open ssh connection") != std::string::npos);
  CHECK(st.message().find("exit 255") != std::string::npos);
  CHECK(st.message().find("No ED25519 host key is known for [127.0.0.1]:" + std::to_string(sshd.port())) !=
        std::string::npos);
  CHECK(!inj->Inject().ok());
  CHECK(!std::filesystem::exists(marker));
  CHECK(ReadFile(sshd.file("empty_known_hosts")).empty());  // nothing learnt
  // The check cannot answer: unavailable, not "no fault".
  CHECK(!inj->checker()->InEffect().ok());

  // A known_hosts entry with another key for the host (a changed host key).
  std::ofstream(sshd.file("wrong_known_hosts"))
      << "[127.0.0.1]:" << sshd.port() << " " << ReadFile(sshd.file("stranger_ed25519.pub"));
  nlohmann::json changed = sshd.Login(lines);
  changed["known_hosts"] = sshd.file("wrong_known_hosts");
  Settings cs(changed);
  auto spoofed = NewSshInjector("changed", &cs);
  spoofed->Bind(context);
  Status cst = spoofed->Inject();
  CHECK(!cst.ok());
  CHECK(cst.message().find("root@127.0.0.1") != std::string::npos);
  CHECK(!std::filesystem::exists(marker));
  CHECK(sshd.logins() == 0);

  // Only when the plan says so is an unknown key accepted.
  nlohmann::json lax = unknown;
  lax["strict_host_key_checking"] = "false";
  lax["known_hosts"] = sshd.file("lax_known_hosts");
  Settings ls(lax);
  auto accepting = NewSshInjector("lax", &ls);
  REQUIRE(ls.problems().empty());
  accepting->Bind(context);
  Status lst = accepting->Inject();
  CHECK_MESSAGE(lst.ok(), lst.message());
  CHECK(std::filesystem::exists(marker));
  CHECK(accepting->Revert().ok());
}

TEST_CASE(
    "ssh injector: BatchMode never prompts, a wrong or locked key fails fast naming the host and stderr" *
    doctest::test_suite("integration")) {
  if (!HaveSshd()) {
    Skip("needs root, /usr/sbin/sshd, ssh and ssh-keygen");
    return;
  }
  ThrowawaySshd sshd;
  REQUIRE_MESSAGE(sshd.ok(), sshd.log_text());
  const FaultContext context{RunId("batch"), 60 * kNsPerSec};
  // stranger: not authorized. locked: authorized, but its passphrase would
  // have to be typed in; BatchMode skips it instead of waiting for a tty.
  for (std::string key : {"stranger_ed25519", "locked_ed25519"}) {
    CAPTURE(key);
    Settings s(sshd.Login({{"identity_file", sshd.file(key)},
                           {"inject", "touch " + sshd.file("marker")},
                           {"revert", "true"},
                           {"timeout", "20s"}}));
    auto inj = NewSshInjector("batch", &s);
    REQUIRE(s.problems().empty());
    inj->Bind(context);
    Status st;
    int64_t prepare_ms = TimeMs([&] { return inj->Prepare(); }, &st);
    REQUIRE(!st.ok());
    MESSAGE(key << ": refused in " << prepare_ms << " ms: " << st.message());
    CHECK(prepare_ms < 10'000);  // far below the 20 s timeout: no prompt waited on
    CHECK(st.message().find("on root@127.0.0.1: open ssh connection") != std::string::npos);
    CHECK(st.message().find("exit 255: root@127.0.0.1: Permission denied (publickey)") != std::string::npos);
    int64_t inject_ms = TimeMs([&] { return inj->Inject(); }, &st);
    CHECK(!st.ok());
    CHECK(inject_ms < 10'000);
    CHECK(st.message().find("Permission denied (publickey)") != std::string::npos);
  }
  CHECK(!std::filesystem::exists(sshd.file("marker")));
  CHECK(sshd.logins() == 0);
}

TEST_CASE("ssh injector: inject and revert reuse the master connection, latency with and without it" *
          doctest::test_suite("integration")) {
  if (!HaveSshd()) {
    Skip("needs root, /usr/sbin/sshd, ssh and ssh-keygen");
    return;
  }
  ThrowawaySshd sshd;
  REQUIRE_MESSAGE(sshd.ok(), sshd.log_text());
  const std::string marker = sshd.file("marker");
  nlohmann::json settings = sshd.Login({{"inject", "touch " + marker}, {"revert", "rm -f " + marker}});
  constexpr int kRounds = 5;
  auto measure = [&](Injector* inj, std::vector<int64_t>* inject_ms, std::vector<int64_t>* revert_ms) {
    for (int i = 0; i < kRounds; ++i) {
      Status st;
      inject_ms->push_back(TimeMs([&] { return inj->Inject(); }, &st));
      REQUIRE_MESSAGE(st.ok(), st.message());
      REQUIRE(std::filesystem::exists(marker));
      revert_ms->push_back(TimeMs([&] { return inj->Revert(); }, &st));
      REQUIRE_MESSAGE(st.ok(), st.message());
      REQUIRE(!std::filesystem::exists(marker));
    }
  };

  std::vector<int64_t> mux_inject, mux_revert, direct_inject, direct_revert;
  Settings ms(settings);
  auto with_master = NewSshInjector("mux", &ms);
  with_master->Bind({RunId("mux"), 60 * kNsPerSec});
  Status prepared = with_master->Prepare();
  REQUIRE_MESSAGE(prepared.ok(), prepared.message());
  REQUIRE(sshd.logins() == 1);
  measure(with_master.get(), &mux_inject, &mux_revert);
  CHECK(sshd.logins() == 1);  // 10 commands, no new login

  Settings ds(settings);
  auto direct = NewSshInjector("direct", &ds);  // no Prepare(): no master to use
  direct->Bind({RunId("direct"), 60 * kNsPerSec});
  measure(direct.get(), &direct_inject, &direct_revert);
  CHECK(sshd.logins() == 1 + 2 * kRounds);  // one login per command

  MESSAGE("ssh to 127.0.0.1, median of " << kRounds << ": inject " << Median(mux_inject) << " ms, revert "
                                         << Median(mux_revert) << " ms through the master; inject "
                                         << Median(direct_inject) << " ms, revert " << Median(direct_revert)
                                         << " ms with a new connection each");
  // A handshake, key exchange and login cost more than a multiplexed session.
  CHECK(Median(mux_revert) < Median(direct_revert));
}

TEST_CASE("ssh injector: netfilter and link over ssh to 127.0.0.1 stop and restore a namespace's traffic" *
          doctest::test_suite("integration")) {
  if (!HaveSshd() || !HaveCommand("nft")) {
    Skip("needs root, /usr/sbin/sshd, ssh, ssh-keygen and nft");
    return;
  }
  ThrowawaySshd sshd;
  REQUIRE_MESSAGE(sshd.ok(), sshd.log_text());
  NetnsPair net(12);
  REQUIRE(net.ok());
  REQUIRE(WaitFor([&] { return net.Reachable(); }, 3000, 50));
  const FaultContext context{RunId("nft"), 10 * kNsPerSec};

  // netfilter: the ruleset goes to `nft -f -` on the remote side through ssh's stdin.
  Settings ns(sshd.Login({{"netns", net.a()}, {"address", net.addr_b()}}));
  auto cut = NewNetfilterInjector("repl-link", &ns);
  REQUIRE(ns.problems().empty());
  CHECK(cut->where() == "root@127.0.0.1 netns " + net.a());
  cut->Bind(context);
  Status prepared = cut->Prepare();
  REQUIRE_MESSAGE(prepared.ok(), prepared.message());
  const std::string table = "faultbench_" + IdentifierChars(context.run_id) + "_repl_link";
  CHECK(cut->checker()->InEffect().value() == false);
  Status injected = cut->Inject();
  REQUIRE_MESSAGE(injected.ok(), injected.message());
  CHECK(NftTableExists(net.a(), table));
  CHECK(cut->checker()->InEffect().value() == true);
  CHECK(!net.Reachable());
  REQUIRE(cut->Revert().ok());
  CHECK(!NftTableExists(net.a(), table));
  CHECK(cut->checker()->InEffect().value() == false);
  CHECK(WaitFor([&] { return net.Reachable(); }, 3000, 20) != 0);

  // link: the veth end goes down and up again.
  Settings ls(sshd.Login({{"netns", net.a()}, {"interface", "fbva"}}));
  auto nic = NewLinkInjector("mgmt-nic", &ls);
  REQUIRE(ls.problems().empty());
  nic->Bind(context);
  REQUIRE(nic->Prepare().ok());
  REQUIRE(nic->Inject().ok());
  CHECK(nic->checker()->InEffect().value() == true);
  CHECK(!net.Reachable());
  REQUIRE(nic->Revert().ok());
  CHECK(nic->checker()->InEffect().value() == false);
  CHECK(WaitFor([&] { return net.Reachable(); }, 3000, 20) != 0);
  CHECK(sshd.logins() == 2);  // one master each
}

}  // namespace fb
