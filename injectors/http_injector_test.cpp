// http against a local server that speaks the FlashArray REST 2.x login flow
// (docs/platform.md): POST /api/2.42/login with `api-token`, session in `x-auth-token`.
#include "injectors/http_injector.h"

#include <doctest/doctest.h>
#include <httplib.h>

#include <mutex>
#include <thread>

#include "tests/support/rigs.h"
#include "tests/support/test_util.h"

namespace fb {

namespace {

struct FakeArray {
  httplib::Server server;
  std::thread thread;
  int port = FreePort();
  std::mutex mu;
  bool enabled = true;
  std::vector<std::string> calls;
  FakeArray() {
    server.Post("/api/2.42/login", [this](const httplib::Request& req, httplib::Response& res) {
      if (req.get_header_value("api-token") != "T-123") {
        res.status = 401;
        res.set_content(R"({"errors":[{"context":"login","message":"invalid api-token"}]})",
                        "application/json");
        return;
      }
      res.set_header("x-auth-token", "S-1");
      res.set_content("{}", "application/json");
    });
    server.Patch("/api/2.42/network-interfaces", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu);
      calls.push_back(req.get_header_value("x-auth-token") + " " + req.get_param_value("names") + " " +
                      req.body);
      if (req.get_header_value("x-auth-token") != "S-1") {
        res.status = 401;
        return;
      }
      enabled = nlohmann::json::parse(req.body).value("enabled", true);
      res.set_content("{}", "application/json");
    });
    server.Get("/api/2.42/network-interfaces", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu);
      res.set_content(
          std::string(R"({"items":[{"name":"ct0.eth2","enabled":)") + (enabled ? "true" : "false") + "}]}",
          "application/json");
    });
    thread = std::thread([this] { server.listen("127.0.0.1", port); });
    WaitFor([this] { return server.is_running(); }, 5000, 5);
  }
  ~FakeArray() {
    server.stop();
    thread.join();
  }
};

}  // namespace

TEST_CASE("http injector: api_token login flow, PATCH to disable and enable a port, check from GET" *
          doctest::test_suite("unit")) {
  FakeArray array;
  ScopedEnv token("FB_TEST_ARRAY_TOKEN", "T-123");
  nlohmann::json settings = {{"base_url", "http://127.0.0.1:" + std::to_string(array.port)},
                             {"auth", "api_token"},
                             {"token_env", "FB_TEST_ARRAY_TOKEN"},
                             {"inject_method", "PATCH"},
                             {"inject_path", "/api/2.42/network-interfaces?names=ct0.eth2"},
                             {"inject_body", R"({"enabled": false})"},
                             {"revert_method", "PATCH"},
                             {"revert_path", "/api/2.42/network-interfaces?names=ct0.eth2"},
                             {"revert_body", R"({"enabled": true})"},
                             {"check_path", "/api/2.42/network-interfaces?names=ct0.eth2"},
                             {"check_match", R"("enabled":false)"}};
  Settings s(settings);
  auto inj = NewHttpInjector("repl-port", &s);
  REQUIRE(s.problems().empty());
  CHECK(inj->checker()->InEffect().value() == false);
  REQUIRE(inj->Inject().ok());
  CHECK(inj->checker()->InEffect().value() == true);
  REQUIRE(inj->Revert().ok());
  CHECK(inj->checker()->InEffect().value() == false);
  CHECK(array.calls.size() == 2);
  CHECK(array.calls[0] == R"(S-1 ct0.eth2 {"enabled": false})");

  ScopedEnv wrong("FB_TEST_ARRAY_TOKEN", "wrong");
  Settings s2(settings);
  Status st = NewHttpInjector("repl-port", &s2)->Inject();
  CHECK(!st.ok());
  CHECK(st.message().find("login POST http://127.0.0.1:" + std::to_string(array.port) +
                          "/api/2.42/login: HTTP 401") != std::string::npos);
  CHECK(st.message().find("invalid api-token") != std::string::npos);
}

TEST_CASE("http injector: secrets only by reference, TLS verify on by default" *
          doctest::test_suite("unit")) {
  Settings s(nlohmann::json{{"base_url", "https://array"},
                            {"inject_path", "/x"},
                            {"revert_path", "/y"},
                            {"auth", "bearer"},
                            {"inject_body", "{not json"}});
  NewHttpInjector("h", &s);
  REQUIRE(s.problems().size() == 2);  // bearer without token_env/token_file; bad JSON
  FakeArray plain;  // speaks HTTP: an https:// URL must fail the TLS handshake, not fall back
  Settings t(nlohmann::json{{"base_url", "https://127.0.0.1:" + std::to_string(plain.port)},
                            {"inject_path", "/x"},
                            {"revert_path", "/y"},
                            {"timeout", "2s"}});
  Status st = NewHttpInjector("h", &t)->Inject();
  CHECK(!st.ok());
  CHECK(st.message().find("inject POST https://127.0.0.1:") != std::string::npos);
}

}  // namespace fb
