#include "lab/mediator.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>

#include "core/clock.h"

namespace fb::lab {

std::string MediatorTable::Claim(int64_t epoch, const std::string& site) {
  return winners_.emplace(epoch, site).first->second;
}

Status MediatorServer::Bind(const std::string& addr, int port) { return socket_.Bind(addr, port); }

void MediatorServer::Serve(const std::atomic<bool>* stop) {
  while (!stop->load()) {
    auto d = socket_.Recv(100 * kNsPerMs);
    if (!d) continue;
    nlohmann::json req = nlohmann::json::parse(d->text, nullptr, /*allow_exceptions=*/false);
    if (!req.is_discarded() && req.value("op", "") == "ping") {
      Status s = socket_.SendTo(d->from_addr, d->from_port, req.dump());
      if (!s.ok()) std::fprintf(stderr, "mediator: %s\n", s.message().c_str());
      continue;
    }
    if (req.is_discarded() || req.value("op", "") != "claim" || !req.contains("epoch") ||
        !req["epoch"].is_number_integer() || !req.contains("site") || !req["site"].is_string()) {
      std::fprintf(stderr, "mediator: ignoring malformed datagram from %s:%d\n", d->from_addr.c_str(),
                   d->from_port);
      continue;
    }
    std::string site = req["site"].get<std::string>();
    int64_t epoch = req["epoch"].get<int64_t>();
    std::string winner = table_.Claim(epoch, site);
    nlohmann::json answer = req;
    answer["winner"] = winner;
    std::fprintf(stderr, "%s mediator: epoch %lld claimed by %s, winner %s\n",
                 FormatUtcIso(UtcNs(), 6).c_str(), static_cast<long long>(epoch), site.c_str(),
                 winner.c_str());
    Status s = socket_.SendTo(d->from_addr, d->from_port, answer.dump());
    if (!s.ok()) std::fprintf(stderr, "mediator: %s\n", s.message().c_str());
  }
}

namespace {
// Sends `request` (which carries a fresh nonce) every 100 ms until an answer
// with that nonce arrives or timeout_ns passes.
std::optional<nlohmann::json> Ask(const std::string& addr, int port, nlohmann::json request,
                                  int64_t timeout_ns) {
  UdpSocket sock;
  if (!sock.Bind("0.0.0.0", 0).ok()) return std::nullopt;
  static std::atomic<int64_t> next_nonce{1};
  int64_t nonce = next_nonce++;
  request["nonce"] = nonce;
  std::string text = request.dump();
  int64_t deadline = MonoNs() + timeout_ns;
  while (MonoNs() < deadline) {
    // A send error (no route while a link is down) counts as one lost attempt.
    Status sent = sock.SendTo(addr, port, text);
    int64_t resend_at = std::min(MonoNs() + 100 * kNsPerMs, deadline);
    while (sent.ok() && MonoNs() < resend_at) {
      auto d = sock.Recv(resend_at - MonoNs());
      if (!d) break;
      nlohmann::json ans = nlohmann::json::parse(d->text, nullptr, false);
      if (ans.is_discarded() || !ans.is_object() || ans.value("nonce", int64_t(0)) != nonce) continue;
      return ans;
    }
    if (!sent.ok()) SleepUntilMono(resend_at);
  }
  return std::nullopt;
}
}  // namespace

bool PingMediator(const std::string& mediator_addr, int port, int64_t timeout_ns) {
  return Ask(mediator_addr, port, {{"op", "ping"}}, timeout_ns).has_value();
}

ClaimOutcome ClaimAtMediator(const std::string& mediator_addr, int port, const std::string& site,
                             int64_t epoch, int64_t timeout_ns) {
  auto ans = Ask(mediator_addr, port, {{"op", "claim"}, {"site", site}, {"epoch", epoch}}, timeout_ns);
  if (!ans || !ans->contains("winner") || !(*ans)["winner"].is_string()) return ClaimOutcome::kUnreachable;
  return (*ans)["winner"] == site ? ClaimOutcome::kWon : ClaimOutcome::kLost;
}

}  // namespace fb::lab
