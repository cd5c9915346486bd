#include "fakes/xapi_ops.h"

#include <algorithm>
#include <map>
#include <memory>

namespace fb {

namespace {

using nlohmann::json;

constexpr int64_t kControlDomainBytes = 1ll << 30;  // what dom0 keeps of a host's memory

std::string Str(const json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}
std::string Arg(const json& args, size_t i) {
  return i < args.size() && args[i].is_string() ? args[i].get<std::string>() : "";
}

class Ops {
 public:
  Ops(XapiService* svc, XapiOpsHooks hooks) : svc_(svc), hooks_(std::move(hooks)) {}

  // HANDLE_INVALID for a ref the database does not hold.
  XapiAnswer Missing(const std::string& cls, const std::string& ref) {
    return XapiAnswer::Fail("HANDLE_INVALID", json::array({cls, ref}));
  }

  // Whether a VM may run on a host: enabled, live, every disk's SR attached there.
  XapiAnswer CanBootHere(const std::string& vm, const std::string& host) {
    json h = svc_->Record("host", host);
    if (h.is_null()) return Missing("host", host);
    if (!h.value("enabled", true)) return XapiAnswer::Fail("HOST_DISABLED", json::array({host}));
    json m = svc_->Record("host_metrics", Str(h, "metrics"));
    if (m.is_object() && !m.value("live", true)) return XapiAnswer::Fail("HOST_OFFLINE", json::array({host}));
    json v = svc_->Record("vm", vm);
    if (v.is_null()) return Missing("VM", vm);
    json pbds = svc_->Records("pbd");
    const json vbds = v.value("VBDs", json::array());
    for (const json& vbd_ref : vbds) {
      json vbd = svc_->Record("vbd", vbd_ref.is_string() ? vbd_ref.get<std::string>() : "");
      if (vbd.is_null() || vbd.value("empty", false)) continue;
      std::string sr = Str(svc_->Record("vdi", Str(vbd, "VDI")), "SR");
      bool attached = false;
      for (const auto& [ref, pbd] : pbds.items())
        attached = attached || (Str(pbd, "SR") == sr && Str(pbd, "host") == host &&
                                pbd.value("currently_attached", false));
      if (!attached) return XapiAnswer::Fail("VM_REQUIRES_SR", json::array({vm, sr}));
    }
    if (m.is_object() && m.contains("memory_total") && Str(v, "resident_on") != host) {
      int64_t available = m.value("memory_total", int64_t(0)) - kControlDomainBytes;
      const json vms = svc_->Records("vm");
      for (const auto& [ref, other] : vms.items())
        if (ref != vm && Str(other, "resident_on") == host && Str(other, "power_state") == "Running")
          available -= other.value("memory_static_max", int64_t(0));
      int64_t needed = v.value("memory_static_max", int64_t(0));
      if (needed > available)
        return XapiAnswer::Fail("HOST_NOT_ENOUGH_FREE_MEMORY",
                                json::array({std::to_string(needed), std::to_string(std::max<int64_t>(available, 0))}));
    }
    return XapiAnswer::Ok("");
  }

  XapiAnswer Migrate(const std::string& vm, const std::string& host) {
    json v = svc_->Record("vm", vm);
    if (v.is_null()) return Missing("VM", vm);
    if (Str(v, "power_state") != "Running") {
      std::string state = Str(v, "power_state");
      std::transform(state.begin(), state.end(), state.begin(), ::tolower);
      return XapiAnswer::Fail("VM_BAD_POWER_STATE", json::array({vm, "running", state}));
    }
    XapiAnswer ok = CanBootHere(vm, host);
    if (!ok.error.empty()) return ok;
    std::string from = Str(v, "resident_on");
    if (from == host) return XapiAnswer::Ok("");
    if (hooks_.migrate) {
      Status s = hooks_.migrate(Str(v, "name_label"), Name("host", from), Name("host", host));
      if (!s.ok()) return XapiAnswer::Fail("VM_MIGRATE_FAILED", json::array({vm, from, host, s.message()}));
    }
    svc_->Mod("vm", vm, {{"resident_on", host}});
    return XapiAnswer::Ok("");
  }

