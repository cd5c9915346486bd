#include "fakes/xapi_service.h"

#include <chrono>
#include <functional>
#include <cstdio>
#include <map>
#include <set>
#include <utility>

#include "core/clock.h"

namespace fb {

namespace {

using nlohmann::json;

json Error(const std::string& name, json data, const json& id) {
  return {
      {"jsonrpc", "2.0"}, {"error", {{"code", 1}, {"message", name}, {"data", std::move(data)}}}, {"id", id}};
}

json Answer(json result, const json& id) {
  return {{"jsonrpc", "2.0"}, {"result", std::move(result)}, {"id", id}};
}

// The classes whose generic calls the service answers, as the wire spells them
// (the database keys them in lower case, as event.from does).
const char* const kWireClasses[] = {
    "pool", "host", "host_metrics", "PIF", "PIF_metrics",      "Bond",    "network", "SR", "PBD", "VDI",
    "VBD",  "VM",   "VM_metrics",   "VIF", "VM_guest_metrics", "message", "task"};

std::string Lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// "VM.get_record" -> {"VM", "get_record"}; {"", ""} when `method` is not a
// generic call of a known class.
std::pair<std::string, std::string> GenericCall(const std::string& method) {
  size_t dot = method.find('.');
  if (dot == std::string::npos) return {"", ""};
  std::string cls = method.substr(0, dot), call = method.substr(dot + 1);
  for (const char* c : kWireClasses)
    if (cls == c &&
        (call == "get_all_records" || call == "get_record" || call == "get_by_uuid" || call == "get_all"))
      return {cls, call};
  return {"", ""};
}

// A stopped server whose listen() has not begun yet would miss stop(): wait for it.
void StopServer(httplib::Server& srv) {
  for (int i = 0; i < 500 && !srv.is_running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  srv.stop();
}

// "20240101T12:00:00Z", XAPI's datetime.
std::string XapiTimeNow() {
  std::string ts = FormatUtcCompact(UtcNs());  // "20240101T120000Z"
  return ts.substr(0, 11) + ":" + ts.substr(11, 2) + ":" + ts.substr(13);
}

}  // namespace

XapiService::XapiService(std::string user, std::string password)
    : user_(std::move(user)), password_(std::move(password)) {}

XapiService::~XapiService() { Stop(); }

std::string XapiService::Address(int member) const {
  return member >= 0 && member < int(members_.size()) ? members_[member]->address : "";
}

Status XapiService::Serve(const std::vector<std::string>& addresses, int port) {
  if (addresses.empty()) return Status::InvalidInput("xapi: no address to serve");
  if (!members_.empty()) return Status::Internal("xapi: already serving");
  // One port free on every member's address: take one on the first, try it on the others.
  for (int attempt = 0; attempt < (port == 0 ? 20 : 1) && port_ == 0; ++attempt) {
    std::vector<std::unique_ptr<Member>> ms;
    int p = port;
    bool bound = true;
    for (size_t i = 0; i < addresses.size() && bound; ++i) {
      auto m = std::make_unique<Member>();
      m->address = addresses[i];
      if (p == 0)
        p = m->srv.bind_to_any_port(addresses[i]);
      else
        bound = m->srv.bind_to_port(addresses[i], p);
      bound = bound && p > 0;
      ms.push_back(std::move(m));
    }
    if (!bound) continue;
    members_ = std::move(ms);
    port_ = p;
  }
  if (port_ == 0)
    return Status::Unavailable("xapi: cannot listen on " + addresses[0] + ":" + std::to_string(port) +
                               (addresses.size() > 1 ? " (and the other members)" : ""));
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (master_address_.empty()) master_address_ = addresses[0];
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
  return Status::Ok();
}

void XapiService::Stop() {
  std::vector<std::thread> tasks;
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutdown_ = true;
    tasks.swap(tasks_);
  }
  cv_.notify_all();
  for (auto& t : tasks) t.join();
  for (auto& m : members_) {
    if (!m->thread.joinable()) continue;
    if (!m->dead) StopServer(m->srv);  // a killed member's listener is already closed
    m->thread.join();
  }
}

void XapiService::SetHandler(const std::string& method, Handler handler) {
  std::lock_guard<std::mutex> lock(mu_);
  handlers_[method] = std::move(handler);
}

json XapiService::CallHandler(const std::string& method, const json& params, const json& id,
                              std::unique_lock<std::mutex>& lock) {
  bool async = method.rfind("Async.", 0) == 0;
  std::string name = async ? method.substr(6) : method;
  Handler h = handlers_.at(name);
  json args = json::array();
  for (size_t i = 1; i < params.size(); ++i) args.push_back(params[i]);
  if (!async) {
    lock.unlock();
    XapiAnswer a = h(args);
    lock.lock();
    return a.error.empty() ? Answer(a.result, id) : Error(a.error, a.params, id);
  }
  // A task record, then the work on a thread of its own; its end is a mod event.
  std::string now = XapiTimeNow();
  int64_t n = ++next_;
  std::string ref = "OpaqueRef:task-" + std::to_string(n);
  db_["task"][ref] = {{"uuid", "task-uuid-" + std::to_string(n)},
                      {"name_label", method},
                      {"status", "pending"},
                      {"progress", 0.0},
                      {"created", now},
                      {"finished", "19700101T00:00:00Z"},
                      {"result", ""},
                      {"error_info", json::array()}};
  Append("task", "add", ref, db_["task"][ref]);
  tasks_.emplace_back([this, h, args, ref] {
    XapiAnswer a = h(args);
    json patch = {
        {"status", a.error.empty() ? "success" : "failure"},
        {"progress", 1.0},
        {"finished", XapiTimeNow()},
        {"result", a.error.empty() ? (a.result.is_string() ? a.result : json(a.result.dump())) : json("")}};
    json info = json::array();
    if (!a.error.empty()) {
      info.push_back(a.error);
      for (const json& p : a.params) info.push_back(p.is_string() ? p : json(p.dump()));
    }
    patch["error_info"] = info;
    Mod("task", ref, patch);
  });
  return Answer(ref, id);
}

std::string XapiService::Add(const std::string& cls, json record) {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t n = ++next_;
  std::string ref = "OpaqueRef:" + cls + "-" + std::to_string(n);
  if (!record.contains("uuid")) record["uuid"] = cls + "-uuid-" + std::to_string(n);
  db_[cls][ref] = std::move(record);
  return ref;
}

void XapiService::Put(const std::string& cls, const std::string& ref, json record) {
  std::lock_guard<std::mutex> lock(mu_);
  db_[cls][ref] = std::move(record);
}

void XapiService::Append(const std::string& cls, const std::string& op, const std::string& ref,
                         json snapshot) {
  changes_.push_back({++last_id_, cls, op, ref, std::move(snapshot)});
  cv_.notify_all();
}

void XapiService::After(int64_t delay_ns, std::function<void()> fn) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shutdown_) return;
  auto until = std::chrono::steady_clock::now() + std::chrono::nanoseconds(delay_ns);
  tasks_.emplace_back([this, until, fn = std::move(fn)] {
    {
      std::unique_lock<std::mutex> l(mu_);
      if (cv_.wait_until(l, until, [this] { return shutdown_; })) return;
    }
    fn();
  });
}

