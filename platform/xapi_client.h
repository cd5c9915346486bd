// A JSON-RPC client of an XCP-ng / XenServer pool (docs/platform.md): finds and
// logs in to the pool master, calls methods, logs out. One client for everything
// that speaks XAPI: the xapi probe (probes/xapi_probe.cpp), `faultbench discover`
// and preflight (qualify/).
//
// Connect() tries the master that answered last, then the listed members in
// order; a member answering HOST_IS_SLAVE ["<address>"] is left for that
// address (the listed URL whose host it is, else the same scheme and port with
// that host; "host:port" is taken as is), at most 4 hops a candidate. Login is
// session.login_with_password [user, password, "1.0", "faultbench"]. Messages
// name the method and the URL, never the parameters (the password is one).
// HTTP is allowed (labs, tests); https verifies certificates unless told not to.
//
// Thread-safety: one thread calls; Interrupt() may be called from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "plugin/settings.h"

namespace httplib {
class Client;
}

namespace fb {

// Where a pool is and how to log in.
struct XapiEndpoint {
  std::vector<std::string> urls;  // the master first, then the other members
  std::string user = "root";
  std::string password;  // never logged
  std::string ca_file;   // "" = the system's CA bundle
  bool tls_verify = true;
  int64_t timeout_ns = 2 * kNsPerSec;  // connect/write timeout and the limit of a call
};

// Reads the shared keys of a plan's xapi block (probe or injector):
//   url, fallback_urls, user (root), password_env (FB_XAPI_PASSWORD) | password_file,
//   tls_verify (true), ca_file, timeout (2s)
// A literal `password:` is refused; problems go to `settings` against their keys.
XapiEndpoint XapiEndpointFromSettings(Settings* settings);

// One JSON-RPC answer: a result, an XAPI error (name + data), or a transport failure.
struct XapiReply {
  bool ok = false;
  bool transport = false;  // no well-formed answer: the member is unreachable or broken
  nlohmann::json result;
  std::string error;  // XAPI error name, e.g. "SESSION_INVALID"
  nlohmann::json data;
  std::string text;  // for messages: names the method and the URL, never the params
};

class XapiClient {
 public:
  // `owner` starts error messages ("probe xapi", "discover"). `stopping`, when
  // given, makes calls and Connect() give up at once once it says true.
  explicit XapiClient(XapiEndpoint endpoint, std::string owner = "xapi",
                      std::function<bool()> stopping = nullptr);
  ~XapiClient();
  XapiClient(const XapiClient&) = delete;
  XapiClient& operator=(const XapiClient&) = delete;

  // Logs in to the master (see above). On success url() is the master's URL and
  // session() the new session.
  Status Connect();
  // method(params) on the current member; params as the method takes them (the
  // session first where it needs one: use CallS for those).
  XapiReply Call(const std::string& method, const nlohmann::json& params, int64_t timeout_ns);
  // method(session, args...) with the endpoint's timeout (or timeout_ns).
  XapiReply CallS(const std::string& method, nlohmann::json args = nlohmann::json::array(),
                  int64_t timeout_ns = 0);
  // <cls>.get_all_records as an object ref -> record; an error names the class.
  Result<nlohmann::json> AllRecords(const std::string& cls);
  // After HOST_IS_SLAVE on a call: the next Connect() starts with the named master.
  void FollowMaster(const XapiReply& reply);
  // Forgets the session (SESSION_INVALID, or the member died): Connect() again.
  void DropSession() { session_.clear(); }
  // Best effort, bounded by limit_ns; later calls are not cut by Interrupt().
  void Logout(int64_t limit_ns = 300 * kNsPerMs);
  // Cuts a call in flight short (an event.from long poll). Any thread.
  void Interrupt();

  const std::string& url() const { return url_; }  // the master that answered last
  const std::string& session() const { return session_; }
  bool connected() const { return !session_.empty(); }
  const XapiEndpoint& endpoint() const { return e_; }

 private:
  void SetClient(const std::string& url);
  bool Stopping() const { return stopping_ && stopping_(); }

  XapiEndpoint e_;
  std::string owner_;
  std::function<bool()> stopping_;
  std::unique_ptr<httplib::Client> client_;  // client_mu_ guards the pointer against Interrupt()
  std::string client_url_, url_, preferred_, session_;
  int64_t id_ = 0;
  std::mutex client_mu_;
  bool closing_ = false;  // under client_mu_
};

// "scheme://host[:port]" (host may be "[v6]"); false when it is not that shape.
struct UrlParts {
  std::string scheme, host, port;  // port "" = the scheme's default
};
bool SplitUrl(const std::string& url, UrlParts* out);
// The URL to reach the master that HOST_IS_SLAVE named, asked through `from`.
std::string MasterUrl(const std::string& from, const std::string& address,
                      const std::vector<std::string>& listed);
// An XAPI datetime: "20240101T12:00:00Z".
std::string XapiTime(int64_t utc_ns);
// The https keys every platform client shares: tls_verify (true), ca_file (must
// be readable), timeout (2s, at least 10ms); problems go to `settings`.
void ReadHttpsSettings(Settings* settings, bool* tls_verify, std::string* ca_file, int64_t* timeout_ns);
// An HTTP(S) client of a REST service (the arrays, a BMC's Redfish): connect,
// read and write bounded by timeout_ns; for https the server certificate
// checked unless tls_verify is false, against ca_file when given. nullptr when
// the URL is not one cpp-httplib can use.
std::unique_ptr<httplib::Client> NewRestClient(const std::string& url, bool tls_verify, const std::string& ca_file,
                                               int64_t timeout_ns);
// A URL setting: http(s)://host[:port] without a path; trailing slashes dropped.
std::string CheckedBaseUrl(Settings* settings, const std::string& key, std::string url);

}  // namespace fb
