// Integration tests of the lab: real namespaces, tgtd, nftables and the
// simulator. Root only; each test holds the LabLock and tears the lab down in a
// guard, so a failed check still leaves nothing behind.
#include "lab/lab.h"

#include <doctest/doctest.h>
#include <httplib.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>

#include "core/clock.h"
#include "core/jsonl_writer.h"
#include "core/subprocess.h"
#include "lab/lab_lock.h"
#include "lab/netns.h"
#include "lab/topology.h"
#include "tests/support/skip.h"
#include "tests/support/test_util.h"

namespace fb::lab {
namespace {

using nlohmann::json;

std::string SimPath() { return (std::filesystem::path(FB_CLI_PATH).parent_path() / kSimExecutable).string(); }

// Tears the lab down however the test ends.
class DownGuard {
 public:
  explicit DownGuard(Lab* lab) : lab_(lab) {}
  ~DownGuard() {
    Status s = lab_->Down();
    if (!s.ok()) MESSAGE("lab down in guard: " << s.message());
  }

 private:
  Lab* lab_;
};

// Polls the event log until pred holds, at most timeout_ns.
std::vector<json> WaitForEvents(const std::string& path, int64_t timeout_ns,
                                const std::function<bool(const std::vector<json>&)>& pred) {
  int64_t deadline = MonoNs() + timeout_ns;
  std::vector<json> ev = ReadJsonl(path);
  while (!pred(ev) && MonoNs() < deadline) {
    usleep(50'000);
    ev = ReadJsonl(path);
  }
  return ev;
}

std::optional<json> Find(const std::vector<json>& ev, const std::string& site, const std::string& kind) {
  for (const json& e : ev) {
    if (e.value("site", "") == site && e.value("kind", "") == kind) return e;
  }
  return std::nullopt;
}

bool Has(const std::vector<json>& ev, const std::string& site, const std::string& kind) {
  return Find(ev, site, kind).has_value();
}

int64_t T(const std::vector<json>& ev, const std::string& site, const std::string& kind) {
  auto e = Find(ev, site, kind);
  return e ? e->value("t_utc_ns", int64_t(0)) : 0;
}

CommandResult Run(const std::vector<std::string>& argv, int64_t timeout_ns = 5 * kNsPerSec) {
  auto r = RunCommand(argv, {.timeout_ns = timeout_ns});
  REQUIRE_MESSAGE(r.ok(), r.status().message());
  return *r;
}

std::string Login(const std::string& addr, const std::string& token) {
  httplib::Client cli(addr, kApiPort);
  cli.set_connection_timeout(2);
  cli.set_read_timeout(2);
  auto res = cli.Post("/api/2.42/login", httplib::Headers{{"api-token", token}}, "", "application/json");
  REQUIRE(res);
  REQUIRE(res->status == 200);
  return res->get_header_value("x-auth-token");
}

int Patch(const std::string& addr, const std::string& session, bool enabled) {
  httplib::Client cli(addr, kApiPort);
  cli.set_read_timeout(5);
  auto res =
      cli.Patch("/api/2.42/network-interfaces?names=repl0", httplib::Headers{{"x-auth-token", session}},
                enabled ? R"({"enabled":true})" : R"({"enabled":false})", "application/json");
  return res ? res->status : -1;
}

void CheckNothingLeft() {
  for (const std::string& ns : ListNamespaces()) CHECK_MESSAGE(!IsLabNamespace(ns), "namespace left: " << ns);
  CHECK(ListLinks("", kHostLinkPrefix).empty());
  CHECK(!HasTable("", "inet", kNftTable));
  CHECK(!std::filesystem::exists(kDefaultStateDir));
  CommandResult sims = Run({"pgrep", "-f", std::string("^(\\S*/)?") + kSimExecutable + " "});
  CHECK_MESSAGE(sims.out.empty(), "simulators left: " << sims.out);
  CommandResult tgtds = Run({"pgrep", "-f", "tgtd -f -C 470[12] "});
  CHECK_MESSAGE(tgtds.out.empty(), "tgtd left: " << tgtds.out);
}

}  // namespace

TEST_CASE("lab: without root, the lab command says so and exits 2" * doctest::test_suite("integration")) {
  if (!IsRoot()) {
    CommandResult r = RunCli({"lab", "status"});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("root") != std::string::npos);
    return;
  }
  CommandResult r =
      Run({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", FB_CLI_PATH, "lab", "up"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("faultbench: the lab needs root") != std::string::npos);
}

TEST_CASE("lab: up twice, both portals, REST API, replication cut and restore, down" *
          doctest::test_suite("integration")) {
  if (!IsRoot()) {
    Skip("the lab needs root");
    return;
  }
  auto lock = LabLock::Acquire(120 * kNsPerSec);
  REQUIRE_MESSAGE(lock.ok(), lock.status().message());
  Lab lab;
  DownGuard guard(&lab);
  LabOptions opt;
  opt.sim_path = SimPath();
  opt.lun_size_bytes = 64ull << 20;

  auto info = lab.Up(opt);
  REQUIRE_MESSAGE(info.ok(), info.status().message());
  CHECK(!info->already_up);
  MESSAGE("lab up took " << info->up_ns / kNsPerMs << " ms");
  auto again = lab.Up(opt);
  REQUIRE_MESSAGE(again.ok(), again.status().message());
  CHECK(again->already_up);
  CommandResult cli_up = RunCli({"lab", "up"});
  CHECK(cli_up.exit_code == 0);
  CHECK(cli_up.out.find("already up") != std::string::npos);
  CommandResult cli_status = RunCli({"lab", "status", "--json"});
  REQUIRE(cli_status.exit_code == 0);
  json status_json = json::parse(cli_status.out, nullptr, false);
  REQUIRE(status_json.is_object());
  CHECK(status_json["up"] == true);
  REQUIRE(info->sites.size() == 2);
  CHECK(info->sites[0].url == "iscsi://198.18.1.2/iqn.2026-11.test.faultbench:lun/1");
  CHECK(info->sites[1].url == "iscsi://198.18.2.2/iqn.2026-11.test.faultbench:lun/1");

  for (const LabSiteInfo& s : info->sites) {
    CommandResult inq = Run({"iscsi-inq", s.url});
    CHECK_MESSAGE(inq.success(), s.url << ": " << inq.Describe());
    CommandResult ls = Run({"iscsi-ls", "-s", "iscsi://" + s.portal.substr(0, s.portal.find(':'))});
    CHECK(ls.out.find("Target:" + info->iqn) != std::string::npos);
    CHECK(ls.out.find("Lun:1") != std::string::npos);
  }

  // REST API: 401 without a session, exact shapes with one.
  auto token = ReadFile(info->token_file);
  REQUIRE(token.ok());
  std::string api_token = token->substr(0, token->find('\n'));
  {
    httplib::Client cli("198.18.1.2", kApiPort);
    auto res = cli.Get("/api/2.42/pods");
    REQUIRE(res);
    CHECK(res->status == 401);
    json err = json::parse(res->body);
    REQUIRE(err["errors"].is_array());
    CHECK(err["errors"][0].contains("context"));
    CHECK(err["errors"][0].contains("message"));
    auto bad = cli.Post("/api/2.42/login", httplib::Headers{{"api-token", "wrong"}}, "", "application/json");
    REQUIRE(bad);
    CHECK(bad->status == 401);
    auto version = cli.Get("/api/api_version");
    REQUIRE(version);
    CHECK(json::parse(version->body)["version"].back() == "2.42");
  }
  std::string session_a = Login("198.18.1.2", api_token);
  std::string session_b = Login("198.18.2.2", api_token);
  CHECK(!session_a.empty());
  {
    httplib::Client cli("198.18.1.2", kApiPort);
    auto res = cli.Get("/api/2.42/pods", httplib::Headers{{"x-auth-token", session_a}});
    REQUIRE(res);
    CHECK(res->status == 200);
    json pods = json::parse(res->body);
    for (const char* k : {"items", "continuation_token", "more_items_remaining", "total_item_count"}) {
      CHECK_MESSAGE(pods.contains(k), k);
    }
    REQUIRE(pods["items"].size() == 1);
    json pod = pods["items"][0];
    CHECK(pod.contains("mediator"));
    CHECK(pod.contains("failover_preferences"));
    REQUIRE(pod["arrays"].size() == 2);
    for (const json& a : pod["arrays"]) {
      for (const char* k :
           {"id", "name", "status", "mediator_status", "pre_elected", "frozen_at", "progress", "member"}) {
        CHECK_MESSAGE(a.contains(k), k);
      }
      CHECK(a["status"] == "online");
    }
    auto conn = cli.Get("/api/2.42/array-connections", httplib::Headers{{"x-auth-token", session_a}});
    REQUIRE(conn);
    CHECK(json::parse(conn->body)["items"][0]["status"] == "connected");
  }

  // Cut the replication link through site-a's API.
  int64_t t_cut = UtcNs();
  REQUIRE(Patch("198.18.1.2", session_a, false) == 200);
  std::vector<json> ev = WaitForEvents(info->events_file, 8 * kNsPerSec, [](const std::vector<json>& e) {
    return (Has(e, "site-a", "io_resumed") || Has(e, "site-b", "io_resumed")) &&
           (Has(e, "site-a", "mediator_lost") || Has(e, "site-b", "mediator_lost"));
  });
  for (const char* site : {"site-a", "site-b"}) {
    CHECK_MESSAGE(Has(ev, site, "replication_down"), site);
    CHECK_MESSAGE(Has(ev, site, "io_paused"), site);
  }
  int won = int(Has(ev, "site-a", "mediator_won")) + int(Has(ev, "site-b", "mediator_won"));
  int lost = int(Has(ev, "site-a", "mediator_lost")) + int(Has(ev, "site-b", "mediator_lost"));
  REQUIRE(won == 1);
  REQUIRE(lost == 1);
  std::string winner = Has(ev, "site-a", "mediator_won") ? "site-a" : "site-b";
  std::string loser = winner == "site-a" ? "site-b" : "site-a";
  CHECK(!Has(ev, loser, "io_resumed"));
  for (const std::string& s : {winner, loser}) {
    int64_t down = T(ev, s, "replication_down");
    int64_t paused = T(ev, s, "io_paused");
    // Detection comes one heartbeat timeout after the last heartbeat.
    CHECK(down - t_cut > opt.heartbeat_timeout_ns - 3 * opt.heartbeat_interval_ns);
    CHECK(down - t_cut < opt.heartbeat_timeout_ns + 500 * kNsPerMs);
    CHECK(paused >= down);
    CHECK(paused - down < 50 * kNsPerMs);
    MESSAGE(s << ": cut -> replication_down " << (down - t_cut) / kNsPerMs << " ms, -> io_paused "
              << (paused - t_cut) / kNsPerMs << " ms");
  }
  int64_t t_won = T(ev, winner, "mediator_won"), t_resumed = T(ev, winner, "io_resumed");
  CHECK(t_won >= T(ev, winner, "io_paused"));
  CHECK(t_resumed >= t_won);
  CHECK(t_resumed - t_won < 100 * kNsPerMs);
  CHECK(T(ev, loser, "mediator_lost") >= T(ev, loser, "io_paused"));
  MESSAGE(winner << " won: cut -> mediator_won " << (t_won - t_cut) / kNsPerMs << " ms, -> io_resumed "
                 << (t_resumed - t_cut) / kNsPerMs << " ms ("
                 << (t_resumed - T(ev, winner, "io_paused")) / kNsPerMs << " ms paused)");

  // The winner serves, the loser hangs (tgtd stopped), as the pod API says.
  const LabSiteInfo& win_site = info->sites[winner == "site-a" ? 0 : 1];
  const LabSiteInfo& lose_site = info->sites[winner == "site-a" ? 1 : 0];
  CHECK(Run({"iscsi-readcapacity16", win_site.url}).success());
  CommandResult hung = Run({"iscsi-inq", lose_site.url}, 1500 * kNsPerMs);
  CHECK(hung.timed_out);
  auto status = lab.Status();
  REQUIRE(status.ok());
  CHECK(status->sites[loser]["role"] == "loser");
  CHECK(status->sites[loser]["io_paused"] == true);
  {
    std::string addr = winner == "site-a" ? "198.18.1.2" : "198.18.2.2";
    httplib::Client cli(addr, kApiPort);
    auto res = cli.Get("/api/2.42/pods",
                       httplib::Headers{{"x-auth-token", winner == "site-a" ? session_a : session_b}});
    REQUIRE(res);
    json arrays = json::parse(res->body)["items"][0]["arrays"];
    for (const json& a : arrays) {
      if (a["name"] == loser) {
        CHECK(a["status"] == "offline");
        CHECK(a["frozen_at"].is_number_integer());
      } else {
        CHECK(a["status"] == "online");
      }
    }
  }

  // Restore: heartbeats return, both resync, the loser serves again.
  int64_t t_restore = UtcNs();
  REQUIRE(Patch("198.18.1.2", session_a, true) == 200);
  ev = WaitForEvents(info->events_file, 8 * kNsPerSec, [&](const std::vector<json>& e) {
    return Has(e, "site-a", "resync_done") && Has(e, "site-b", "resync_done") && Has(e, loser, "io_resumed");
  });
  for (const char* site : {"site-a", "site-b"}) {
    CHECK_MESSAGE(T(ev, site, "replication_up") >= t_restore, site);
    CHECK_MESSAGE(T(ev, site, "resync_start") >= T(ev, site, "replication_up"), site);
    CHECK_MESSAGE(T(ev, site, "resync_done") > T(ev, site, "resync_start"), site);
  }
  CHECK(T(ev, loser, "io_resumed") >= T(ev, loser, "resync_done"));
  CHECK(Run({"iscsi-inq", lose_site.url}).success());
  MESSAGE("restore -> " << loser << " io_resumed " << (T(ev, loser, "io_resumed") - t_restore) / kNsPerMs
                        << " ms");

  REQUIRE(lab.Down().ok());
  CheckNothingLeft();
}

TEST_CASE("lab: preferred winner, refuse mode, cut by nft, down after a lost state directory" *
          doctest::test_suite("integration")) {
  if (!IsRoot()) {
    Skip("the lab needs root");
    return;
  }
  auto lock = LabLock::Acquire(120 * kNsPerSec);
  REQUIRE_MESSAGE(lock.ok(), lock.status().message());
  Lab lab;
  DownGuard guard(&lab);
  LabOptions opt;
  opt.sim_path = SimPath();
  opt.lun_size_bytes = 16ull << 20;
  opt.race_winner = "site-b";
  opt.suspend_mode = SuspendMode::kRefuse;
  opt.heartbeat_timeout_ns = 500 * kNsPerMs;
  opt.resync_ns = 300 * kNsPerMs;
  auto info = lab.Up(opt);
  REQUIRE_MESSAGE(info.ok(), info.status().message());

  // Drop replication traffic inside site-a's namespace, both directions.
  std::string t = kNftTable;
  REQUIRE(Nft("fb-site-a", "add rule inet " + t + " input iifname repl0 drop\nadd rule inet " + t +
                               " output oifname repl0 drop\n")
              .ok());
  std::vector<json> ev = WaitForEvents(info->events_file, 8 * kNsPerSec, [](const std::vector<json>& e) {
    return Has(e, "site-b", "io_resumed") && Has(e, "site-a", "mediator_lost");
  });
  CHECK(Has(ev, "site-b", "mediator_won"));
  CHECK(Has(ev, "site-a", "mediator_lost"));
  // Refused, not hung: the login to the loser fails at once. The simulator logs
  // mediator_lost, then turns the refusal on: wait for that.
  REQUIRE(WaitFor(
      [&] {
        auto st = lab.Status();
        return st.ok() && st->sites["site-a"]["io_refused"] == true;
      },
      8000, 20));
  int64_t t0 = MonoNs();
  CommandResult refused = Run({"iscsi-inq", info->sites[0].url}, 3 * kNsPerSec);
  CHECK(!refused.timed_out);
  CHECK(!refused.success());
  CHECK(MonoNs() - t0 < 2 * kNsPerSec);
  CHECK(Run({"iscsi-inq", info->sites[1].url}).success());
  auto st = lab.Status();
  REQUIRE(st.ok());
  CHECK(st->sites["site-a"]["io_refused"] == true);
  bool cut_listed = false;
  for (const LabLink& l : st->links) {
    if (l.ns == "fb-site-a" && l.name == "repl0") cut_listed = !l.cut_rules.empty();
  }
  CHECK(cut_listed);

  REQUIRE(Nft("fb-site-a", "flush chain inet " + t + " input\nflush chain inet " + t + " output\n").ok());
  ev = WaitForEvents(info->events_file, 8 * kNsPerSec,
                     [](const std::vector<json>& e) { return Has(e, "site-a", "io_resumed"); });
  CHECK(Has(ev, "site-a", "io_resumed"));
  CHECK(Run({"iscsi-inq", info->sites[0].url}).success());

  // A crash that lost the state directory: down still finds everything by name.
  std::filesystem::remove_all(kDefaultStateDir);
  REQUIRE(lab.Down().ok());
  CheckNothingLeft();
}

}  // namespace fb::lab