  // Running VMs resident on `host` that cannot leave it: {vm: [code, params...]}.
  json Prevent(const std::string& host) {
    json out = json::object();
    const json vms = svc_->Records("vm");
    for (const auto& [ref, v] : vms.items()) {
      if (Str(v, "resident_on") != host || Str(v, "power_state") != "Running") continue;
      if (Target(ref, host).empty()) {
        XapiAnswer why = XapiAnswer::Fail("NO_HOSTS_AVAILABLE", json::array());
        const json hosts = svc_->Records("host");
        for (const auto& [href, h] : hosts.items()) {
          if (href == host) continue;
          XapiAnswer a = CanBootHere(ref, href);
          if (!a.error.empty() && a.error != "HOST_DISABLED" && a.error != "HOST_OFFLINE") why = a;
        }
        json entry = json::array({why.error});
        for (const json& p : why.params) entry.push_back(p);
        out[ref] = entry;
      }
    }
    return out;
  }

  // Where an evacuated VM goes: an enabled live host it can boot on, with the fewest VMs.
  std::string Target(const std::string& vm, const std::string& away_from) {
    std::string best;
    size_t best_n = 0;
    json vms = svc_->Records("vm");
    const json hosts = svc_->Records("host");
    for (const auto& [href, h] : hosts.items()) {
      if (href == away_from || !CanBootHere(vm, href).error.empty()) continue;
      size_t n = 0;
      for (const auto& [r, v] : vms.items())
        n += Str(v, "resident_on") == href && Str(v, "power_state") == "Running";
      if (best.empty() || n < best_n) {
        best = href;
        best_n = n;
      }
    }
    return best;
  }

  XapiAnswer Evacuate(const std::string& host) {
    if (svc_->Record("host", host).is_null()) return Missing("host", host);
    json prevent = Prevent(host);
    if (!prevent.empty()) {
      const json& first = prevent.begin().value();
      json params = json::array();
      for (size_t i = 1; i < first.size(); ++i) params.push_back(first[i]);
      return XapiAnswer::Fail(first[0].get<std::string>(), params);
    }
    const json vms = svc_->Records("vm");
    for (const auto& [ref, v] : vms.items()) {
      if (Str(v, "resident_on") != host || Str(v, "power_state") != "Running") continue;
      XapiAnswer a = Migrate(ref, Target(ref, host));
      if (!a.error.empty()) return a;
    }
    return XapiAnswer::Ok("");
  }

  XapiAnswer DesignateMaster(const std::string& host) {
    json h = svc_->Record("host", host);
    if (h.is_null()) return Missing("host", host);
    json pools = svc_->Records("pool");
    if (pools.empty()) return XapiAnswer::Fail("INTERNAL_ERROR", json::array({"no pool record"}));
    std::string pool = pools.begin().key();
    if (Str(pools.begin().value(), "master") == host) return XapiAnswer::Ok("");
    if (hooks_.designate_master) {
      Status s = hooks_.designate_master(Str(h, "name_label"));
      if (!s.ok()) return XapiAnswer::Fail("INTERNAL_ERROR", json::array({s.message()}));
      return XapiAnswer::Ok("");
    }
    svc_->SetMaster(Str(h, "address"), pool, host);
    svc_->AddMessage("POOL_MASTER_TRANSITION", 4, "Host", Str(h, "uuid"), "");
    return XapiAnswer::Ok("");
  }

  XapiAnswer HardShutdown(const std::string& vm) {
    json v = svc_->Record("vm", vm);
    if (v.is_null()) return Missing("VM", vm);
    if (Str(v, "power_state") == "Halted") return XapiAnswer::Ok("");
    if (hooks_.stop) {
      Status s = hooks_.stop(Str(v, "name_label"));
      if (!s.ok()) return XapiAnswer::Fail("INTERNAL_ERROR", json::array({s.message()}));
    }
    svc_->Mod("vm", vm, {{"power_state", "Halted"}, {"resident_on", kXapiNullRef}});
    return XapiAnswer::Ok("");
  }

  XapiAnswer Start(const std::string& vm, const std::string& on) {
    json v = svc_->Record("vm", vm);
    if (v.is_null()) return Missing("VM", vm);
    if (Str(v, "power_state") != "Halted") {
      std::string state = Str(v, "power_state");
      std::transform(state.begin(), state.end(), state.begin(), ::tolower);
      return XapiAnswer::Fail("VM_BAD_POWER_STATE", json::array({vm, "halted", state}));
    }
    std::string host = on.empty() ? Target(vm, "") : on;
    if (host.empty()) return XapiAnswer::Fail("NO_HOSTS_AVAILABLE", json::array());
    if (hooks_.start) {
      Status s = hooks_.start(Str(v, "name_label"), Name("host", host));
      if (!s.ok()) return XapiAnswer::Fail("INTERNAL_ERROR", json::array({s.message()}));
    }
    svc_->Mod("vm", vm, {{"power_state", "Running"}, {"resident_on", host}});
    return XapiAnswer::Ok("");
  }

