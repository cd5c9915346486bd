#include "probes/xapi_probe.h"

#include <httplib.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "core/clock.h"
#include "probes/probe_base.h"
#include "probes/xapi_tracker.h"

namespace fb {

namespace {

using nlohmann::json;

struct Config {
  std::string name;
  std::vector<std::string> urls;  // url first, then fallback_urls
  std::string user, password, ca_file;
  bool tls_verify = true;
  int64_t poll_timeout_ns = 0, timeout_ns = 0, retry_ns = 0, retry_max_ns = 0;
};

struct UrlParts {
  std::string scheme, host, port;  // port "" = the scheme's default
};

// "scheme://host[:port]" (host may be "[v6]"); false when it is not that shape.
bool SplitUrl(const std::string& url, UrlParts* out) {
  size_t sep = url.find("://");
  if (sep == std::string::npos) return false;
  out->scheme = url.substr(0, sep);
  std::string rest = url.substr(sep + 3);
  if (rest.empty() || rest.find('/') != std::string::npos) return false;
  size_t colon = rest[0] == '[' ? rest.find(']') + 1 : rest.rfind(':');
  if (rest[0] == '[' && colon == 0) return false;
  if (colon != std::string::npos && colon < rest.size() && rest[colon] == ':') {
    out->host = rest.substr(0, colon);
    out->port = rest.substr(colon + 1);
    if (out->port.empty() || out->port.find_first_not_of("0123456789") != std::string::npos) return false;
  } else {
    out->host = rest;
    out->port.clear();
  }
  return !out->host.empty();
}

// The URL to reach the master that HOST_IS_SLAVE named, asked through `from`.
std::string MasterUrl(const std::string& from, const std::string& address,
                      const std::vector<std::string>& listed) {
  if (address.empty()) return "";
  if (address.find("://") != std::string::npos) return address;
  UrlParts f;
  SplitUrl(from, &f);
  size_t colons = std::count(address.begin(), address.end(), ':');
  if (colons == 1 || (address[0] == '[' && address.find("]:") != std::string::npos))
    return f.scheme + "://" + address;  // host:port as given
  std::string host = colons > 1 && address[0] != '[' ? "[" + address + "]" : address;
  for (const std::string& u : listed) {
    UrlParts p;
    if (SplitUrl(u, &p) && p.host == host) return u;
  }
  return f.scheme + "://" + host + (f.port.empty() ? "" : ":" + f.port);
}

constexpr int64_t kMessageMarginNs = 10 * kNsPerSec;
constexpr int64_t kLogoutTimeoutNs = 300 * kNsPerMs;

// An XAPI datetime: "20240101T12:00:00Z".
std::string XapiTime(int64_t utc_ns) {
  std::string t = FormatUtcCompact(utc_ns);  // "20240101T120000Z"
  return t.substr(0, 11) + ":" + t.substr(11, 2) + ":" + t.substr(13);
}

// One JSON-RPC answer: a result, an XAPI error (name + data), or a transport failure.
struct Reply {
  bool ok = false;
  bool transport = false;  // no well-formed answer: the member is unreachable or broken
  json result;
  std::string error;  // XAPI error name, e.g. "SESSION_INVALID"
  json data;
  std::string text;  // for messages: names the method and the URL, never the params
};

class XapiProbe : public ProbeBase {
 public:
  explicit XapiProbe(Config c)
      : ProbeBase(c.name),
        c_(std::move(c)),
        tracker_([this](const std::string& kind, Severity sev, const std::string& message, json attrs) {
          Emit(kind, sev, message, std::move(attrs));
        }) {}
  ~XapiProbe() override { Stop(); }

 private:
  // Cuts an event.from long poll short. A call may begin just after one stop(),
  // so Stop() calls this again until Run returns (a stopped client reconnects on
  // its next call).
  void Interrupt() override {
    std::lock_guard<std::mutex> cl(client_mu_);
    if (client_ && !closing_) client_->stop();
  }

  bool Stopping() const { return StopRequested(); }

  // Waits `ns` unless stopped; false when stopping.
  bool Sleep(int64_t ns) const { return !WaitStop(ns); }

