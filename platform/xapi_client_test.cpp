// The XAPI client against the fake pool (fakes/fake_xapi_pool.h, the same
// JSON-RPC as the lab's XAPI): login through a member that is not the master,
// records, errors that name the member but never the password.
#include "platform/xapi_client.h"

#include <doctest/doctest.h>

#include <algorithm>

#include "fakes/fake_xapi_pool.h"

namespace fb {

namespace {

constexpr const char* kPassword = "xapi-test-password";

XapiEndpoint Endpoint(const FakeXapiPool& pool, std::vector<int> members, std::string password = kPassword) {
  XapiEndpoint e;
  for (int m : members) e.urls.push_back(pool.Url(m));
  e.password = std::move(password);
  e.timeout_ns = 500 * kNsPerMs;
  return e;
}

}  // namespace

TEST_CASE("xapi client: a member that is not the master sends the client to it, records by class" *
          doctest::test_suite("unit")) {
  FakeXapiPool pool(3);
  REQUIRE(pool.ok());
  std::string host = pool.Add("host", {{"name_label", "host-1"}, {"address", pool.Address(0)}});
  pool.Add("pool", {{"name_label", "pool-a"}, {"master", host}});
  XapiClient xapi(Endpoint(pool, {2, 1, 0}), "discover");
  REQUIRE(xapi.Connect().ok());
  CHECK(xapi.url() == pool.Url(0));  // member 2 answered HOST_IS_SLAVE ["127.0.0.1"]
  CHECK(pool.LoginAttempts(2) == 1);
  CHECK(pool.Logins(0) == 1);
  auto pools = xapi.AllRecords("pool");
  REQUIRE(pools.ok());
  REQUIRE(pools->size() == 1);
  CHECK(pools->begin().value()["master"] == host);
  auto hosts = xapi.AllRecords("host");
  REQUIRE(hosts.ok());
  CHECK(hosts->contains(host));

  // The generic calls of the reference: get_record, get_by_uuid, get_all, and their errors.
  XapiReply rec = xapi.CallS("host.get_record", {host});
  REQUIRE(rec.ok);
  CHECK(rec.result["name_label"] == "host-1");
  XapiReply by_uuid = xapi.CallS("host.get_by_uuid", {rec.result["uuid"]});
  REQUIRE(by_uuid.ok);
  CHECK(by_uuid.result == host);
  XapiReply all = xapi.CallS("host.get_all");
  REQUIRE(all.ok);
  CHECK(all.result == nlohmann::json::array({host}));
  XapiReply bad_ref = xapi.CallS("VM.get_record", {"OpaqueRef:nothing"});
  CHECK(bad_ref.error == "HANDLE_INVALID");
  CHECK(bad_ref.data == nlohmann::json::array({"VM", "OpaqueRef:nothing"}));
  XapiReply bad_uuid = xapi.CallS("SR.get_by_uuid", {"0000"});
  CHECK(bad_uuid.error == "UUID_INVALID");
  CHECK(bad_uuid.data == nlohmann::json::array({"SR", "0000"}));
  XapiReply methods = xapi.Call("system.listMethods", nlohmann::json::array(), 2000000000);
  REQUIRE(methods.ok);
  CHECK(std::count(methods.result.begin(), methods.result.end(), nlohmann::json("VM.get_by_uuid")) == 1);
  CHECK(std::count(methods.result.begin(), methods.result.end(), nlohmann::json("event.from")) == 1);

  XapiReply unknown = xapi.CallS("host.no_such_method");
  CHECK(!unknown.ok);
  CHECK(unknown.error == "MESSAGE_METHOD_UNKNOWN");
  CHECK(unknown.text.find(pool.Url(0)) != std::string::npos);

  // The master moves: a call on the old one says HOST_IS_SLAVE, the next Connect follows it.
  pool.FailOver(1, "", "");
  XapiReply moved = xapi.CallS("host.get_all_records");
  REQUIRE(moved.error == "HOST_IS_SLAVE");
  xapi.FollowMaster(moved);
  CHECK(!xapi.connected());
  REQUIRE(xapi.Connect().ok());
  CHECK(xapi.url() == pool.Url(1));
  xapi.Logout();
  CHECK(!xapi.connected());
}

TEST_CASE("xapi client: a wrong password and dead members are named, the password never" *
          doctest::test_suite("unit")) {
  FakeXapiPool pool(2);
  REQUIRE(pool.ok());
  XapiClient wrong(Endpoint(pool, {0}, "not-the-password"), "discover");
  Status st = wrong.Connect();
  REQUIRE(!st.ok());
  CHECK(st.message().find("discover: no pool master answered") == 0);
  CHECK(st.message().find("SESSION_AUTHENTICATION_FAILED") != std::string::npos);
  CHECK(st.message().find(pool.Url(0)) != std::string::npos);
  CHECK(st.message().find("not-the-password") == std::string::npos);

  pool.Kill(0);
  pool.Kill(1);
  XapiEndpoint e = Endpoint(pool, {0, 1});
  e.timeout_ns = 200 * kNsPerMs;
  XapiClient dead(e, "discover");
  st = dead.Connect();
  REQUIRE(!st.ok());
  CHECK(st.message().find(pool.Url(0)) != std::string::npos);
  CHECK(st.message().find(pool.Url(1)) != std::string::npos);
  CHECK(st.message().find(kPassword) == std::string::npos);
}

TEST_CASE(
    "xapi client: settings: url and members, a literal password refused, the password from the environment" *
    doctest::test_suite("unit")) {
  setenv("FB_TEST_XAPI_CLIENT_PW", "s3cret", 1);
  Settings ok({{"url", "https://198.18.10.10/"},
               {"fallback_urls", nlohmann::json::array({"https://198.18.10.11"})},
               {"password_env", "FB_TEST_XAPI_CLIENT_PW"},
               {"timeout", "3s"}});
  XapiEndpoint e = XapiEndpointFromSettings(&ok);
  CHECK(ok.problems().empty());
  CHECK(e.urls == std::vector<std::string>{"https://198.18.10.10", "https://198.18.10.11"});
  CHECK(e.password == "s3cret");
  CHECK(e.user == "root");
  CHECK(e.tls_verify);
  CHECK(e.timeout_ns == 3 * kNsPerSec);
  unsetenv("FB_TEST_XAPI_CLIENT_PW");

  Settings bad({{"url", "198.18.10.10/jsonrpc"}, {"password", "hunter2"}});
  XapiEndpointFromSettings(&bad);
  std::vector<std::string> keys;
  for (const auto& p : bad.problems()) keys.push_back(p.key);
  CHECK(std::count(keys.begin(), keys.end(), "url") == 1);
  CHECK(std::count(keys.begin(), keys.end(), "password") == 1);
  for (const auto& p : bad.problems()) CHECK(p.message.find("hunter2") == std::string::npos);
}

}  // namespace fb
