// netfilter against the real thing: two namespaces joined by a veth pair; the
// fault's table drops the peer and traffic really stops, then resumes.
#include "injectors/netfilter_injector.h"

#include <doctest/doctest.h>

#include "tests/support/rigs.h"
#include "tests/support/skip.h"
#include "tests/support/test_util.h"

namespace fb {

TEST_CASE("netfilter injector: settings problems" * doctest::test_suite("unit")) {
  Settings s(
      nlohmann::json{{"address", "198.18.0.2; flush ruleset"}, {"port", "70000"}, {"direction", "sideways"}});
  NewNetfilterInjector("cut", &s);
  CHECK(s.problems().size() == 3);
  Settings none(nlohmann::json::object());
  NewNetfilterInjector("cut", &none);
  REQUIRE(none.problems().size() == 1);
  CHECK(none.problems()[0].message.find("at least one of address, port, interface") != std::string::npos);
}

TEST_CASE(
    "netfilter injector: drops traffic in a namespace, check sees the table, revert removes exactly it" *
    doctest::test_suite("integration")) {
  if (!IsRoot() || !HaveCommand("nft")) {
    Skip("needs root and nft");
    return;
  }
  NetnsPair net(0);
  REQUIRE(net.ok());
  REQUIRE(WaitFor([&] { return net.Reachable(); }, 3000, 50));
  Settings s(nlohmann::json{{"netns", net.a()}, {"address", net.addr_b()}, {"timeout", "5s"}});
  auto inj = NewNetfilterInjector("repl-link", &s);
  REQUIRE(s.problems().empty());
  inj->Bind({"plan-20260101T000000Z", 10 * kNsPerSec});
  const std::string table = "faultbench_plan_20260101T000000Z_repl_link";
  CHECK(inj->checker()->InEffect().value() == false);
  REQUIRE(inj->Inject().ok());
  CHECK(NftTableExists(net.a(), table));
  CHECK(inj->checker()->InEffect().value() == true);
  CHECK(!net.Reachable());
  // Injecting again replaces the table, it does not add a second set of rules.
  REQUIRE(inj->Inject().ok());
  auto listing = RunChecked({"ip", "netns", "exec", net.a(), "nft", "list", "table", "inet", table});
  REQUIRE(listing.ok());
  CHECK(listing->find("timeout") != std::string::npos);  // last-resort expiry on the element
  REQUIRE(inj->Revert().ok());
  CHECK(!NftTableExists(net.a(), table));
  CHECK(inj->checker()->InEffect().value() == false);
  CHECK(WaitFor([&] { return net.Reachable(); }, 2000, 20) != 0);
  // Reverting what is gone already is not an error (the guard may have done it).
  CHECK(inj->Revert().ok());
}

TEST_CASE("netfilter injector: port and interface matches, the element timeout ends the drop by itself" *
          doctest::test_suite("integration")) {
  if (!IsRoot() || !HaveCommand("nft")) {
    Skip("needs root and nft");
    return;
  }
  NetnsPair net(2);
  REQUIRE(net.ok());
  REQUIRE(WaitFor([&] { return net.Reachable(); }, 3000, 50));
  // The probe connects to port 9: a port-only drop of 3260 leaves it alone.
  Settings port(
      nlohmann::json{{"netns", net.a()}, {"port", "3260"}, {"interface", "fbva"}, {"direction", "out"}});
  auto p = NewNetfilterInjector("iscsi", &port);
  REQUIRE(port.problems().empty());
  REQUIRE(p->Inject().ok());
  CHECK(net.Reachable());
  auto tcp = RunCommand({"ip", "netns", "exec", net.a(), "timeout", "1", "bash", "-c",
                         "echo > /dev/tcp/" + net.addr_b() + "/3260"});
  REQUIRE(tcp.ok());
  CHECK(tcp->exit_code == 124);  // dropped: timed out, not refused
  REQUIRE(p->Revert().ok());

  Settings s(nlohmann::json{{"netns", net.a()}, {"address", net.addr_b()}, {"expire", "700ms"}});
  auto inj = NewNetfilterInjector("expiring", &s);
  REQUIRE(s.problems().empty());
  int64_t t0 = MonoNs();
  REQUIRE(inj->Inject().ok());
  CHECK(!net.Reachable());
  int64_t back = WaitFor([&] { return net.Reachable(); }, 3000, 10);
  CHECK(back != 0);
  MESSAGE("element timeout 700ms: traffic back after " << (back - t0) / kNsPerMs << " ms, no revert run");
  CHECK(inj->checker()->InEffect().value() == true);  // the table stays until reverted
  REQUIRE(inj->Revert().ok());
}

}  // namespace fb
