// The array client against the fake FlashArray (fakes/fake_array.h, REST 2.42):
// login on demand, a fresh login after a 401, every page of a list, errors that
// name the URL but never the token.
#include "platform/array_client.h"

#include <doctest/doctest.h>

#include "fakes/fake_array.h"

namespace fb {

namespace {

ArrayEndpoint Endpoint(const FakeFlashArray& fake, std::string token = "secret") {
  ArrayEndpoint e;
  e.url = "http://127.0.0.1:" + std::to_string(fake.port());
  e.token = std::move(token);
  e.timeout_ns = 500 * kNsPerMs;
  return e;
}

}  // namespace

TEST_CASE("array client: login on demand, again after a 401, every page of a list" *
          doctest::test_suite("unit")) {
  FakeFlashArray fake;
  for (int i = 1; i <= 5; ++i) fake.AddAlert(i);
  ArrayClient array(Endpoint(fake), "discover");
  auto pods = array.List("pods");
  REQUIRE(pods.ok());
  REQUIRE(pods->size() == 1);
  CHECK((*pods)[0]["name"] == "fb-pod");
  CHECK((*pods)[0]["arrays"].size() == 2);
  CHECK(fake.logins() == 1);

  fake.SetPageSize(2);
  auto alerts = array.List("alerts");
  REQUIRE(alerts.ok());
  REQUIRE(alerts->size() == 5);  // three pages
  CHECK((*alerts)[4]["id"] == "5");
  CHECK(fake.logins() == 1);

  fake.DropSessions();
  auto again = array.List("array-connections");
  REQUIRE(again.ok());
  CHECK((*again)[0]["status"] == "connected");
  CHECK(fake.logins() == 2);
  array.Logout();
}

TEST_CASE("array client: a wrong token and an unreachable array are named, the token never" *
          doctest::test_suite("unit")) {
  FakeFlashArray fake;
  ArrayClient wrong(Endpoint(fake, "not-the-token"), "discover");
  auto r = wrong.List("pods");
  REQUIRE(!r.ok());
  CHECK(r.status().message().find("discover: login to http://127.0.0.1:") == 0);
  CHECK(r.status().message().find("401 Invalid api-token.") != std::string::npos);
  CHECK(r.status().message().find("not-the-token") == std::string::npos);

  int port = 0;
  {
    FakeFlashArray gone;
    port = gone.port();
  }
  ArrayEndpoint e;
  e.url = "http://127.0.0.1:" + std::to_string(port);
  e.token = "secret";
  e.timeout_ns = 200 * kNsPerMs;
  ArrayClient dead(e, "discover");
  auto d = dead.List("pods");
  REQUIRE(!d.ok());
  CHECK(d.status().message().find(e.url) != std::string::npos);
}

}  // namespace fb
