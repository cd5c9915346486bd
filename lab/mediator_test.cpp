#include "lab/mediator.h"

#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "core/clock.h"

namespace fb::lab {

TEST_CASE("lab mediator: first claimer of an epoch wins, repeated claims get the same answer" *
          doctest::test_suite("unit")) {
  MediatorTable t;
  CHECK(t.Claim(1, "site-b") == "site-b");
  CHECK(t.Claim(1, "site-a") == "site-b");
  CHECK(t.Claim(1, "site-b") == "site-b");
  CHECK(t.Claim(2, "site-a") == "site-a");
  CHECK(t.Claim(2, "site-b") == "site-a");
}

TEST_CASE("lab mediator: claims and pings over UDP on loopback" * doctest::test_suite("unit")) {
  MediatorServer server;
  // A port the kernel picks on loopback: never one another test holds.
  REQUIRE(server.Bind("127.0.0.1", 0).ok());
  const int port = server.port();
  REQUIRE(port > 0);
  std::atomic<bool> stop{false};
  std::thread serve([&] { server.Serve(&stop); });
  CHECK(PingMediator("127.0.0.1", port, kNsPerSec));
  CHECK(ClaimAtMediator("127.0.0.1", port, "site-a", 7, kNsPerSec) == ClaimOutcome::kWon);
  CHECK(ClaimAtMediator("127.0.0.1", port, "site-b", 7, kNsPerSec) == ClaimOutcome::kLost);
  CHECK(ClaimAtMediator("127.0.0.1", port, "site-a", 7, kNsPerSec) == ClaimOutcome::kWon);
  stop = true;
  serve.join();
  int64_t t0 = MonoNs();
  CHECK(ClaimAtMediator("127.0.0.1", port, "site-b", 8, 300 * kNsPerMs) == ClaimOutcome::kUnreachable);
  CHECK(MonoNs() - t0 < 2 * kNsPerSec);
}

}  // namespace fb::lab
