#include "injectors/http_injector.h"

#include <curl/curl.h>

#include <cstdlib>
#include <mutex>

#include "core/clock.h"
#include "core/jsonl_writer.h"

namespace fb {

namespace {

struct Call {
  std::string method, path, body;
};

struct Response {
  long status = 0;
  std::string body, auth_token;  // auth_token: the x-auth-token response header
};

size_t OnBody(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

size_t OnHeader(char* data, size_t size, size_t n, void* out) {
  std::string line(data, size * n);
  const std::string key = "x-auth-token:";
  if (line.size() > key.size() && strncasecmp(line.c_str(), key.c_str(), key.size()) == 0) {
    std::string v = line.substr(key.size());
    v.erase(0, v.find_first_not_of(" \t"));
    while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) v.pop_back();
    *static_cast<std::string*>(out) = v;
  }
  return size * n;
}

class HttpInjector : public Injector, public FaultChecker {
 public:
  struct Config {
    std::string name, base_url, auth, token_env, token_file, login_path, ca_file, check_path, check_match;
    Call inject, revert;
    std::vector<std::string> headers;
    bool verify_tls = true;
    int64_t timeout_ns = 30 * kNsPerSec;
  };
  explicit HttpInjector(Config c) : c_(std::move(c)) {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  }

  Status Inject() override { return Do("inject", c_.inject).status(); }
  Status Revert() override { return Do("revert", c_.revert).status(); }
  FaultChecker* checker() override { return c_.check_path.empty() ? nullptr : this; }
  std::string where() const override { return c_.base_url; }

  Result<bool> InEffect() override {
    auto r = Do("check", {"GET", c_.check_path, ""});
    if (!r.ok()) return r.status();
    return r->body.find(c_.check_match) != std::string::npos;
  }

 private:
  std::string Prefix(const char* action, const Call& call) const {
    return "injector " + c_.name + " on " + c_.base_url + ": " + action + " " + call.method + " " + c_.base_url +
           call.path;
  }

  Result<std::string> Token() const {
    if (!c_.token_env.empty()) {
      const char* v = getenv(c_.token_env.c_str());
      if (!v || !*v) return Status::InvalidInput("environment variable " + c_.token_env + " (the token) is not set");
      return std::string(v);
    }
    auto text = ReadFile(c_.token_file);
    if (!text.ok()) return text.status().With("token file");
    std::string t = *text;
    while (!t.empty() && isspace(static_cast<unsigned char>(t.back()))) t.pop_back();
    return t;
  }

  Result<Response> Send(const Call& call, const std::vector<std::string>& extra) const {
    CURL* h = curl_easy_init();
    if (!h) return Status::Internal("curl_easy_init failed");
    Response resp;
    std::string url = c_.base_url + call.path;
    curl_slist* hdrs = nullptr;
    for (const auto& x : c_.headers) hdrs = curl_slist_append(hdrs, x.c_str());
    for (const auto& x : extra) hdrs = curl_slist_append(hdrs, x.c_str());
    if (!call.body.empty()) hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, call.method.c_str());
    if (!call.body.empty() || call.method == "POST") curl_easy_setopt(h, CURLOPT_POSTFIELDS, call.body.c_str());
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnBody);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp.body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, OnHeader);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &resp.auth_token);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, long(c_.timeout_ns / kNsPerMs));
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, c_.verify_tls ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, c_.verify_tls ? 2L : 0L);
    if (!c_.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, c_.ca_file.c_str());
    CURLcode rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp.status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    if (rc != CURLE_OK) return Status::Unavailable(curl_easy_strerror(rc));
    return resp;
  }

  // Authenticates as configured, sends, and turns a non-2xx answer into an error.
  Result<Response> Do(const char* action, const Call& call) {
    std::vector<std::string> extra;
    if (c_.auth != "none") {
      auto token = Token();
      if (!token.ok()) return token.status().With(Prefix(action, call));
      if (c_.auth == "bearer") {
        extra.push_back("Authorization: Bearer " + *token);
      } else {
        if (session_.empty()) {
          Call login{"POST", c_.login_path, ""};
          auto r = Send(login, {"api-token: " + *token});
          if (!r.ok()) return r.status().With(Prefix("login", login));
          if (r->status / 100 != 2 || r->auth_token.empty()) {
            return Status::Unavailable(Prefix("login", login) + ": HTTP " + std::to_string(r->status) +
                                       (r->auth_token.empty() ? " without x-auth-token" : "") + ": " +
                                       r->body.substr(0, 300));
          }
          session_ = r->auth_token;
        }
        extra.push_back("x-auth-token: " + session_);
      }
    }
    auto r = Send(call, extra);
    if (!r.ok()) return r.status().With(Prefix(action, call));
    if (r->status == 401 && !session_.empty()) {  // session expired: log in once more
      session_.clear();
      return Do(action, call);
    }
    if (r->status / 100 != 2) {
      return Status::Unavailable(Prefix(action, call) + ": HTTP " + std::to_string(r->status) + ": " +
                                 r->body.substr(0, 300));
    }
    return r;
  }

  Config c_;
  std::string session_;
};

Call ReadCall(Settings* s, const std::string& prefix, bool required) {
  Call c;
  c.method = s->String(prefix + "_method", false, "POST");
  c.path = s->String(prefix + "_path", required);
  c.body = s->String(prefix + "_body");
  if (!c.body.empty() && !nlohmann::json::accept(c.body)) s->Problem(prefix + "_body", "not valid JSON");
  return c;
}

}  // namespace

std::unique_ptr<Injector> NewHttpInjector(const std::string& name, Settings* s) {
  HttpInjector::Config c;
  c.name = name;
  c.base_url = s->String("base_url", true);
  if (!c.base_url.empty() && c.base_url.rfind("http://", 0) != 0 && c.base_url.rfind("https://", 0) != 0) {
    s->Problem("base_url", "must start with http:// or https://");
  }
  c.inject = ReadCall(s, "inject", true);
  c.revert = ReadCall(s, "revert", true);
  c.check_path = s->String("check_path");
  c.check_match = s->String("check_match", !c.check_path.empty());
  if (const nlohmann::json* h = s->List("headers")) {
    for (const auto& x : *h) {
      if (!x.is_string() || x.get<std::string>().find(':') == std::string::npos) {
        s->Problem("headers", "each header is \"Name: value\"");
      } else {
        c.headers.push_back(x.get<std::string>());
      }
    }
  }
  c.auth = s->String("auth", false, "none");
  c.token_env = s->String("token_env");
  c.token_file = s->String("token_file");
  c.login_path = s->String("login_path", false, "/api/2.42/login");
  if (c.auth != "none" && c.auth != "bearer" && c.auth != "api_token") s->Problem("auth", "must be none, bearer or api_token");
  if (c.auth != "none" && c.token_env.empty() == c.token_file.empty()) {
    s->Problem("", "auth " + c.auth + " needs exactly one of token_env, token_file");
  }
  c.verify_tls = s->Bool("verify_tls", true);
  c.ca_file = s->String("ca_file");
  c.timeout_ns = s->DurationNs("timeout", 30 * kNsPerSec);
  if (c.timeout_ns <= 0) s->Problem("timeout", "must be more than 0");
  return std::make_unique<HttpInjector>(std::move(c));
}

}  // namespace fb
