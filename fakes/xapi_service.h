// An XAPI pool database with its JSON-RPC front end, shared by the tests' fake
// pool (fakes/fake_xapi_pool.h) and the lab's HA simulator (fb-ha-sim). It depends
// on nothing but core, cpp-httplib and nlohmann::json, so both may link it.
//
// Speaks the JSON-RPC of docs/platform.md on `POST /jsonrpc`:
// session.login_with_password / session.logout, event.from (token "" = from now,
// {"events","valid_ref_counts","token"}, events {id, timestamp "0.0", class,
// operation, ref, snapshot}, no snapshot on del), <Class>.get_all_records,
// get_all, get_record (HANDLE_INVALID [class, ref]) and get_by_uuid
// (UUID_INVALID [class, uuid]) for the classes of the XAPI reference that the
// lab serves, system.listMethods (no session, on every member),
// message.get_since [session, "20240101T12:00:00Z"], and errors
// {"code":1,"message":NAME,"data":[...]}. One service serves one or more pool
// members, each a listener on its own address and one common port; the member
// whose address is the master address answers, every other one answers
// HOST_IS_SLAVE ["<master address>"]. Thread-safe.
#pragma once

#include <httplib.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"

namespace fb {

inline constexpr const char* kXapiNullRef = "OpaqueRef:NULL";

// What a call answers: a result, or an XAPI error (its code and parameters).
struct XapiAnswer {
  nlohmann::json result = "";
  std::string error;  // "" = success
  nlohmann::json params = nlohmann::json::array();
  static XapiAnswer Ok(nlohmann::json r) { return {std::move(r), "", nlohmann::json::array()}; }
  static XapiAnswer Fail(std::string code, nlohmann::json params) {
    return {"", std::move(code), std::move(params)};
  }
};

class XapiService {
 public:
  // Login accepts `user` with `password` (any password when it is empty: a lab's
  // pool, whose password nobody needs to know).
  XapiService(std::string user, std::string password);
  ~XapiService();
  XapiService(const XapiService&) = delete;
  XapiService& operator=(const XapiService&) = delete;

  // Starts one listener per address, all on `port` (0: a port free on every
  // address). The first address is the master until SetMaster says otherwise.
  // Errors name the address and port.
  Status Serve(const std::vector<std::string>& addresses, int port);
  // Closes every listener; calls in flight end. Idempotent (the destructor calls it).
  void Stop();
  int port() const { return port_; }
  int members() const { return int(members_.size()); }
  std::string Address(int member) const;

  // The database, by event.from's lower-case class ("host", "vm", ...). Add()
  // gives a ref "OpaqueRef:<class>-<n>" and fills a missing uuid; Put() stores a
  // record under a ref of the caller's. Neither makes an event.
  std::string Add(const std::string& cls, nlohmann::json record);
  void Put(const std::string& cls, const std::string& ref, nlohmann::json record);
  // Merges `patch` into the record and appends a `mod` event with the new snapshot.
  void Mod(const std::string& cls, const std::string& ref, const nlohmann::json& patch);
  // Runs fn on a thread of the service after delay_ns (what happens later by
  // itself: a rebooted host back); never once Stop() began. Joined at Stop.
  void After(int64_t delay_ns, std::function<void()> fn);
  // The id of the last change event (grows with every Mod, Del, message, task
  // step): a caller that persists the database compares it.
  int64_t LastChange();
  // Removes the record and appends a `del` event (no snapshot).
  void Del(const std::string& cls, const std::string& ref);
  // Creates a message record (uuid, name, priority, cls, obj_uuid, timestamp
  // "20240101T12:00:00Z" of now, body) and appends its `add` event; returns its ref.
  std::string AddMessage(const std::string& name, int priority, const std::string& cls,
                         const std::string& obj_uuid, const std::string& body);
  // A copy of one record (null when missing) or of one class (ref -> record).
  nlohmann::json Record(const std::string& cls, const std::string& ref);
  nlohmann::json Records(const std::string& cls);

  // A call beyond the generic ones (`VM.pool_migrate`, `host.disable`, ...; see
  // fakes/xapi_ops.h): params after the session. Runs without the service's
  // lock (it may call Mod, Record, ...), on the caller's thread; its `Async.`
  // twin runs it on a task thread and answers a task ref at once: a `task`
  // record (name_label, status pending|success|failure, progress 0..1, created,
  // finished, result, error_info [code, params...]) with its events.
  using Handler = std::function<XapiAnswer(const nlohmann::json& args)>;
  void SetHandler(const std::string& method, Handler handler);

  // The address members name in HOST_IS_SLAVE; the member with that address (if
  // any) answers. With a pool_ref the pool record's master becomes host_ref (a
  // mod event) in the same step.
  void SetMaster(const std::string& master_address, const std::string& pool_ref = "",
                 const std::string& host_ref = "");
  std::string master_address();

  // Power pulled: the member's listener closes (new connections are refused) and
  // calls in flight never get an answer (until Stop).
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

  // The database as JSON ({"records": class -> ref -> record, "next", "epoch"}),
  // for a new master to continue it. Load() replaces the records and makes every
  // token of an earlier epoch invalid; sessions and past events are not carried.
  nlohmann::json Dump();
  Status Load(const nlohmann::json& dump);

 private:
  struct Member {
    std::string address;
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
  // A handler's call (and its Async. twin); the lock is released meanwhile.
  nlohmann::json CallHandler(const std::string& method, const nlohmann::json& params,
                             const nlohmann::json& id, std::unique_lock<std::mutex>& lock);
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
  std::string master_address_;
  int64_t next_ = 0;
  int64_t epoch_ = 1;
  int session_generation_ = 0;
  std::map<std::string, int> sessions_;                              // session ref -> member it was made on
  std::map<std::string, std::map<std::string, nlohmann::json>> db_;  // class -> ref -> record
  std::vector<Change> changes_;
  std::map<std::string, Handler> handlers_;
  std::vector<std::thread> tasks_;  // Async. calls; joined at Stop
  int64_t last_id_ = 0;
};

}  // namespace fb
