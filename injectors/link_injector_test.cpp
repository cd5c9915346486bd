// link against the real thing: a veth end in a namespace goes down and up.
#include "injectors/link_injector.h"

#include <doctest/doctest.h>

#include "tests/support/rigs.h"
#include "tests/support/skip.h"
#include "tests/support/test_util.h"

namespace fb {

TEST_CASE("link injector: interface down stops traffic, up restores it, check reads the UP flag" *
          doctest::test_suite("integration")) {
  if (!IsRoot()) {
    Skip("needs root");
    return;
  }
  NetnsPair net(4);
  REQUIRE(net.ok());
  REQUIRE(WaitFor([&] { return net.Reachable(); }, 3000, 50));
  Settings s(nlohmann::json{{"netns", net.a()}, {"interface", "fbva"}, {"timeout", "5s"}});
  auto inj = NewLinkInjector("mgmt-nic", &s);
  REQUIRE(s.problems().empty());
  CHECK(inj->where() == "localhost netns " + net.a());
  CHECK(inj->checker()->InEffect().value() == false);
  REQUIRE(inj->Inject().ok());
  CHECK(inj->checker()->InEffect().value() == true);
  CHECK(!net.Reachable());
  REQUIRE(inj->Revert().ok());
  CHECK(inj->checker()->InEffect().value() == false);
  CHECK(WaitFor([&] { return net.Reachable(); }, 3000, 20) != 0);

  Settings bad(nlohmann::json{{"netns", net.a()}, {"interface", "nosuchif0"}});
  auto missing = NewLinkInjector("ghost", &bad);
  Status st = missing->Inject();
  CHECK(!st.ok());
  CHECK(st.message().find("injector ghost on localhost netns " + net.a() +
                          ": inject `ip link set dev nosuchif0 down`") != std::string::npos);
  CHECK(st.message().find("nosuchif0") != std::string::npos);
}

}  // namespace fb
