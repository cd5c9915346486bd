#include "platform/xapi_client.h"

#include <httplib.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>

namespace fb {

using nlohmann::json;

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

std::string XapiTime(int64_t utc_ns) {
  std::string t = FormatUtcCompact(utc_ns);  // "20240101T120000Z"
  return t.substr(0, 11) + ":" + t.substr(11, 2) + ":" + t.substr(13);
}

std::string CheckedBaseUrl(Settings* s, const std::string& key, std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  UrlParts p;
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0)
    s->Problem(key, "must start with http:// or https://");
  else if (!SplitUrl(url, &p))
    s->Problem(key, "must be scheme://host[:port] without a path, got \"" + url + "\"");
  return url;
}

std::unique_ptr<httplib::Client> NewRestClient(const std::string& url, bool tls_verify, const std::string& ca_file,
                                               int64_t timeout_ns) {
  auto c = std::make_unique<httplib::Client>(url);
  if (!c->is_valid()) return nullptr;
  auto us = std::chrono::microseconds(timeout_ns / kNsPerUs);
  c->set_connection_timeout(us);
  c->set_read_timeout(us);
  c->set_write_timeout(us);
  if (url.rfind("https://", 0) == 0) {
    c->enable_server_certificate_verification(tls_verify);
    if (!ca_file.empty()) c->set_ca_cert_path(ca_file);
  }
  return c;
}

void ReadHttpsSettings(Settings* s, bool* tls_verify, std::string* ca_file, int64_t* timeout_ns) {
  *tls_verify = s->Bool("tls_verify", true);
  *ca_file = s->String("ca_file");
  if (!ca_file->empty() && !std::ifstream(*ca_file))
    s->Problem("ca_file", "cannot read \"" + *ca_file + "\"");
  *timeout_ns = s->DurationNs("timeout", 2 * kNsPerSec);
  if (*timeout_ns < 10 * kNsPerMs) s->Problem("timeout", "must be at least 10ms");
}

XapiEndpoint XapiEndpointFromSettings(Settings* s) {
  XapiEndpoint e;
  std::string url = s->String("url", /*required=*/true);
  if (!url.empty()) e.urls.push_back(CheckedBaseUrl(s, "url", url));
  if (const json* list = s->List("fallback_urls")) {
    for (size_t i = 0; i < list->size(); ++i) {
      std::string key = "fallback_urls[" + std::to_string(i) + "]";
      if (!(*list)[i].is_string()) {
        s->Problem(key, "must be a URL");
        continue;
      }
      e.urls.push_back(CheckedBaseUrl(s, key, (*list)[i].get<std::string>()));
    }
  }
  e.user = s->String("user", false, "root");
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
    std::getline(f, e.password);
    if (f && e.password.empty()) s->Problem("password_file", "\"" + file + "\" starts with an empty line");
  } else if (!s->Has("password")) {
    const char* v = std::getenv(env.c_str());
    if (v) e.password = v;
    if (e.password.empty())
      s->Problem(env_given ? "password_env" : "", "no XAPI password: $" + env + " is not set");
  }
  ReadHttpsSettings(s, &e.tls_verify, &e.ca_file, &e.timeout_ns);
  return e;
}

XapiClient::XapiClient(XapiEndpoint endpoint, std::string owner, std::function<bool()> stopping)
    : e_(std::move(endpoint)), owner_(std::move(owner)), stopping_(std::move(stopping)) {}

XapiClient::~XapiClient() = default;

void XapiClient::SetClient(const std::string& url) {
  if (client_ && url == client_url_) return;
  auto c = std::make_unique<httplib::Client>(url);
  auto us = [](int64_t ns) { return std::chrono::microseconds(ns / kNsPerUs); };
  c->set_connection_timeout(us(e_.timeout_ns));
  c->set_write_timeout(us(e_.timeout_ns));
  if (url.rfind("https://", 0) == 0) {
    c->enable_server_certificate_verification(e_.tls_verify);
    if (!e_.ca_file.empty()) c->set_ca_cert_path(e_.ca_file);
  }
  std::lock_guard<std::mutex> cl(client_mu_);
  client_ = std::move(c);
  client_url_ = url;
}

void XapiClient::Interrupt() {
  std::lock_guard<std::mutex> cl(client_mu_);
  if (client_ && !closing_) client_->stop();
}

XapiReply XapiClient::Call(const std::string& method, const json& params, int64_t timeout_ns) {
  XapiReply r;
  r.transport = true;
  if (!client_) {
    r.text = method + ": not connected";
    return r;
  }
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

XapiReply XapiClient::CallS(const std::string& method, json args, int64_t timeout_ns) {
  json params = json::array({session_});
  for (auto& a : args) params.push_back(std::move(a));
  return Call(method, params, timeout_ns > 0 ? timeout_ns : e_.timeout_ns);
}

Result<json> XapiClient::AllRecords(const std::string& cls) {
  XapiReply r = CallS(cls + ".get_all_records");
  if (!r.ok) return Status::Unavailable(owner_ + ": " + r.text);
  if (!r.result.is_object())
    return Status::Unavailable(owner_ + ": " + cls + ".get_all_records on " + url_ +
                               ": not an object of records");
  return r.result;
}

void XapiClient::FollowMaster(const XapiReply& r) {
  if (r.error != "HOST_IS_SLAVE") return;
  std::string address =
      r.data.is_array() && !r.data.empty() && r.data[0].is_string() ? r.data[0].get<std::string>() : "";
  preferred_ = MasterUrl(url_, address, e_.urls);
  session_.clear();
}

Status XapiClient::Connect() {
  {
    std::lock_guard<std::mutex> cl(client_mu_);
    closing_ = false;
  }
  std::vector<std::string> candidates;
  if (!preferred_.empty()) candidates.push_back(preferred_);
  if (!url_.empty()) candidates.push_back(url_);
  for (const std::string& u : e_.urls) candidates.push_back(u);
  std::set<std::string> tried;
  std::string errors;
  for (std::string cand : candidates) {
    for (int hop = 0; hop < 4 && !cand.empty() && tried.insert(cand).second; ++hop) {
      if (Stopping()) return Status::IoError("stopping");
      SetClient(cand);
      XapiReply r =
          Call("session.login_with_password", {e_.user, e_.password, "1.0", "faultbench"}, e_.timeout_ns);
      if (r.ok && r.result.is_string()) {
        session_ = r.result.get<std::string>();
        preferred_.clear();
        url_ = cand;
        return Status::Ok();
      }
      if (r.error == "HOST_IS_SLAVE" && r.data.is_array() && !r.data.empty() && r.data[0].is_string()) {
        cand = MasterUrl(cand, r.data[0].get<std::string>(), e_.urls);
        continue;
      }
      errors += (errors.empty() ? "" : "; ") + (r.ok ? cand + ": login answered no session" : r.text);
      break;
    }
  }
  return Status::IoError(owner_ + ": no pool master answered: " + errors);
}

void XapiClient::Logout(int64_t limit_ns) {
  {
    std::lock_guard<std::mutex> cl(client_mu_);
    closing_ = true;  // Interrupt() leaves this last, short call alone
  }
  if (!client_ || session_.empty()) return;
  // Best effort and short: the master may be the one that just died.
  int64_t limit = std::min<int64_t>(e_.timeout_ns, limit_ns);
  client_->set_connection_timeout(std::chrono::microseconds(limit / kNsPerUs));
  Call("session.logout", {session_}, limit);
  session_.clear();
  client_url_.clear();  // a later Connect() gets a client with the usual timeouts
}

}  // namespace fb