  XapiAnswer Plug(const std::string& pbd, bool attach) {
    if (svc_->Record("pbd", pbd).is_null()) return Missing("PBD", pbd);
    svc_->Mod("pbd", pbd, {{"currently_attached", attach}});
    return XapiAnswer::Ok("");
  }

  XapiAnswer Reboot(const std::string& host) {
    json h = svc_->Record("host", host);
    if (h.is_null()) return Missing("host", host);
    if (h.value("enabled", true)) return XapiAnswer::Fail("HOST_NOT_DISABLED", json::array());
    const json vms = svc_->Records("vm");
    for (const auto& [ref, vm] : vms.items()) {
      if (Str(vm, "resident_on") == host && Str(vm, "power_state") == "Running" &&
          !vm.value("is_control_domain", false))
        return XapiAnswer::Fail("HOST_IN_USE", json::array({host, "VM", ref}));
    }
    std::string metrics = Str(h, "metrics");
    if (!metrics.empty()) svc_->Mod("host_metrics", metrics, {{"live", false}});
    XapiService* svc = svc_;
    svc_->After(hooks_.reboot_downtime_ns, [svc, host, metrics] {
      if (!metrics.empty()) svc->Mod("host_metrics", metrics, {{"live", true}});
      svc->Mod("host", host, {{"enabled", true}});  // xapi enables its host when it starts
    });
    return XapiAnswer::Ok("");
  }

  XapiAnswer SetEnabled(const std::string& host, bool enabled) {
    if (svc_->Record("host", host).is_null()) return Missing("host", host);
    svc_->Mod("host", host, {{"enabled", enabled}});
    return XapiAnswer::Ok("");
  }

 private:
  std::string Name(const char* cls, const std::string& ref) {
    return Str(svc_->Record(cls, ref), "name_label");
  }

  XapiService* svc_;
  XapiOpsHooks hooks_;
};

}  // namespace

void InstallXapiOperations(XapiService* svc, XapiOpsHooks hooks) {
  auto ops = std::make_shared<Ops>(svc, std::move(hooks));
  svc->SetHandler("VM.assert_can_boot_here",
                  [ops](const json& a) { return ops->CanBootHere(Arg(a, 0), Arg(a, 1)); });
  svc->SetHandler("VM.pool_migrate", [ops](const json& a) { return ops->Migrate(Arg(a, 0), Arg(a, 1)); });
  svc->SetHandler("host.disable", [ops](const json& a) { return ops->SetEnabled(Arg(a, 0), false); });
  svc->SetHandler("host.enable", [ops](const json& a) { return ops->SetEnabled(Arg(a, 0), true); });
  svc->SetHandler("host.get_vms_which_prevent_evacuation",
                  [ops](const json& a) { return XapiAnswer::Ok(ops->Prevent(Arg(a, 0))); });
  svc->SetHandler("host.evacuate", [ops](const json& a) { return ops->Evacuate(Arg(a, 0)); });
  svc->SetHandler("host.reboot", [ops](const json& a) { return ops->Reboot(Arg(a, 0)); });
  svc->SetHandler("pool.designate_new_master",
                  [ops](const json& a) { return ops->DesignateMaster(Arg(a, 0)); });
  svc->SetHandler("VM.hard_shutdown", [ops](const json& a) { return ops->HardShutdown(Arg(a, 0)); });
  svc->SetHandler("VM.start", [ops](const json& a) { return ops->Start(Arg(a, 0), ""); });
  svc->SetHandler("VM.start_on", [ops](const json& a) { return ops->Start(Arg(a, 0), Arg(a, 1)); });
  svc->SetHandler("VM.hard_reboot", [ops, svc](const json& a) {
    std::string host = Str(svc->Record("vm", Arg(a, 0)), "resident_on");  // it comes back where it ran
    XapiAnswer down = ops->HardShutdown(Arg(a, 0));
    return down.error.empty() ? ops->Start(Arg(a, 0), host) : down;
  });
  svc->SetHandler("PBD.unplug", [ops](const json& a) { return ops->Plug(Arg(a, 0), false); });
  svc->SetHandler("PBD.plug", [ops](const json& a) { return ops->Plug(Arg(a, 0), true); });
}

}  // namespace fb