  void Run() override {
    int64_t backoff = 0;
    while (!Stopping()) {
      if (session_.empty()) {
        int64_t start = MonoNs();
        Status st = Connect();
        if (!st.ok()) {
          if (Stopping()) break;
          Blind(start, st.message());
          backoff = backoff == 0 ? c_.retry_ns : std::min(2 * backoff, c_.retry_max_ns);
          Sleep(backoff);
          continue;
        }
        backoff = 0;
        continue;
      }
      int64_t start = MonoNs();
      Reply r =
          Call("event.from", {session_, XapiTracker::Classes(), token_, double(c_.poll_timeout_ns) / 1e9},
               c_.poll_timeout_ns + c_.timeout_ns);
      if (Stopping()) break;
      if (r.ok && r.result.is_object() && r.result.contains("token") && r.result["token"].is_string()) {
        token_ = r.result["token"].get<std::string>();
        last_ok_utc_ = UtcNs();
        Sighted();
        if (r.result.contains("events") && r.result["events"].is_array())
          for (const json& e : r.result["events"]) Track([&] { tracker_.OnEvent(e); }, e);
        backoff = 0;
        continue;
      }
      if (r.ok) r.text = "event.from on " + url_ + ": no token in the result";
      if (r.error == "SESSION_INVALID") {
        session_.clear();  // log in again, keep the token: nothing is lost
      } else if (r.error == "EVENT_FROM_TOKEN_PARSE_FAILURE") {
        Emit("log", Severity::kInfo, "probe " + c_.name + ": " + r.text + ": starting again from now", {});
        token_.clear();
        Resync();
      } else if (r.error == "HOST_IS_SLAVE") {
        preferred_ = MasterUrl(
            url_,
            r.data.is_array() && !r.data.empty() && r.data[0].is_string() ? r.data[0].get<std::string>() : "",
            c_.urls);
        session_.clear();
      } else {
        Blind(start, r.text);
        if (r.transport) {
          session_.clear();  // find the master again, at once
        } else {
          backoff = backoff == 0 ? c_.retry_ns : std::min(2 * backoff, c_.retry_max_ns);
          Sleep(backoff);
        }
      }
    }
    Logout();
  }

  void Logout() {
    {
      std::lock_guard<std::mutex> cl(client_mu_);
      closing_ = true;  // Stop() leaves this last, short call alone
    }
    if (!client_ || session_.empty()) return;
    // Best effort and short: the master may be the one that just died.
    int64_t limit = std::min<int64_t>(c_.timeout_ns, kLogoutTimeoutNs);
    client_->set_connection_timeout(std::chrono::microseconds(limit / kNsPerUs));
    Call("session.logout", {session_}, limit);
  }

  void SetClient(const std::string& url) {
    if (client_ && url == client_url_) return;
    auto c = std::make_unique<httplib::Client>(url);
    auto us = [](int64_t ns) { return std::chrono::microseconds(ns / kNsPerUs); };
    c->set_connection_timeout(us(c_.timeout_ns));
    c->set_write_timeout(us(c_.timeout_ns));
    if (url.rfind("https://", 0) == 0) {
      c->enable_server_certificate_verification(c_.tls_verify);
      if (!c_.ca_file.empty()) c->set_ca_cert_path(c_.ca_file);
    }
    std::lock_guard<std::mutex> cl(client_mu_);
    client_ = std::move(c);
    client_url_ = url;
  }

  Reply Call(const std::string& method, const json& params, int64_t timeout_ns) {
    Reply r;
    r.transport = true;
    if (Stopping() && method != "session.logout") {
      r.text = "stopping";
      return r;
    }
    json req = {{"jsonrpc", "2.0"}, {"method", method}, {"params", params}, {"id", ++id_}};
    client_->set_read_timeout(std::chrono::microseconds(timeout_ns / kNsPerUs));
    std::string where = method + " on " + client_url_;
    auto res = client_->Post("/jsonrpc", req.dump(), "application/json");
    if (!res) {
      r.text = where + ": " + httplib::to_string(res.error());
      return r;
    }
    if (res->status != 200) {
      r.text = where + ": HTTP " + std::to_string(res->status) + " " + res->body.substr(0, 200);
      return r;
    }
    json body = json::parse(res->body, nullptr, false);
    if (body.is_discarded() || !body.is_object() || (!body.contains("result") && !body.contains("error"))) {
      r.text = where + ": not a JSON-RPC answer: " + res->body.substr(0, 200);
      return r;
    }
    r.transport = false;
    if (body.contains("error") && !body["error"].is_null()) {
      const json& e = body["error"];
      r.error = e.is_object() && e.contains("message") && e["message"].is_string()
                    ? e["message"].get<std::string>()
                    : e.dump();
      r.data = e.is_object() && e.contains("data") ? e["data"] : json::array();
      r.text = where + ": " + r.error + " " + r.data.dump().substr(0, 200);
      return r;
    }
    r.ok = true;
    r.result = body["result"];
    return r;
  }