void XapiService::Mod(const std::string& cls, const std::string& ref, const json& patch) {
  std::lock_guard<std::mutex> lock(mu_);
  json& rec = db_[cls][ref];
  rec.merge_patch(patch);
  Append(cls, "mod", ref, rec);
}

void XapiService::Del(const std::string& cls, const std::string& ref) {
  std::lock_guard<std::mutex> lock(mu_);
  db_[cls].erase(ref);
  Append(cls, "del", ref, nullptr);
}

std::string XapiService::AddMessage(const std::string& name, int priority, const std::string& cls,
                                    const std::string& obj_uuid, const std::string& body) {
  std::string ts = XapiTimeNow();
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

json XapiService::Record(const std::string& cls, const std::string& ref) {
  std::lock_guard<std::mutex> lock(mu_);
  auto c = db_.find(cls);
  if (c == db_.end()) return nullptr;
  auto r = c->second.find(ref);
  return r == c->second.end() ? json(nullptr) : r->second;
}

json XapiService::Records(const std::string& cls) {
  std::lock_guard<std::mutex> lock(mu_);
  auto c = db_.find(cls);
  return c == db_.end() ? json::object() : json(c->second);
}

void XapiService::SetMaster(const std::string& master_address, const std::string& pool_ref,
                            const std::string& host_ref) {
  std::lock_guard<std::mutex> lock(mu_);
  master_address_ = master_address;
  if (pool_ref.empty()) return;
  json& rec = db_["pool"][pool_ref];
  rec["master"] = host_ref;
  Append("pool", "mod", pool_ref, rec);
}

std::string XapiService::master_address() {
  std::lock_guard<std::mutex> lock(mu_);
  return master_address_;
}

void XapiService::Kill(int member) {
  Member* m = members_[member].get();
  {
    std::lock_guard<std::mutex> lock(mu_);
    m->dead = true;
  }
  cv_.notify_all();
  StopServer(m->srv);  // closes the listener; its thread waits for the calls in flight (until Stop)
}

void XapiService::InvalidateSessions() {
  std::lock_guard<std::mutex> lock(mu_);
  sessions_.clear();
  ++session_generation_;
  cv_.notify_all();
}

void XapiService::BreakTokens() {
  std::lock_guard<std::mutex> lock(mu_);
  ++epoch_;
  cv_.notify_all();
}

int XapiService::Logins(int member) {
  std::lock_guard<std::mutex> lock(mu_);
  return members_[member]->logins;
}

int XapiService::LoginAttempts(int member) {
  std::lock_guard<std::mutex> lock(mu_);
  return members_[member]->attempts;
}

int64_t XapiService::LastChange() {
  std::lock_guard<std::mutex> lock(mu_);
  return last_id_;
}

int XapiService::Polls(int member) {
  std::lock_guard<std::mutex> lock(mu_);
  return members_[member]->polls;
}

json XapiService::Dump() {
  std::lock_guard<std::mutex> lock(mu_);
  return {{"records", db_}, {"next", next_}, {"epoch", epoch_}};
}

Status XapiService::Load(const json& dump) {
  if (!dump.is_object() || !dump.contains("records") || !dump["records"].is_object())
    return Status::InvalidInput("xapi database: no \"records\" object");
  std::map<std::string, std::map<std::string, json>> db;
  for (const auto& [cls, recs] : dump["records"].items()) {
    if (!recs.is_object()) return Status::InvalidInput("xapi database: class " + cls + " is not an object");
    for (const auto& [ref, rec] : recs.items()) db[cls][ref] = rec;
  }
  std::lock_guard<std::mutex> lock(mu_);
  db_ = std::move(db);
  next_ = std::max(next_, dump.value("next", int64_t(0)));
  epoch_ = std::max(epoch_, dump.value("epoch", int64_t(0))) + 1;
  cv_.notify_all();
  return Status::Ok();
}

std::string XapiService::Token(int64_t id) const {
  char buf[48];
  snprintf(buf, sizeof buf, "%020lld,%020lld", static_cast<long long>(epoch_), static_cast<long long>(id));
  return buf;
}

bool XapiService::SessionOk(int member, const json& params) const {
  if (!params.is_array() || params.empty() || !params[0].is_string()) return false;
  auto it = sessions_.find(params[0].get<std::string>());
  return it != sessions_.end() && it->second == member;
}

json XapiService::Handle(int member, const json& req, std::unique_lock<std::mutex>& lock) {
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
  // No session, and every member answers it (it reads no database).
  if (method == "system.listMethods") {
    json methods = json::array({"session.login_with_password", "session.logout", "event.from",
                                "message.get_since", "system.listMethods"});
    for (const char* c : kWireClasses)
      for (const char* call : {"get_all_records", "get_record", "get_by_uuid", "get_all"})
        methods.push_back(std::string(c) + "." + call);
    methods.push_back("task.destroy");
    for (const auto& [name, h] : handlers_) methods.push_back(name);
    return Answer(methods, id);
  }
  if (m.address != master_address_) return Error("HOST_IS_SLAVE", json::array({master_address_}), id);
  if (method == "session.login_with_password") {
    if (!params.is_array() || params.size() != 4 || params[0] != user_ ||
        (!password_.empty() && params[1] != password_)) {
      return Error("SESSION_AUTHENTICATION_FAILED",
                   json::array({params.is_array() && !params.empty() ? params[0] : json(""),
                                "Authentication failure"}),
                   id);
    }
    std::string s = "OpaqueRef:session-" + std::to_string(++next_);
    sessions_[s] = member;
    ++m.logins;
    return Answer(s, id);
  }
  if (!SessionOk(member, params))
    return Error("SESSION_INVALID",
                 json::array({params.is_array() && !params.empty() ? params[0] : json("")}), id);
  if (method == "session.logout") {
    sessions_.erase(params[0].get<std::string>());
    return Answer("", id);
  }
  if (method == "event.from") return EventFrom(member, params, id, lock);
  if (method == "task.destroy") {
    std::string ref = params.size() == 2 && params[1].is_string() ? params[1].get<std::string>() : "";
    if (!db_["task"].count(ref)) return Error("HANDLE_INVALID", json::array({"task", ref}), id);
    db_["task"].erase(ref);
    Append("task", "del", ref, nullptr);
    return Answer("", id);
  }
  if (method == "message.get_since") {
    if (params.size() != 2 || !params[1].is_string())
      return Error("MESSAGE_PARAMETER_COUNT_MISMATCH", json::array({method, 2, params.size()}), id);
    json out = json::object();
    for (const auto& [ref, rec] : db_["message"])
      if (rec.value("timestamp", "") >= params[1].get<std::string>()) out[ref] = rec;
    return Answer(out, id);
  }
  std::string base = method.rfind("Async.", 0) == 0 ? method.substr(6) : method;
  if (handlers_.count(base)) return CallHandler(method, params, id, lock);
  auto [wire, call] = GenericCall(method);
  if (wire.empty()) return Error("MESSAGE_METHOD_UNKNOWN", json::array({method}), id);
  const std::map<std::string, json>& table = db_[Lower(wire)];
  size_t want = call == "get_all_records" || call == "get_all" ? 1 : 2;
  if (params.size() != want)
    return Error("MESSAGE_PARAMETER_COUNT_MISMATCH", json::array({method, want, params.size()}), id);
  if (call == "get_all_records") return Answer(json(table), id);
  if (call == "get_all") {
    json refs = json::array();
    for (const auto& [ref, rec] : table) refs.push_back(ref);
    return Answer(refs, id);
  }
  std::string arg = params[1].is_string() ? params[1].get<std::string>() : "";
  if (call == "get_record") {
    auto it = table.find(arg);
    if (it == table.end()) return Error("HANDLE_INVALID", json::array({wire, arg}), id);
    return Answer(it->second, id);
  }
  for (const auto& [ref, rec] : table)  // get_by_uuid
    if (rec.value("uuid", "") == arg) return Answer(ref, id);
  return Error("UUID_INVALID", json::array({wire, arg}), id);
}

json XapiService::EventFrom(int member, const json& params, const json& id,
                            std::unique_lock<std::mutex>& lock) {
  if (params.size() != 4 || !params[1].is_array() || !params[2].is_string() || !params[3].is_number())
    return Error("MESSAGE_PARAMETER_COUNT_MISMATCH", json::array({"event.from", 4, params.size()}), id);
  std::set<std::string> classes;
  for (const json& c : params[1])
    if (c.is_string()) classes.insert(c.get<std::string>());
  std::string token = params[2].get<std::string>();
  int64_t from = last_id_;
  if (!token.empty()) {
    long long token_epoch = 0, n = 0;
    char tail = 0;
    if (sscanf(token.c_str(), "%lld,%lld%c", &token_epoch, &n, &tail) != 2 || token_epoch != epoch_)
      return Error("EVENT_FROM_TOKEN_PARSE_FAILURE", json::array({token}), id);
    from = n;
    ++members_[member]->polls;
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(params[3].get<double>());
  int generation = session_generation_;
  int64_t epoch = epoch_;
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
      return Answer({{"events", events}, {"valid_ref_counts", counts}, {"token", Token(last_id_)}}, id);
    }
    cv_.wait_until(lock, deadline);
  }
}

}  // namespace fb
