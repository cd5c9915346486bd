// The lab's mediator: a UDP service that decides, once per epoch, which site
// keeps serving after the replication link is lost. The first site to claim an
// epoch wins it; a repeated claim by the same site gets the same answer.
//
// Wire format (one JSON object per datagram):
//   claim:  {"op":"claim","site":"site-a","epoch":3,"nonce":17}
//   answer: {"op":"claim","site":"site-a","epoch":3,"nonce":17,"winner":"site-a"}
//   ping:   {"op":"ping","nonce":18}, answered with the same object.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <string>

#include "core/status.h"
#include "lab/udp.h"

namespace fb::lab {

// The decision table, apart from the socket so it can be tested alone.
class MediatorTable {
 public:
  // Returns the winner of `epoch` (site, if it is the first to claim it).
  std::string Claim(int64_t epoch, const std::string& site);

 private:
  std::map<int64_t, std::string> winners_;
};

class MediatorServer {
 public:
  Status Bind(const std::string& addr, int port);
  int port() const { return socket_.port(); }
  // Answers claims until *stop is true (checked every 100 ms).
  void Serve(const std::atomic<bool>* stop);

 private:
  UdpSocket socket_;
  MediatorTable table_;
};

// True if the mediator answers a ping within timeout_ns.
bool PingMediator(const std::string& mediator_addr, int port, int64_t timeout_ns);

enum class ClaimOutcome { kWon, kLost, kUnreachable };

// Sends a claim and waits for the answer, resending every 100 ms, for at most
// timeout_ns in all.
ClaimOutcome ClaimAtMediator(const std::string& mediator_addr, int port, const std::string& site,
                             int64_t epoch, int64_t timeout_ns);

}  // namespace fb::lab