  // Logs in to the master: the last one that answered first, then the listed
  // members in order, following HOST_IS_SLAVE; then reads the state when needed.
  Status Connect() {
    std::vector<std::string> candidates;
    if (!preferred_.empty()) candidates.push_back(preferred_);
    if (!url_.empty()) candidates.push_back(url_);
    for (const std::string& u : c_.urls) candidates.push_back(u);
    std::set<std::string> tried;
    std::string errors;
    for (std::string cand : candidates) {
      for (int hop = 0; hop < 4 && !cand.empty() && tried.insert(cand).second; ++hop) {
        if (Stopping()) return Status::IoError("stopping");
        SetClient(cand);
        Reply r =
            Call("session.login_with_password", {c_.user, c_.password, "1.0", "faultbench"}, c_.timeout_ns);
        if (r.ok && r.result.is_string()) {
          session_ = r.result.get<std::string>();
          preferred_.clear();
          std::string was = url_;
          url_ = cand;
          if (was != url_ || token_.empty()) return Resync();
          return Status::Ok();
        }
        if (r.error == "HOST_IS_SLAVE" && r.data.is_array() && !r.data.empty() && r.data[0].is_string()) {
          cand = MasterUrl(cand, r.data[0].get<std::string>(), c_.urls);
          continue;
        }
        errors += (errors.empty() ? "" : "; ") + (r.ok ? cand + ": login answered no session" : r.text);
        break;
      }
    }
    return Status::IoError("probe " + c_.name + ": no pool master answered: " + errors);
  }

  // Starts from now: a fresh token first, then the records, so a change in between
  // shows both in the records and as an event (the tracker reports it once).
  Status Resync() {
    Reply r = Call("event.from", {session_, XapiTracker::Classes(), "", 0.0}, c_.timeout_ns);
    if (!r.ok || !r.result.is_object() || !r.result.contains("token") || !r.result["token"].is_string()) {
      session_.clear();
      return Status::IoError("probe " + c_.name + ": " + (r.ok ? "event.from gave no token" : r.text));
    }
    token_ = r.result["token"].get<std::string>();
    int64_t seen_utc = last_ok_utc_;
    Sighted();
    for (const std::string& cls : XapiTracker::Classes()) {
      std::string method = XapiTracker::RecordsMethod(cls);
      if (method.empty()) continue;
      Reply rec = Call(method, {session_}, c_.timeout_ns);
      if (!rec.ok) {
        session_.clear();
        token_.clear();
        return Status::IoError("probe " + c_.name + ": " + rec.text);
      }
      Track([&] { tracker_.OnRecords(cls, rec.result); }, json(method));
    }
    if (seen_utc != 0) {
      // Messages raised while this probe could not see (the new master's
      // POOL_MASTER_TRANSITION, say); the margin covers the hosts' clock offset and
      // messages already reported are skipped.
      Reply m = Call("message.get_since", {session_, XapiTime(seen_utc - kMessageMarginNs)}, c_.timeout_ns);
      if (m.ok)
        Track([&] { tracker_.OnRecords("message", m.result); }, json("message.get_since"));
      else
        Emit("log", Severity::kWarning, "probe " + c_.name + ": messages of the gap not read: " + m.text, {});
    }
    last_ok_utc_ = UtcNs();
    return Status::Ok();
  }

  // A snapshot the tracker cannot read is reported (not as blindness: the probe
  // still sees), not a crash of the probe.
  void Track(const std::function<void()>& f, const json& what) {
    try {
      f();
    } catch (const std::exception& e) {
      Emit("log", Severity::kWarning,
           "probe " + c_.name + ": cannot read " + what.dump().substr(0, 200) + ": " + e.what(), {});
    }
  }

  void Blind(int64_t since, const std::string& why) {
    if (blind_since_ != 0) return;
    blind_since_ = since;
    Emit("probe_error", Severity::kWarning, why, {});
  }

  void Sighted() {
    if (blind_since_ == 0) return;
    int64_t now = MonoNs();
    Emit("probe_recovered", Severity::kInfo, "probe " + c_.name + ": pool master " + url_ + " answers again",
         {{"blind_from_utc_ns", UtcNs() - (now - blind_since_)},
          {"blind_ms", double(now - blind_since_) / double(kNsPerMs)}});
    blind_since_ = 0;
  }

