#include "injectors/xapi_injector.h"

#include <algorithm>
#include <cstdio>
#include <functional>

#include "core/clock.h"
#include "core/jsonl_writer.h"
#include "core/units.h"
#include "platform/xapi_client.h"

namespace fb {

namespace {

using nlohmann::json;

const char* const kActions[] = {"vm_migrate", "host_evacuate",    "host_reboot",   "designate_master",
                                "pbd_unplug", "vm_hard_shutdown", "vm_hard_reboot"};

std::string Str(const json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

// "VM_REQUIRES_SR [\"OpaqueRef:..\", \"OpaqueRef:..\"]"
std::string Failure(const XapiReply& r) { return r.transport ? r.text : r.error + " " + r.data.dump(); }

class XapiInjector : public Injector, public FaultChecker {
 public:
  struct Config {
    XapiEndpoint endpoint;
    std::string action, vm, host, to, sr, revert;
    int64_t task_timeout_ns = 0;
  };
  XapiInjector(std::string name, Config c)
      : name_(std::move(name)), c_(std::move(c)), xapi_(c_.endpoint, "injector " + name_) {}

  std::string where() const override {
    return "xapi " + (xapi_.connected() ? xapi_.url() : c_.endpoint.urls.empty() ? "" : c_.endpoint.urls[0]);
  }
  FaultChecker* checker() override { return c_.action == "vm_hard_reboot" ? nullptr : this; }

  void Bind(const FaultContext& ctx) override {
    state_path_ = XapiStatePath(ctx.run_id, name_);
    emit_ = ctx.emit;
  }

  // Resolves every name to its ref and remembers what the revert needs (the
  // VM's origin host, the old master).
  Status Prepare() override {
    FB_RETURN_IF_ERROR(Connect());
    if (!state_.empty()) return Status::Ok();
    json st = json::object();
    if (!c_.vm.empty()) {
      auto vm = Find("VM", c_.vm, {"name_label", "uuid"});
      if (!vm.ok()) return vm.status();
      st["vm"] = vm->first;
      st["origin"] = Str(vm->second, "resident_on");
    }
    if (!c_.host.empty()) {
      auto host = Find("host", c_.host, {"name_label", "hostname", "uuid"});
      if (!host.ok()) return host.status();
      st["host"] = host->first;
    }
    if (c_.action == "vm_migrate") {
      auto to = Destination(Str(st, "origin"));
      if (!to.ok()) return to.status();
      st["to"] = *to;
    }
    if (c_.action == "designate_master") {
      auto pools = Records("pool");
      if (!pools.ok()) return pools.status();
      if (pools->empty()) return Err("prepare", "the pool has no pool record");
      st["pool"] = pools->begin().key();
      st["old_master"] = Str(pools->begin().value(), "master");
    }
    if (c_.action == "pbd_unplug") {
      auto sr = Find("SR", c_.sr, {"name_label", "uuid"});
      if (!sr.ok()) return sr.status();
      auto pbds = Records("PBD");
      if (!pbds.ok()) return pbds.status();
      for (const auto& [ref, pbd] : pbds->items())
        if (Str(pbd, "SR") == sr->first && Str(pbd, "host") == Str(st, "host")) st["pbd"] = ref;
      if (Str(st, "pbd").empty()) return Err("prepare", "SR " + c_.sr + " has no PBD on host " + c_.host);
    }
    state_ = st;
    return Status::Ok();
  }

  // What the revert needs, in the state file for the guard's instance, before
  // the fault goes in; the revert removes it. A prepare or check alone leaves
  // nothing behind.
  Status Inject() override {
    FB_RETURN_IF_ERROR(Prepare());
    if (!state_path_.empty()) {
      Status s = WriteFileAtomic(state_path_, state_.dump() + "\n");
      if (!s.ok()) return s.With("injector " + name_);
    }
    const std::string vm = Str(state_, "vm"), host = Str(state_, "host");
    if (c_.action == "vm_migrate") {
      std::string to = Str(state_, "to");
      XapiReply can = Call("VM.assert_can_boot_here", {vm, to});
      if (!can.ok)
        return Err("inject",
                   "VM.assert_can_boot_here " + c_.vm + " on " + Name("host", to) + ": " + Failure(can));
      return RunTask("inject", "VM.pool_migrate", {vm, to, {{"live", "true"}}},
                     c_.vm + " -> " + Name("host", to));
    }
    if (c_.action == "host_evacuate") return Evacuate(host);
    if (c_.action == "host_reboot") {
      FB_RETURN_IF_ERROR(Evacuate(host));
      return RunTask("inject", "host.reboot", {host}, c_.host);
    }
    if (c_.action == "designate_master") {
      FB_RETURN_IF_ERROR(RunTask("inject", "pool.designate_new_master", {host}, c_.host));
      return AwaitMaster("inject", host);
    }
    if (c_.action == "pbd_unplug") {
      XapiReply r = Call("PBD.unplug", {Str(state_, "pbd")});
      return r.ok ? Status::Ok()
                  : Err("inject", "PBD.unplug of SR " + c_.sr + " on " + c_.host + ": " + Failure(r));
    }
    if (c_.action == "vm_hard_shutdown") return RunTask("inject", "VM.hard_shutdown", {vm}, c_.vm);
    return RunTask("inject", "VM.hard_reboot", {vm}, c_.vm);
  }

  Status Revert() override {
    FB_RETURN_IF_ERROR(Connect());
    if (state_.empty() && !state_path_.empty()) {  // the guard's instance: what Inject wrote
      auto text = ReadFile(state_path_);
      if (text.ok()) state_ = json::parse(*text, nullptr, false);
      if (!state_.is_object()) state_ = json();
    }
    if (state_.empty()) FB_RETURN_IF_ERROR(Prepare());
    auto done = [&](Status s) {
      if (s.ok() && !state_path_.empty()) std::remove(state_path_.c_str());
      return s;
    };
    const std::string vm = Str(state_, "vm"), host = Str(state_, "host");
    if (c_.action == "vm_migrate") {
      if (c_.revert == "none") return done(Status::Ok());
      std::string origin = Str(state_, "origin");
      auto rec = Record("VM", vm);
      if (!rec.ok()) return rec.status();
      if (Str(*rec, "resident_on") == origin) return done(Status::Ok());
      return done(RunTask("revert", "VM.pool_migrate", {vm, origin, {{"live", "true"}}},
                          c_.vm + " back to " + Name("host", origin)));
    }
    if (c_.action == "host_evacuate") {
      auto rec = Record("host", host);
      if (!rec.ok()) return rec.status();
      if (rec->value("enabled", false)) return done(Status::Ok());
      XapiReply r = Call("host.enable", {host});
      return done(r.ok ? Status::Ok() : Err("revert", "host.enable " + c_.host + ": " + Failure(r)));
    }
    if (c_.action == "host_reboot") {
      // Back when XAPI says it is live again (its agent came up), then enabled.
      int64_t deadline = MonoNs() + c_.task_timeout_ns;
      while (true) {
        auto rec = Record("host", host);
        if (rec.ok() && rec->value("enabled", false) && Live(*rec)) return done(Status::Ok());
        if (rec.ok() && Live(*rec)) {
          XapiReply r = Call("host.enable", {host});
          if (r.ok) return done(Status::Ok());
        }
        if (MonoNs() >= deadline)
          return Err("revert", c_.host + " not live and enabled again within " + FormatDuration(c_.task_timeout_ns));
        SleepUntilMono(std::min(deadline, MonoNs() + 500 * kNsPerMs));
      }
    }
    if (c_.action == "designate_master") {
      std::string old = Str(state_, "old_master");
      auto pool = Record("pool", Str(state_, "pool"));
      if (!pool.ok()) return pool.status();
      if (Str(*pool, "master") == old) return done(Status::Ok());
      FB_RETURN_IF_ERROR(RunTask("revert", "pool.designate_new_master", {old}, Name("host", old) + " back"));
      return done(AwaitMaster("revert", old));
    }
    if (c_.action == "pbd_unplug") {
      auto rec = Record("PBD", Str(state_, "pbd"));
      if (!rec.ok()) return rec.status();
      if (rec->value("currently_attached", false)) return done(Status::Ok());
      XapiReply r = Call("PBD.plug", {Str(state_, "pbd")});
      return done(r.ok ? Status::Ok()
                       : Err("revert", "PBD.plug of SR " + c_.sr + " on " + c_.host + ": " + Failure(r)));
    }
    if (c_.action == "vm_hard_shutdown") {
      auto rec = Record("VM", vm);
      if (!rec.ok()) return rec.status();
      if (Str(*rec, "power_state") != "Halted") return done(Status::Ok());
      XapiReply r = Call("VM.start", {vm, false, false});
      return done(r.ok ? Status::Ok() : Err("revert", "VM.start " + c_.vm + ": " + Failure(r)));
    }
    return done(Status::Ok());  // vm_hard_reboot: the VM comes back by itself
  }

  Result<bool> InEffect() override {
    FB_RETURN_IF_ERROR(Prepare());
    if (c_.action == "host_reboot") {
      auto up = LiveAndEnabled(Str(state_, "host"));
      if (!up.ok()) return up.status();
      return !*up;
    }
    if (c_.action == "vm_migrate") {
      auto rec = Record("VM", Str(state_, "vm"));
      if (!rec.ok()) return rec.status();
      return Str(*rec, "resident_on") != Str(state_, "origin");
    }
    if (c_.action == "host_evacuate") {
      auto rec = Record("host", Str(state_, "host"));
      if (!rec.ok()) return rec.status();
      return !rec->value("enabled", true);
    }
    if (c_.action == "designate_master") {
      auto rec = Record("pool", Str(state_, "pool"));
      if (!rec.ok()) return rec.status();
      return Str(*rec, "master") == Str(state_, "host");
    }
    if (c_.action == "pbd_unplug") {
      auto rec = Record("PBD", Str(state_, "pbd"));
      if (!rec.ok()) return rec.status();
      return !rec->value("currently_attached", true);
    }
    auto rec = Record("VM", Str(state_, "vm"));
    if (!rec.ok()) return rec.status();
    return Str(*rec, "power_state") == "Halted";
  }

 private:
  Status Err(const char* what, const std::string& msg) const {
    return Status::Unavailable("injector " + name_ + " on " + where() + ": " + what + ": " + msg);
  }

  // Maintenance mode: host.disable, then Async.host.evacuate; an evacuation
  // that fails enables the host again and names what held it.
  Status Evacuate(const std::string& host) {
    // Which VMs it must move: the report checks each one moved (all_vms_moved).
    if (auto vms = Records("VM"); vms.ok()) {
      json names = json::array();
      for (const auto& [ref, vm] : vms->items()) {
        if (Str(vm, "resident_on") == host && Str(vm, "power_state") == "Running" &&
            !vm.value("is_control_domain", false))
          names.push_back(Str(vm, "name_label"));
      }
      std::string hname = Name("host", host);  // as the xapi probe names hosts in vm_moved
      Note("xapi_host_vms", Severity::kInfo, hname + " runs " + std::to_string(names.size()) + " VM(s): " + names.dump(),
           {{"host", hname}, {"vms", names}});
    }
    XapiReply off = Call("host.disable", {host});
    if (!off.ok) return Err("inject", "host.disable " + c_.host + ": " + Failure(off));
    Status s = RunTask("inject", "host.evacuate", {host}, c_.host);
    if (s.ok()) return s;
    XapiReply why = Call("host.get_vms_which_prevent_evacuation", {host});
    XapiReply on = Call("host.enable", {host});  // an evacuation that failed leaves the host usable
    std::string blocked;
    if (why.ok && why.result.is_object())
      for (const auto& [ref, code] : why.result.items())
        blocked += (blocked.empty() ? "" : ", ") + Name("VM", ref) + " " + code.dump();
    return Err("inject", s.message() + (blocked.empty() ? "" : "; held by: " + blocked) +
                             (on.ok ? "; " + c_.host + " enabled again" : "; host.enable failed: " + Failure(on)));
  }

  // After pool.designate_new_master: until the pool answers through its new
  // master (HOST_IS_SLAVE followed) and names it, at most task_timeout; an
  // event says when (xapi_master_ready: how long after the task ended).
  Status AwaitMaster(const char* what, const std::string& host) {
    const int64_t t0 = MonoNs(), deadline = t0 + c_.task_timeout_ns;
    std::string last;
    while (true) {
      XapiReply r = Call("pool.get_record", {Str(state_, "pool")});
      if (r.ok && Str(r.result, "master") == host) break;
      last = r.ok ? "the pool still names " + Name("host", Str(r.result, "master")) : Failure(r);
      if (MonoNs() >= deadline)
        return Err(what, "the pool does not answer through its new master " + Name("host", host) + " within " +
                             FormatDuration(c_.task_timeout_ns) + " (" + last + ")");
      SleepUntilMono(std::min(deadline, MonoNs() + 50 * kNsPerMs));
    }
    double ms = double(MonoNs() - t0) / 1e6;
    std::string name = Name("host", host);
    Note("xapi_master_ready", Severity::kInfo,
         "the pool answers through its new master " + name + " (" + xapi_.url() + ") " +
             FormatDuration(int64_t(ms * 1e6)) + " after the task",
         {{"master", name}, {"url", xapi_.url()}, {"wait_ms", ms}, {"step", what}});
    return Status::Ok();
  }

  // host_metrics.live of a host record (false when it cannot be read).
  bool Live(const json& host) {
    auto m = Record("host_metrics", Str(host, "metrics"));
    return m.ok() && m->value("live", false);
  }
  Result<bool> LiveAndEnabled(const std::string& host) {
    auto rec = Record("host", host);
    if (!rec.ok()) return rec.status();
    return rec->value("enabled", false) && Live(*rec);
  }

  Status Connect() {
    if (xapi_.connected()) return Status::Ok();
    return xapi_.Connect();
  }

  // method(session, args...), once more after HOST_IS_SLAVE (the master moved)
  // or SESSION_INVALID (a new master knows no session of the old one).
  XapiReply Call(const std::string& method, json args, int64_t timeout_ns = 0) {
    XapiReply r = xapi_.CallS(method, args, timeout_ns);
    if (r.ok || (r.error != "HOST_IS_SLAVE" && r.error != "SESSION_INVALID" && !r.transport)) return r;
    if (r.error == "HOST_IS_SLAVE") xapi_.FollowMaster(r);
    xapi_.DropSession();
    if (!xapi_.Connect().ok()) return r;
    return xapi_.CallS(method, args, timeout_ns);
  }

  Result<json> Records(const std::string& cls) {
    XapiReply r = Call(cls + ".get_all_records", json::array());
    if (!r.ok) return Err("read", cls + ".get_all_records: " + Failure(r));
    return r.result;
  }
  Result<json> Record(const std::string& cls, const std::string& ref) {
    XapiReply r = Call(cls + ".get_record", {ref});
    if (!r.ok) return Err("read", cls + ".get_record " + ref + ": " + Failure(r));
    return r.result;
  }
  std::string Name(const std::string& cls, const std::string& ref) {
    auto rec = Record(cls, ref);
    std::string n = rec.ok() ? Str(*rec, "name_label") : "";
    return n.empty() ? ref : n;
  }

  // The one object of `cls` whose `keys` (name_label, uuid, ...) say `want`.
  Result<std::pair<std::string, json>> Find(const std::string& cls, const std::string& want,
                                            const std::vector<const char*>& keys) {
    auto all = Records(cls);
    if (!all.ok()) return all.status();
    std::vector<std::pair<std::string, json>> hits;
    for (const auto& [ref, rec] : all->items()) {
      if (cls == "VM" && (rec.value("is_a_template", false) || rec.value("is_a_snapshot", false) ||
                          rec.value("is_control_domain", false)))
        continue;
      for (const char* k : keys)
        if (Str(rec, k) == want) {
          hits.emplace_back(ref, rec);
          break;
        }
    }
    if (hits.empty())
      return Status::InvalidInput("injector " + name_ + ": the pool has no " + cls + " \"" + want + "\"");
    if (hits.size() > 1)
      return Status::InvalidInput("injector " + name_ + ": " + std::to_string(hits.size()) + " " + cls +
                                  " objects are named \"" + want + "\": give its uuid");
    return hits[0];
  }

  // vm_migrate's destination: `to`, or the first enabled host by name that is not the origin.
  Result<std::string> Destination(const std::string& origin) {
    if (!c_.to.empty() && c_.to != "another") {
      auto h = Find("host", c_.to, {"name_label", "hostname", "uuid"});
      if (!h.ok()) return h.status();
      if (h->first == origin) return Err("prepare", c_.vm + " already runs on " + c_.to);
      return h->first;
    }
    auto hosts = Records("host");
    if (!hosts.ok()) return hosts.status();
    std::vector<std::pair<std::string, std::string>> named;
    for (const auto& [ref, h] : hosts->items())
      if (ref != origin && h.value("enabled", false)) named.emplace_back(Str(h, "name_label"), ref);
    std::sort(named.begin(), named.end());
    if (named.empty()) return Err("prepare", "no other enabled host for " + c_.vm);
    return named[0].second;
  }

  // An event on the run's timeline (FaultContext::emit), when there is one.
  void Note(const std::string& kind, Severity sev, const std::string& message, json attrs) const {
    if (!emit_) return;
    Event e;
    e.mono_ns = MonoNs();
    e.source = name_;
    e.kind = kind;
    e.severity = sev;
    e.message = message;
    attrs["injector"] = name_;
    attrs["action"] = c_.action;
    e.attrs = std::move(attrs);
    emit_(std::move(e));
  }

  // Async.<method>: the task followed until it ends, then destroyed; its
  // start (xapi_task_started) and end (xapi_task_done: status, duration,
  // error code and parameters) are events.
  Status RunTask(const char* what, const std::string& method, json args, const std::string& about) {
    int64_t t0 = MonoNs();
    XapiReply t = Call("Async." + method, args);
    if (!t.ok) return Err(what, "Async." + method + " " + about + ": " + Failure(t));
    std::string task = t.result.is_string() ? t.result.get<std::string>() : "";
    Note("xapi_task_started", Severity::kInfo, method + " " + about + " (" + what + ")",
         {{"method", method}, {"task", task}, {"about", about}, {"step", what}});
    int64_t deadline = MonoNs() + c_.task_timeout_ns;
    json rec;
    while (true) {
      XapiReply r = Call("task.get_record", {task});
      if (r.ok && Str(r.result, "status") != "pending") {
        rec = r.result;
        break;
      }
      if (MonoNs() >= deadline) {
        Note("xapi_task_done", Severity::kError, method + " " + about + ": not done within " +
                                                     FormatDuration(c_.task_timeout_ns),
             {{"method", method}, {"task", task}, {"status", "timeout"},
              {"duration_ms", double(MonoNs() - t0) / 1e6}, {"step", what}});
        return Err(what, method + " " + about + ": task " + task + " not done within " +
                             FormatDuration(c_.task_timeout_ns));
      }
      SleepUntilMono(std::min(deadline, MonoNs() + 100 * kNsPerMs));
    }
    (void)Call("task.destroy", {task});
    double ms = double(MonoNs() - t0) / 1e6;
    if (Str(rec, "status") == "success") {
      Note("xapi_task_done", Severity::kInfo, method + " " + about + ": success in " + FormatDuration(int64_t(ms * 1e6)),
           {{"method", method}, {"task", task}, {"status", "success"}, {"duration_ms", ms}, {"step", what}});
      return Status::Ok();
    }
    const json& info =
        rec.contains("error_info") && rec["error_info"].is_array() ? rec["error_info"] : json::array();
    std::string code = !info.empty() && info[0].is_string() ? info[0].get<std::string>() : Str(rec, "status");
    json params = json::array();
    for (size_t i = 1; i < info.size(); ++i) params.push_back(info[i]);
    Note("xapi_task_done", Severity::kError, method + " " + about + ": " + code + " " + params.dump(),
         {{"method", method}, {"task", task}, {"status", Str(rec, "status")}, {"error", code}, {"params", params},
          {"duration_ms", ms}, {"step", what}});
    return Err(what, method + " " + about + ": " + code + " " + params.dump());
  }

  std::string name_;
  Config c_;
  XapiClient xapi_;
  std::string state_path_;
  json state_;
  std::function<void(Event)> emit_;
};

}  // namespace

std::string XapiStatePath(const std::string& run_id, const std::string& name) {
  char buf[64];
  snprintf(buf, sizeof buf, "/tmp/fb-xapi-%016zx.json", std::hash<std::string>{}(run_id + "\n" + name));
  return buf;
}

std::unique_ptr<Injector> NewXapiInjector(const std::string& name, Settings* s) {
  XapiInjector::Config c;
  c.endpoint = XapiEndpointFromSettings(s);
  c.action = s->String("action", true);
  if (!c.action.empty() &&
      std::find(std::begin(kActions), std::end(kActions), c.action) == std::end(kActions))
    s->Problem("action",
               "must be one of vm_migrate, host_evacuate, host_reboot, designate_master, pbd_unplug, "
               "vm_hard_shutdown, vm_hard_reboot");
  bool on_vm = c.action == "vm_migrate" || c.action.rfind("vm_hard_", 0) == 0;
  c.vm = s->String("vm", on_vm);
  c.host = s->String("host", !on_vm && !c.action.empty());
  c.to = s->String("to", false, "another");
  c.sr = s->String("sr", c.action == "pbd_unplug");
  c.revert = s->String("revert", false, "back");
  if (c.revert != "back" && c.revert != "none") s->Problem("revert", "must be back or none");
  c.task_timeout_ns = s->DurationNs("task_timeout", 600 * kNsPerSec);
  if (c.task_timeout_ns < kNsPerSec) s->Problem("task_timeout", "must be at least 1s");
  return std::make_unique<XapiInjector>(name, std::move(c));
}

}  // namespace fb
