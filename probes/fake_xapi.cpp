#include "probes/fake_xapi.h"

#include <chrono>
#include <cstdio>
#include <set>

#include "core/clock.h"

namespace fb {

namespace {

using nlohmann::json;

json Error(const std::string& name, json data, const json& id) {
  return {
      {"jsonrpc", "2.0"}, {"error", {{"code", 1}, {"message", name}, {"data", std::move(data)}}}, {"id", id}};
}

json Result(json result, const json& id) {
  return {{"jsonrpc", "2.0"}, {"result", std::move(result)}, {"id", id}};
}

// "VM.get_all_records" -> "vm"; "" when `method` is not a get_all_records.
std::string RecordsClass(const std::string& method) {
  const std::string suffix = ".get_all_records";
  if (method.size() <= suffix.size() ||
      method.compare(method.size() - suffix.size(), suffix.size(), suffix) != 0)
    return "";
  std::string cls = method.substr(0, method.size() - suffix.size());
  for (char& c : cls) c = char(std::tolower(static_cast<unsigned char>(c)));
  return cls;
}

}  // namespace

FakeXapiPool::FakeXapiPool(int members, std::string user, std::string password)
    : user_(std::move(user)), password_(std::move(password)) {
  // One port free on every member's address: take one on the first, try it on the others.
  for (int attempt = 0; attempt < 20 && port_ == 0; ++attempt) {
    std::vector<std::unique_ptr<Member>> ms;
    int port = 0;
    bool bound = true;
    for (int i = 0; i < members && bound; ++i) {
      auto m = std::make_unique<Member>();
      if (i == 0)
        port = m->srv.bind_to_any_port(Address(i));
      else
        bound = m->srv.bind_to_port(Address(i), port);
      bound = bound && port > 0;
      ms.push_back(std::move(m));
    }
    if (!bound) continue;
    members_ = std::move(ms);
    port_ = port;
  }
  for (int i = 0; i < int(members_.size()); ++i) {
    Member* m = members_[i].get();
    m->srv.Post("/jsonrpc", [this, i](const httplib::Request& req, httplib::Response& res) {
      json body = json::parse(req.body, nullptr, false);
      std::unique_lock<std::mutex> lock(mu_);
      json answer = body.is_object()
                        ? Handle(i, body, lock)
                        : Error("JSONRPC_PARSE_ERROR", json::array({"request is not a JSON object"}), 0);
      res.set_content(answer.dump(), "application/json");
    });
    m->thread = std::thread([m] { m->srv.listen_after_bind(); });
  }
}

FakeXapiPool::~FakeXapiPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutdown_ = true;
  }
  cv_.notify_all();
  for (auto& m : members_) {
    // stop() before listen began would be lost: wait for the server to run first.
    if (!m->thread.joinable()) continue;
    if (!m->dead) {  // a killed member's listener is already closed
      // stop() before listen began would be lost: wait for the server to run first.
      for (int i = 0; i < 500 && !m->srv.is_running(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      m->srv.stop();
    }
    m->thread.join();
  }
}

std::string FakeXapiPool::Add(const std::string& cls, json record) {
  std::lock_guard<std::mutex> lock(mu_);
  int n = ++next_;
  std::string ref = "OpaqueRef:" + cls + "-" + std::to_string(n);
  if (!record.contains("uuid")) record["uuid"] = cls + "-uuid-" + std::to_string(n);
  db_[cls][ref] = std::move(record);
  return ref;
}

void FakeXapiPool::Append(const std::string& cls, const std::string& op, const std::string& ref,
                          json snapshot) {
  changes_.push_back({++last_id_, cls, op, ref, std::move(snapshot)});
  cv_.notify_all();
}

void FakeXapiPool::Mod(const std::string& cls, const std::string& ref, const json& patch) {
  std::lock_guard<std::mutex> lock(mu_);
  json& rec = db_[cls][ref];
  rec.merge_patch(patch);
  Append(cls, "mod", ref, rec);
}

void FakeXapiPool::Del(const std::string& cls, const std::string& ref) {
  std::lock_guard<std::mutex> lock(mu_);
  db_[cls].erase(ref);
  Append(cls, "del", ref, nullptr);
}

std::string FakeXapiPool::AddMessage(const std::string& name, int priority, const std::string& cls,
                                     const std::string& obj_uuid, const std::string& body) {
  std::string ts = FormatUtcCompact(UtcNs());                            // "20240101T120000Z"
  ts = ts.substr(0, 11) + ":" + ts.substr(11, 2) + ":" + ts.substr(13);  // "20240101T12:00:00Z"
  std::string ref = Add("message", {{"name", name},
                                    {"priority", priority},
                                    {"cls", cls},
                                    {"obj_uuid", obj_uuid},
                                    {"timestamp", ts},
                                    {"body", body}});
  std::lock_guard<std::mutex> lock(mu_);
  Append("message", "add", ref, db_["message"][ref]);
  return ref;
}

json FakeXapiPool::Record(const std::string& cls, const std::string& ref) {
  std::lock_guard<std::mutex> lock(mu_);
  return db_[cls][ref];
}

void FakeXapiPool::FailOver(int member, const std::string& pool_ref, const std::string& host_ref) {
  std::lock_guard<std::mutex> lock(mu_);
  master_ = member;
  json& rec = db_["pool"][pool_ref];
  rec["master"] = host_ref;
  Append("pool", "mod", pool_ref, rec);
}

void FakeXapiPool::Kill(int member) {
  Member* m = members_[member].get();
  {
    std::lock_guard<std::mutex> lock(mu_);
    m->dead = true;
  }
  cv_.notify_all();
  for (int i = 0; i < 500 && !m->srv.is_running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  m->srv.stop();  // closes the listener; its thread waits for the calls in flight (until shutdown)
}

void FakeXapiPool::InvalidateSessions() {
  std::lock_guard<std::mutex> lock(mu_);
  sessions_.clear();
  ++session_generation_;
  cv_.notify_all();
}

void FakeXapiPool::BreakTokens() {
  std::lock_guard<std::mutex> lock(mu_);
  ++epoch_;
  cv_.notify_all();
}

int FakeXapiPool::Logins(int member) {
  std::lock_guard<std::mutex> lock(mu_);
  return members_[member]->logins;
}

int FakeXapiPool::LoginAttempts(int member) {
  std::lock_guard<std::mutex> lock(mu_);
  return members_[member]->attempts;
}

int FakeXapiPool::Polls(int member) {
  std::lock_guard<std::mutex> lock(mu_);
  return members_[member]->polls;
}

std::string FakeXapiPool::Token(int64_t id) const {
  char buf[48];
  snprintf(buf, sizeof buf, "%020d,%020lld", epoch_, static_cast<long long>(id));
  return buf;
}

bool FakeXapiPool::SessionOk(int member, const json& params) const {
  if (!params.is_array() || params.empty() || !params[0].is_string()) return false;
  auto it = sessions_.find(params[0].get<std::string>());
  return it != sessions_.end() && it->second == member;
}

json FakeXapiPool::Handle(int member, const json& req, std::unique_lock<std::mutex>& lock) {
  json id = req.value("id", json(0));
  std::string method = req.value("method", "");
  json params = req.value("params", json::array());
  Member& m = *members_[member];
  // Power pulled: no answer ever comes; the caller's read timeout has to notice.
  if (m.dead) {
    cv_.wait(lock, [this] { return shutdown_; });
    return Error("INTERNAL_ERROR", json::array({"shut down"}), id);
  }
  if (method == "session.login_with_password") ++m.attempts;
  if (member != master_) return Error("HOST_IS_SLAVE", json::array({Address(master_)}), id);
  if (method == "session.login_with_password") {
    if (!params.is_array() || params.size() != 4 || params[0] != user_ || params[1] != password_) {
      return Error("SESSION_AUTHENTICATION_FAILED",
                   json::array({params.is_array() && !params.empty() ? params[0] : json(""),
                                "Authentication failure"}),
                   id);
    }
    std::string s = "OpaqueRef:session-" + std::to_string(++next_);
    sessions_[s] = member;
    ++m.logins;
    return Result(s, id);
  }
  if (!SessionOk(member, params))
    return Error("SESSION_INVALID",
                 json::array({params.is_array() && !params.empty() ? params[0] : json("")}), id);
  if (method == "session.logout") {
    sessions_.erase(params[0].get<std::string>());
    return Result("", id);
  }
  if (method == "event.from") return EventFrom(member, params, id, lock);
  if (method == "message.get_since") {
    if (params.size() != 2 || !params[1].is_string())
      return Error("MESSAGE_PARAMETER_COUNT_MISMATCH", json::array({method, 2, params.size()}), id);
    json out = json::object();
    for (const auto& [ref, rec] : db_["message"])
      if (rec.value("timestamp", "") >= params[1].get<std::string>()) out[ref] = rec;
    return Result(out, id);
  }
  std::string cls = RecordsClass(method);
  if (!cls.empty() && cls != "message") return Result(db_.count(cls) ? json(db_[cls]) : json::object(), id);
  return Error("MESSAGE_METHOD_UNKNOWN", json::array({method}), id);
}

json FakeXapiPool::EventFrom(int member, const json& params, const json& id,
                             std::unique_lock<std::mutex>& lock) {
  if (params.size() != 4 || !params[1].is_array() || !params[2].is_string() || !params[3].is_number())
    return Error("MESSAGE_PARAMETER_COUNT_MISMATCH", json::array({"event.from", 4, params.size()}), id);
  std::set<std::string> classes;
  for (const json& c : params[1])
    if (c.is_string()) classes.insert(c.get<std::string>());
  std::string token = params[2].get<std::string>();
  int64_t from = last_id_;
  if (!token.empty()) {
    int token_epoch = 0;
    long long n = 0;
    char tail = 0;
    if (sscanf(token.c_str(), "%d,%lld%c", &token_epoch, &n, &tail) != 2 || token_epoch != epoch_)
      return Error("EVENT_FROM_TOKEN_PARSE_FAILURE", json::array({token}), id);
    from = n;
    ++members_[member]->polls;
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(params[3].get<double>());
  int generation = session_generation_, epoch = epoch_;
  Member& m = *members_[member];
  while (true) {
    if (m.dead) {
      cv_.wait(lock, [this] { return shutdown_; });
      return Error("INTERNAL_ERROR", json::array({"shut down"}), id);
    }
    if (session_generation_ != generation) return Error("SESSION_INVALID", json::array({params[0]}), id);
    if (epoch_ != epoch && !token.empty())
      return Error("EVENT_FROM_TOKEN_PARSE_FAILURE", json::array({token}), id);
    json events = json::array();
    for (const Change& c : changes_) {
      if (c.id <= from || !(classes.count(c.cls) || classes.count("*"))) continue;
      json e = {{"id", c.id}, {"timestamp", "0.0"}, {"class", c.cls}, {"operation", c.op}, {"ref", c.ref}};
      if (c.op != "del") e["snapshot"] = c.snapshot;
      events.push_back(std::move(e));
    }
    if (!events.empty() || shutdown_ || std::chrono::steady_clock::now() >= deadline) {
      json counts = json::object();
      for (const std::string& c : classes) counts[c] = db_.count(c) ? db_[c].size() : 0;
      return Result({{"events", events}, {"valid_ref_counts", counts}, {"token", Token(last_id_)}}, id);
    }
    cv_.wait_until(lock, deadline);
  }
}

}  // namespace fb
