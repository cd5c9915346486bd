#include "platform/array_client.h"

#include <httplib.h>

#include <cctype>
#include <cstdlib>
#include <fstream>

#include "platform/xapi_client.h"

namespace fb {

namespace {

using nlohmann::json;

constexpr const char* kPrefix = "/api/2.42";
constexpr int kMaxPages = 1000;

// The part of an error body worth showing: `errors[0].message`, else the start.
std::string ErrorText(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("errors") && j["errors"].is_array() && !j["errors"].empty() &&
      j["errors"][0].is_object() && j["errors"][0].contains("message") &&
      j["errors"][0]["message"].is_string())
    return j["errors"][0]["message"].get<std::string>();
  return body.substr(0, 200);
}

// A query value, percent-encoded (RFC 3986 unreserved characters kept).
std::string QueryEscape(const std::string& value) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += char(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace

ArrayEndpoint ArrayEndpointFromSettings(Settings* s) {
  ArrayEndpoint e;
  std::string url = s->String("url", /*required=*/true);
  if (!url.empty()) e.url = CheckedBaseUrl(s, "url", url);
  std::string token = s->String("api_token");
  std::string file = s->String("api_token_file");
  std::string env = s->String("api_token_env", false, "FB_ARRAY_API_TOKEN");
  if (!token.empty() && !file.empty())
    s->Problem("api_token_file", "give api_token or api_token_file, not both");
  if (token.empty() && !file.empty()) {
    // Read at construction so a missing file is a plan problem, not a run failure.
    std::ifstream f(file);
    if (!f) s->Problem("api_token_file", "cannot read \"" + file + "\"");
    std::getline(f, token);
  }
  if (token.empty()) {
    const char* v = std::getenv(env.c_str());
    if (v) token = v;
  }
  if (token.empty())
    s->Problem("api_token", "no API token (api_token_env: $" + env + " is not set, or api_token_file)");
  e.token = token;
  ReadHttpsSettings(s, &e.tls_verify, &e.ca_file, &e.timeout_ns);
  return e;
}

ArrayClient::ArrayClient(ArrayEndpoint endpoint, std::string owner)
    : e_(std::move(endpoint)), owner_(std::move(owner)) {}

ArrayClient::~ArrayClient() = default;

Status ArrayClient::Ready() {
  if (client_) return Status::Ok();
  auto c = NewRestClient(e_.url, e_.tls_verify, e_.ca_file, e_.timeout_ns);
  if (!c) return Status::InvalidInput(owner_ + ": bad url \"" + e_.url + "\"");
  client_ = std::move(c);
  return Status::Ok();
}

Status ArrayClient::Login() {
  FB_RETURN_IF_ERROR(Ready());
  auto res = client_->Post(std::string(kPrefix) + "/login", {{"api-token", e_.token}}, "", "");
  if (!res) return Status::IoError(owner_ + ": login to " + e_.url + ": " + httplib::to_string(res.error()));
  std::string session = res->get_header_value("x-auth-token");
  if (res->status != 200 || session.empty()) {
    return Status::IoError(owner_ + ": login to " + e_.url + " answered " + std::to_string(res->status) +
                           " " + ErrorText(res->body));
  }
  session_ = session;
  return Status::Ok();
}

Result<json> ArrayClient::List(const std::string& path) {
  json items = json::array();
  std::string continuation;
  for (int page = 0; page < kMaxPages; ++page) {
    std::string query = continuation.empty() ? ""
                                             : std::string(path.find('?') == std::string::npos ? "?" : "&") +
                                                   "continuation_token=" + QueryEscape(continuation);
    std::string target = std::string(kPrefix) + "/" + path + query;
    std::string where = "GET " + e_.url + kPrefix + "/" + path;
    json body;
    bool done = false;
    for (int attempt = 0; attempt < 2 && !done; ++attempt) {
      if (session_.empty()) FB_RETURN_IF_ERROR(Login());
      auto res = client_->Get(target, {{"x-auth-token", session_}});
      if (!res) return Status::IoError(owner_ + ": " + where + ": " + httplib::to_string(res.error()));
      if (res->status == 401) {
        session_.clear();
        continue;
      }
      if (res->status != 200)
        return Status::IoError(owner_ + ": " + where + " answered " + std::to_string(res->status) + " " +
                               ErrorText(res->body));
      body = json::parse(res->body, nullptr, false);
      if (body.is_discarded() || !body.is_object() || !body.contains("items") || !body["items"].is_array())
        return Status::IoError(owner_ + ": " + where + ": not an item list");
      done = true;
    }
    if (!done) return Status::IoError(owner_ + ": " + where + ": 401 again after a fresh login");
    for (auto& item : body["items"]) items.push_back(std::move(item));
    bool more = body.value("more_items_remaining", false);
    continuation = body.contains("continuation_token") && body["continuation_token"].is_string()
                       ? body["continuation_token"].get<std::string>()
                       : "";
    if (!more || continuation.empty()) return items;
  }
  return Status::IoError(owner_ + ": GET " + e_.url + kPrefix + "/" + path + ": more than " +
                         std::to_string(kMaxPages) + " pages");
}

void ArrayClient::Logout() {
  if (!client_ || session_.empty()) return;
  client_->Post(std::string(kPrefix) + "/logout", {{"x-auth-token", session_}}, "", "");
  session_.clear();
}

}  // namespace fb
