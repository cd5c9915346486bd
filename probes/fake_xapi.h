// A fake XAPI pool for the tests (compiled into the test binary only): one
// database served by several pool members, each a cpp-httplib server on its own
// loopback address (127.0.0.1, 127.0.0.2, ...) and one common port, as real members
// all listen on the same port. Speaks the JSON-RPC of ../shared/PLATFORM.md:
// session.login_with_password / session.logout, event.from (token "" = from now,
// {"events","valid_ref_counts","token"}, events {id, timestamp "0.0", class,
// operation, ref, snapshot}, no snapshot on del), <Class>.get_all_records,
// message.get_since [session, "20240101T12:00:00Z"], and
// errors {"code":1,"message":NAME,"data":[...]}. A member that is not the master
// answers every call with HOST_IS_SLAVE ["<master address>"]. Thread-safe.
#pragma once

#include <httplib.h>

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace fb {

class FakeXapiPool {
 public:
  // `members` servers; member 0 is the master. user/password are what login accepts.
  explicit FakeXapiPool(int members, std::string user = "root", std::string password = "xapi-test-password");
  ~FakeXapiPool();
  FakeXapiPool(const FakeXapiPool&) = delete;
  FakeXapiPool& operator=(const FakeXapiPool&) = delete;

  bool ok() const { return port_ > 0; }
  std::string Address(int member) const { return "127.0.0." + std::to_string(member + 1); }
  int port() const { return port_; }
  std::string Url(int member) const { return "http://" + Address(member) + ":" + std::to_string(port_); }

  // The database, by event.from's lower-case class ("host", "vm", ...). Add() gives
  // a ref "OpaqueRef:<class>-<n>" and fills a missing uuid; it makes no event.
  std::string Add(const std::string& cls, nlohmann::json record);
  // Merges `patch` into the record and appends a `mod` event with the new snapshot.
  void Mod(const std::string& cls, const std::string& ref, const nlohmann::json& patch);
  // Removes the record and appends a `del` event (no snapshot).
  void Del(const std::string& cls, const std::string& ref);
  // Creates a message record (uuid, name, priority, cls, obj_uuid, timestamp, body)
  // and appends its `add` event; returns its ref.
  std::string AddMessage(const std::string& name, int priority, const std::string& cls,
                         const std::string& obj_uuid, const std::string& body);
  nlohmann::json Record(const std::string& cls, const std::string& ref);

  // `member` becomes the master (the others now name it in HOST_IS_SLAVE) and the
  // pool record's master field is set to `host_ref` (a mod event), in one step.
  void FailOver(int member, const std::string& pool_ref, const std::string& host_ref);
  // Power pulled: the member's listener closes (new connections are refused) and
  // calls in flight never get an answer.
  void Kill(int member);
  // Every session is forgotten; calls in flight and later answer SESSION_INVALID.
  void InvalidateSessions();
  // Every token handed out so far is rejected with EVENT_FROM_TOKEN_PARSE_FAILURE,
  // also by the long polls in flight.
  void BreakTokens();

  // Successful logins, login attempts, and event.from calls with a token (long polls) per member.
  int Logins(int member);
  int LoginAttempts(int member);
  int Polls(int member);

 private:
  struct Member {
    httplib::Server srv;
    std::thread thread;
    bool dead = false;
    int logins = 0, attempts = 0, polls = 0;
  };
  struct Change {
    int64_t id;
    std::string cls, op, ref;
    nlohmann::json snapshot;  // null for del
  };

  nlohmann::json Handle(int member, const nlohmann::json& req, std::unique_lock<std::mutex>& lock);
  nlohmann::json EventFrom(int member, const nlohmann::json& params, const nlohmann::json& id,
                           std::unique_lock<std::mutex>& lock);
  bool SessionOk(int member, const nlohmann::json& params) const;
  std::string Token(int64_t id) const;
  void Append(const std::string& cls, const std::string& op, const std::string& ref, nlohmann::json snapshot);

  std::string user_, password_;
  int port_ = 0;
  std::vector<std::unique_ptr<Member>> members_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool shutdown_ = false;
  int master_ = 0;
  int next_ = 0;
  int epoch_ = 1;
  int session_generation_ = 0;
  std::map<std::string, int> sessions_;                              // session ref -> member it was made on
  std::map<std::string, std::map<std::string, nlohmann::json>> db_;  // class -> ref -> record
  std::vector<Change> changes_;
  int64_t last_id_ = 0;
};

}  // namespace fb
