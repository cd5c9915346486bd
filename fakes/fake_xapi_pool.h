// A fake XAPI pool for the tests (compiled into the test binary only): one
// database (fakes/xapi_service.h, which the lab's HA simulator serves too) served
// by several pool members, each on its own loopback address (127.0.0.1,
// 127.0.0.2, ...) and one common port, as real members all listen on the same
// port. Speaks the JSON-RPC of docs/platform.md (see xapi_service.h). A
// member that is not the master answers every call with HOST_IS_SLAVE
// ["<master address>"]. Thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "fakes/xapi_service.h"

namespace fb {

class FakeXapiPool {
 public:
  // `members` servers; member 0 is the master. user/password are what login accepts.
  explicit FakeXapiPool(int members, std::string user = "root", std::string password = "xapi-test-password");
  FakeXapiPool(const FakeXapiPool&) = delete;
  FakeXapiPool& operator=(const FakeXapiPool&) = delete;

  // Whether every member listens (status() says why not).
  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  std::string Address(int member) const { return "127.0.0." + std::to_string(member + 1); }
  int port() const { return svc_.port(); }
  std::string Url(int member) const { return "http://" + Address(member) + ":" + std::to_string(port()); }

  // The database, by event.from's lower-case class ("host", "vm", ...). Add() gives
  // a ref "OpaqueRef:<class>-<n>" and fills a missing uuid; it makes no event.
  std::string Add(const std::string& cls, nlohmann::json record) { return svc_.Add(cls, std::move(record)); }
  // Merges `patch` into the record and appends a `mod` event with the new snapshot.
  void Mod(const std::string& cls, const std::string& ref, const nlohmann::json& patch) {
    svc_.Mod(cls, ref, patch);
  }
  // Removes the record and appends a `del` event (no snapshot).
  void Del(const std::string& cls, const std::string& ref) { svc_.Del(cls, ref); }
  // Creates a message record (uuid, name, priority, cls, obj_uuid, timestamp, body)
  // and appends its `add` event; returns its ref.
  std::string AddMessage(const std::string& name, int priority, const std::string& cls,
                         const std::string& obj_uuid, const std::string& body) {
    return svc_.AddMessage(name, priority, cls, obj_uuid, body);
  }
  nlohmann::json Record(const std::string& cls, const std::string& ref) { return svc_.Record(cls, ref); }
  nlohmann::json Records(const std::string& cls) { return svc_.Records(cls); }
  // The service itself, e.g. for InstallXapiOperations (fakes/xapi_ops.h).
  XapiService* service() { return &svc_; }

  // `member` becomes the master (the others now name it in HOST_IS_SLAVE) and the
  // pool record's master field is set to `host_ref` (a mod event), in one step.
  void FailOver(int member, const std::string& pool_ref, const std::string& host_ref) {
    svc_.SetMaster(Address(member), pool_ref, host_ref);
  }
  // Power pulled: the member's listener closes (new connections are refused) and
  // calls in flight never get an answer.
  void Kill(int member) { svc_.Kill(member); }
  // Every session is forgotten; calls in flight and later answer SESSION_INVALID.
  void InvalidateSessions() { svc_.InvalidateSessions(); }
  // Every token handed out so far is rejected with EVENT_FROM_TOKEN_PARSE_FAILURE,
  // also by the long polls in flight.
  void BreakTokens() { svc_.BreakTokens(); }

  // Successful logins, login attempts, and event.from calls with a token (long polls) per member.
  int Logins(int member) { return svc_.Logins(member); }
  int LoginAttempts(int member) { return svc_.LoginAttempts(member); }
  int Polls(int member) { return svc_.Polls(member); }

 private:
  XapiService svc_;
  Status status_;
};

}  // namespace fb
