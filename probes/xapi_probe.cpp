#include "probes/xapi_probe.h"

#include <algorithm>
#include <functional>

#include "core/clock.h"
#include "platform/xapi_client.h"
#include "probes/probe_base.h"
#include "probes/xapi_tracker.h"

namespace fb {

namespace {

using nlohmann::json;

struct Config {
  std::string name;
  XapiEndpoint endpoint;
  int64_t poll_timeout_ns = 0, retry_ns = 0, retry_max_ns = 0;
};

constexpr int64_t kMessageMarginNs = 10 * kNsPerSec;
constexpr int64_t kLogoutTimeoutNs = 300 * kNsPerMs;

class XapiProbe : public ProbeBase {
 public:
  explicit XapiProbe(Config c)
      : ProbeBase(c.name),
        c_(std::move(c)),
        xapi_(c_.endpoint, "probe " + c_.name, [this] { return StopRequested(); }),
        tracker_([this](const std::string& kind, Severity sev, const std::string& message, json attrs) {
          Emit(kind, sev, message, std::move(attrs));
        }) {}
  ~XapiProbe() override { Stop(); }

  std::vector<std::string> EventKinds() const override {
    return {"host_down",        "host_up",     "vm_stopped",  "vm_started",      "vm_moved",
            "master_changed",   "path_failed", "path_reinstated", "host_failed", "host_fenced",
            "master_transition", "alert",      "log",         "probe_error",     "probe_recovered"};
  }

 private:
  // Cuts an event.from long poll short. A call may begin just after one stop(),
  // so Stop() calls this again until Run returns (a stopped client reconnects on
  // its next call).
  void Interrupt() override { xapi_.Interrupt(); }

  void Run() override {
    int64_t backoff = 0;
    while (!StopRequested()) {
      if (!xapi_.connected()) {
        int64_t start = MonoNs();
        Status st = Connect();
        if (!st.ok()) {
          if (StopRequested()) break;
          Blind(start, st.message());
          backoff = backoff == 0 ? c_.retry_ns : std::min(2 * backoff, c_.retry_max_ns);
          WaitStop(backoff);
          continue;
        }
        backoff = 0;
        continue;
      }
      int64_t start = MonoNs();
      XapiReply r = xapi_.CallS("event.from", {XapiTracker::Classes(), token_, double(c_.poll_timeout_ns) / 1e9},
                                c_.poll_timeout_ns + c_.endpoint.timeout_ns);
      if (StopRequested()) break;
      if (r.ok && r.result.is_object() && r.result.contains("token") && r.result["token"].is_string()) {
        token_ = r.result["token"].get<std::string>();
        last_ok_utc_ = UtcNs();
        Sighted();
        if (r.result.contains("events") && r.result["events"].is_array())
          for (const json& e : r.result["events"]) Track([&] { tracker_.OnEvent(e); }, e);
        backoff = 0;
        continue;
      }
      if (r.ok) r.text = "event.from on " + xapi_.url() + ": no token in the result";
      if (r.error == "SESSION_INVALID") {
        xapi_.DropSession();  // log in again, keep the token: nothing is lost
      } else if (r.error == "EVENT_FROM_TOKEN_PARSE_FAILURE") {
        Emit("log", Severity::kInfo, "probe " + c_.name + ": " + r.text + ": starting again from now", {});
        token_.clear();
        Resync();
      } else if (r.error == "HOST_IS_SLAVE") {
        xapi_.FollowMaster(r);
      } else {
        Blind(start, r.text);
        if (r.transport) {
          xapi_.DropSession();  // find the master again, at once
        } else {
          backoff = backoff == 0 ? c_.retry_ns : std::min(2 * backoff, c_.retry_max_ns);
          WaitStop(backoff);
        }
      }
    }
    xapi_.Logout(kLogoutTimeoutNs);
  }

  // Logs in to the master (platform/xapi_client.h); a new master, or no token
  // yet, starts from now.
  Status Connect() {
    std::string was = xapi_.url();
    FB_RETURN_IF_ERROR(xapi_.Connect());
    if (was != xapi_.url() || token_.empty()) return Resync();
    return Status::Ok();
  }

  // Starts from now: a fresh token first, then the records, so a change in between
  // shows both in the records and as an event (the tracker reports it once).
  Status Resync() {
    XapiReply r = xapi_.CallS("event.from", {XapiTracker::Classes(), "", 0.0});
    if (!r.ok || !r.result.is_object() || !r.result.contains("token") || !r.result["token"].is_string()) {
      xapi_.DropSession();
      return Status::IoError("probe " + c_.name + ": " + (r.ok ? "event.from gave no token" : r.text));
    }
    token_ = r.result["token"].get<std::string>();
    int64_t seen_utc = last_ok_utc_;
    Sighted();
    for (const std::string& cls : XapiTracker::Classes()) {
      std::string method = XapiTracker::RecordsMethod(cls);
      if (method.empty()) continue;
      XapiReply rec = xapi_.CallS(method);
      if (!rec.ok) {
        xapi_.DropSession();
        token_.clear();
        return Status::IoError("probe " + c_.name + ": " + rec.text);
      }
      Track([&] { tracker_.OnRecords(cls, rec.result); }, json(method));
    }
    if (seen_utc != 0) {
      // Messages raised while this probe could not see (the new master's
      // POOL_MASTER_TRANSITION, say); the margin covers the hosts' clock offset and
      // messages already reported are skipped.
      XapiReply m = xapi_.CallS("message.get_since", {XapiTime(seen_utc - kMessageMarginNs)});
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
    Emit("probe_recovered", Severity::kInfo, "probe " + c_.name + ": pool master " + xapi_.url() + " answers again",
         {{"blind_from_utc_ns", UtcNs() - (now - blind_since_)},
          {"blind_ms", double(now - blind_since_) / double(kNsPerMs)}});
    blind_since_ = 0;
  }

  void Emit(const std::string& kind, Severity sev, const std::string& message, json attrs) const {
    ProbeBase::Emit(MonoNs(), kind, sev, message, std::move(attrs));
  }
  void Decorate(const std::string&, json* attrs) const override { (*attrs)["url"] = xapi_.url(); }

  Config c_;
  XapiClient xapi_;
  XapiTracker tracker_;
  std::string token_;
  int64_t blind_since_ = 0;
  int64_t last_ok_utc_ = 0;  // the last time every change up to then had arrived
};

}  // namespace

std::unique_ptr<Probe> NewXapiProbe(const std::string& name, Settings* s) {
  Config c;
  c.name = name;
  c.endpoint = XapiEndpointFromSettings(s);
  c.poll_timeout_ns = s->DurationNs("poll_timeout", 5 * kNsPerSec);
  if (c.poll_timeout_ns < 100 * kNsPerMs || c.poll_timeout_ns > 300 * kNsPerSec)
    s->Problem("poll_timeout", "must be between 100ms and 300s");
  c.retry_ns = s->DurationNs("retry", 250 * kNsPerMs);
  if (c.retry_ns < kNsPerMs) s->Problem("retry", "must be at least 1ms");
  c.retry_max_ns = s->DurationNs("retry_max", 5 * kNsPerSec);
  if (c.retry_max_ns < c.retry_ns) s->Problem("retry_max", "must not be below retry");
  return std::make_unique<XapiProbe>(std::move(c));
}

}  // namespace fb