  void Emit(const std::string& kind, Severity sev, const std::string& message, json attrs) const {
    ProbeBase::Emit(MonoNs(), kind, sev, message, std::move(attrs));
  }
  void Decorate(const std::string&, json* attrs) const override { (*attrs)["url"] = url_; }

  Config c_;
  XapiTracker tracker_;
  // Owned by the probe thread; client_mu_ guards the pointer against Stop().
  std::unique_ptr<httplib::Client> client_;
  std::string client_url_, url_, preferred_, session_, token_;
  int64_t id_ = 0, blind_since_ = 0;
  int64_t last_ok_utc_ = 0;  // the last time every change up to then had arrived
  std::mutex client_mu_;
  bool closing_ = false;  // under client_mu_
};

void CheckUrl(Settings* s, const std::string& key, const std::string& url) {
  UrlParts p;
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0)
    s->Problem(key, "must start with http:// or https://");
  else if (!SplitUrl(url, &p))
    s->Problem(key, "must be scheme://host[:port] (the probe posts to /jsonrpc), got \"" + url + "\"");
}

std::string StripSlash(std::string u) {
  while (!u.empty() && u.back() == '/') u.pop_back();
  return u;
}

}  // namespace

std::unique_ptr<Probe> NewXapiProbe(const std::string& name, Settings* s) {
  Config c;
  c.name = name;
  std::string url = StripSlash(s->String("url", /*required=*/true));
  if (!url.empty()) {
    CheckUrl(s, "url", url);
    c.urls.push_back(url);
  }
  if (const json* list = s->List("fallback_urls")) {
    for (size_t i = 0; i < list->size(); ++i) {
      std::string key = "fallback_urls[" + std::to_string(i) + "]";
      if (!(*list)[i].is_string()) {
        s->Problem(key, "must be a URL");
        continue;
      }
      std::string u = StripSlash((*list)[i].get<std::string>());
      CheckUrl(s, key, u);
      c.urls.push_back(u);
    }
  }
  c.user = s->String("user", false, "root");
  if (s->Has("password")) {
    s->String("password");  // read (and dropped) so it is reported once, below
    s->Problem("password",
               "a password is never written in the plan: name it with password_env or password_file");
  }
  bool env_given = s->Has("password_env");
  std::string env = s->String("password_env", false, "FB_XAPI_PASSWORD");
  std::string file = s->String("password_file");
  if (env_given && !file.empty()) s->Problem("password_file", "give password_env or password_file, not both");
  if (!file.empty()) {
    // Read at construction so a missing file is a plan problem, not a run failure.
    std::ifstream f(file);
    if (!f) s->Problem("password_file", "cannot read \"" + file + "\"");
    std::getline(f, c.password);
    if (f && c.password.empty()) s->Problem("password_file", "\"" + file + "\" starts with an empty line");
  } else if (!s->Has("password")) {
    const char* v = std::getenv(env.c_str());
    if (v) c.password = v;
    if (c.password.empty())
      s->Problem(env_given ? "password_env" : "", "no XAPI password: $" + env + " is not set");
  }
  c.tls_verify = s->Bool("tls_verify", true);
  c.ca_file = s->String("ca_file");
  if (!c.ca_file.empty() && !std::ifstream(c.ca_file))
    s->Problem("ca_file", "cannot read \"" + c.ca_file + "\"");
  c.poll_timeout_ns = s->DurationNs("poll_timeout", 5 * kNsPerSec);
  if (c.poll_timeout_ns < 100 * kNsPerMs || c.poll_timeout_ns > 300 * kNsPerSec)
    s->Problem("poll_timeout", "must be between 100ms and 300s");
  c.timeout_ns = s->DurationNs("timeout", 2 * kNsPerSec);
  if (c.timeout_ns < 10 * kNsPerMs) s->Problem("timeout", "must be at least 10ms");
  c.retry_ns = s->DurationNs("retry", 250 * kNsPerMs);
  if (c.retry_ns < kNsPerMs) s->Problem("retry", "must be at least 1ms");
  c.retry_max_ns = s->DurationNs("retry_max", 5 * kNsPerSec);
  if (c.retry_max_ns < c.retry_ns) s->Problem("retry_max", "must not be below retry");
  return std::make_unique<XapiProbe>(std::move(c));
}

}  // namespace fb
