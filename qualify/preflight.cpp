#include "qualify/preflight.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <thread>

#include "core/units.h"
#include "injectors/fault_lifecycle.h"
#include "plans/agent_fleet.h"
#include "plugin/settings.h"
#include "qualify/inventory.h"
#include "qualify/json_fields.h"

namespace fb {

namespace {

using nlohmann::json;
using R = PreflightCheck::Result;

constexpr int64_t kMiB = 1024 * 1024;
constexpr int64_t kHeartbeatMinBytes = 356 * kMiB;       // 4 MiB statefile + 256 MiB metadata, with room
constexpr int64_t kHeartbeatAdvisedBytes = 4096 * kMiB;  // the current XCP-ng documentation's minimum

using fields::Arr;
using fields::Obj;
using fields::Str;

std::string Num(const json& j) { return j.is_number() ? j.dump() : "?"; }
std::string Bytes(const json& j) {
  if (!j.is_number()) return "?";
  double b = j.get<double>();
  char buf[32];
  if (b >= 1024.0 * 1024 * 1024)
    snprintf(buf, sizeof buf, "%.1f GiB", b / (1024.0 * 1024 * 1024));
  else
    snprintf(buf, sizeof buf, "%.0f MiB", b / (1024.0 * 1024));
  return buf;
}

struct Checks {
  std::vector<PreflightCheck> list;
  void Add(R r, const std::string& check, const std::string& seen, const std::string& todo = "") {
    list.push_back({r, check, seen, todo});
  }
};

// Whether the plan waits on the pool's HA: its timeout, a host declared dead, a
// VM restarted, an agent that comes back after its VM died.
bool WaitsOnHa(const Plan& plan) {
  if (plan.platform.contains("ha")) return true;
  for (const Step& s : plan.steps)
    if (s.action == StepAction::kWaitFor && (s.wait_kind == "host_down" || s.wait_kind == "vm_started" ||
                                             s.wait_kind == "agent_first_completion"))
      return true;
  return false;
}

// The inventory's VM for an agent: the same name, else the same address.
const json* AgentVm(const json& x, const AgentSpec& a) {
  std::string host = a.ssh.value("host", std::string());
  for (const json& vm : Arr(x, "vms"))
    if (Str(vm, "name") == a.name) return &vm;
  for (const json& vm : Arr(x, "vms"))
    if (!host.empty() && Str(vm, "address") == host) return &vm;
  return nullptr;
}

void CheckPool(const Plan& plan, const json& x, Checks* c) {
  const json& pool = Obj(x, "pool");
  json hosts = Arr(x, "hosts");
  std::sort(hosts.begin(), hosts.end(),
            [](const json& a, const json& b) { return Str(a, "name") < Str(b, "name"); });
  for (const json& h : hosts) {
    std::string n = Str(h, "name");
    if (!h.value("enabled", false) || h["live"] != true)
      c->Add(R::kFail, "xapi.host." + n,
             std::string(h.value("enabled", false) ? "enabled" : "DISABLED") + ", " +
                 (h["live"] == true     ? "live"
                  : h["live"].is_null() ? "liveness unknown"
                                        : "NOT live"),
             "bring " + n + " back (xe host-enable) before a test: the pool is already short of a host");
    else
      c->Add(R::kPass, "xapi.host." + n, "enabled and live");
    const json& m = Obj(h, "management");
    if (m.empty()) {
      c->Add(R::kUnchecked, "xapi.management." + n, "no management PIF in the records read");
    } else if (Str(m, "mode") != "Static") {
      c->Add(
          R::kFail, "xapi.management." + n, Str(m, "device") + " " + Str(m, "mode") + " " + Str(m, "ip"),
          "give it a static address (xe pif-reconfigure-ip mode=static): HA's heartbeat and the pool break "
          "when a DHCP lease moves it");
    } else if (!m.value("bonded", false)) {
      c->Add(R::kWarn, "xapi.management." + n, Str(m, "device") + " static " + Str(m, "ip") + ", not bonded",
             "a bond (active-backup) keeps one NIC's failure from fencing the host");
    } else {
      c->Add(R::kPass, "xapi.management." + n, Str(m, "device") + " static " + Str(m, "ip") + ", bonded");
    }
  }
  if (!WaitsOnHa(plan)) return;

  if (!pool.value("ha_enabled", false)) {
    c->Add(R::kFail, "ha.enabled", "HA is off on pool " + Str(pool, "name"),
           "enable it: xe pool-ha-enable heartbeat-sr-uuids=<shared SR>");
  } else {
    c->Add(R::kPass, "ha.enabled",
           "HA is on, timeout " + Num(pool["ha_timeout_s"]) + " s (" + Str(pool, "ha_timeout_from") + ")");
  }
  size_t n = hosts.size();
  if (n >= 3)
    c->Add(R::kPass, "ha.hosts", std::to_string(n) + " hosts");
  else
    c->Add(
        n == 2 ? R::kWarn : R::kFail, "ha.hosts", std::to_string(n) + " host(s)",
        "with 2 hosts a lost heartbeat network leaves each half alone: the statefile decides, and a host is "
        "fenced; 3 or more keep a majority");
  const json& tol = pool["ha_host_failures_to_tolerate"];
  const json& plan_for = pool["ha_plan_exists_for"];
  if (!tol.is_number() || !plan_for.is_number())
    c->Add(R::kUnchecked, "ha.plan", "ha_host_failures_to_tolerate or ha_plan_exists_for not read");
  else if (tol.get<int64_t>() < 1)
    c->Add(
        R::kFail, "ha.plan", "ha_host_failures_to_tolerate " + Num(tol),
        "set it to 1 or more (xe pool-param-set ha-host-failures-to-tolerate=1): with 0 HA restarts nothing "
        "it has no room for");
  else if (plan_for.get<int64_t>() < tol.get<int64_t>())
    c->Add(R::kFail, "ha.plan",
           "ha_plan_exists_for " + Num(plan_for) + " < ha_host_failures_to_tolerate " + Num(tol) +
               " (overcommitted)",
           "free memory on the hosts or protect fewer VMs until the pool can restart them all");
  else
    c->Add(R::kPass, "ha.plan",
           "ha_plan_exists_for " + Num(plan_for) + " >= ha_host_failures_to_tolerate " + Num(tol) + " >= 1");

  // The heartbeat SR.
  std::set<std::string> heartbeat;
  for (const json& s : Arr(pool, "heartbeat_srs"))
    if (s.is_string()) heartbeat.insert(s.get<std::string>());
  if (heartbeat.empty() && pool.value("ha_enabled", false))
    c->Add(R::kFail, "ha.heartbeat_sr", "HA is on but no statefile VDI was found",
           "re-enable HA on a shared SR");
  for (const json& sr : Arr(x, "srs")) {
    if (!heartbeat.count(Str(sr, "name"))) continue;
    std::string n = Str(sr, "name"), type = Str(sr, "type");
    bool chap = false;
    for (const json& p : Arr(sr, "pbds")) chap = chap || p.value("chap", false);
    std::string seen = n + ": " + type + (sr.value("shared", false) ? ", shared" : ", NOT shared") +
                       (chap ? ", CHAP" : "") + ", " + Bytes(sr["size_bytes"]);
    if (!sr.value("shared", false))
      c->Add(R::kFail, "ha.heartbeat_sr", seen, "the heartbeat SR must be shared by every host");
    else if (type == "smb" || type == "cifs")
      c->Add(R::kFail, "ha.heartbeat_sr", seen,
             "HA does not support an SMB heartbeat SR: use iSCSI, HBA or NFS");
    else if (chap && type.find("iscsi") != std::string::npos)
      c->Add(R::kFail, "ha.heartbeat_sr", seen, "HA does not support an iSCSI heartbeat SR with CHAP");
    else if (!sr["size_bytes"].is_number())
      c->Add(R::kUnchecked, "ha.heartbeat_sr", seen, "its size was not read");
    else if (sr["size_bytes"].get<int64_t>() < kHeartbeatMinBytes)
      c->Add(R::kFail, "ha.heartbeat_sr", seen,
             "HA puts a 4 MiB statefile and a 256 MiB metadata volume on it: 356 MiB at least");
    else if (sr["size_bytes"].get<int64_t>() < kHeartbeatAdvisedBytes)
      c->Add(R::kWarn, "ha.heartbeat_sr", seen, "the XCP-ng documentation asks for 4 GiB or more");
    else
      c->Add(R::kPass, "ha.heartbeat_sr", seen);
  }

  // The plan's HA timeout against the pool's: the waits were derived from it.
  if (plan.platform.contains("ha") && plan.platform["ha"].is_object() &&
      plan.platform["ha"].contains("timeout")) {
    std::string t = plan.platform["ha"]["timeout"].is_string()
                        ? plan.platform["ha"]["timeout"].get<std::string>()
                        : plan.platform["ha"]["timeout"].dump();
    auto ns = ParseDuration(t);
    if (ns.ok() && pool["ha_timeout_s"].is_number()) {
      int64_t pool_ns = pool["ha_timeout_s"].get<int64_t>() * 1'000'000'000;
      if (*ns == pool_ns)
        c->Add(R::kPass, "ha.timeout", "plan " + t + " = pool " + Num(pool["ha_timeout_s"]) + " s");
      else
        c->Add(
            R::kWarn, "ha.timeout", "plan " + t + ", pool " + Num(pool["ha_timeout_s"]) + " s",
            "the waits were sized for another timeout: write faultbench plan new again, or set platform.ha");
    }
  }

  // Every VM the plan waits to see back (an agent_first_completion of its agent): protected, agile.
  for (const Step& s : plan.steps) {
    if (s.action != StepAction::kWaitFor || s.wait_kind != "agent_first_completion") continue;
    for (const AgentSpec& a : plan.agents) {
      if (!s.wait_source.empty() && s.wait_source != a.name) continue;
      const json* vm = AgentVm(x, a);
      std::string check = "ha.vm." + a.name;
      if (!vm) {
        c->Add(R::kUnchecked, check, "no VM named " + a.name + " or at " + a.ssh.value("host", std::string()),
               "name the agent after its VM");
        continue;
      }
      if (!vm->value("protected", false))
        c->Add(R::kFail, check,
               Str(*vm, "name") + ": ha_restart_priority \"" + Str(*vm, "ha_restart_priority") + "\"",
               "HA will not restart it: xe vm-param-set uuid=" + Str(*vm, "uuid") +
                   " ha-restart-priority=restart");
      else if (!vm->value("agile", false))
        c->Add(R::kFail, check, Str(*vm, "name") + " is not agile: " + Arr(*vm, "not_agile").dump(),
               "HA cannot start it elsewhere: its disks on shared SRs, its CD empty, its VIFs on pool-wide "
               "networks");
      else
        c->Add(R::kPass, check, Str(*vm, "name") + " protected and agile, on " + Str(*vm, "host"));
    }
  }
}

void CheckStorage(const Plan& plan, const json& x, Checks* c) {
  std::set<std::string> srs;
  for (const AgentSpec& a : plan.agents)
    if (const json* vm = AgentVm(x, a))
      for (const json& d : Arr(*vm, "disks")) srs.insert(Str(d, "sr"));
  bool from_agents = !srs.empty();
  if (!from_agents)
    for (const json& sr : Arr(x, "srs"))
      if (sr.value("shared", false) && Str(sr, "type").find("iscsi") != std::string::npos)
        srs.insert(Str(sr, "name"));
  for (const json& sr : Arr(x, "srs")) {
    std::string n = Str(sr, "name");
    if (!srs.count(n)) continue;
    json pbds = Arr(sr, "pbds");
    std::sort(pbds.begin(), pbds.end(),
              [](const json& a, const json& b) { return Str(a, "host") < Str(b, "host"); });
    for (const json& p : pbds) {
      std::string check = "storage.paths." + Str(p, "host") + "." + n;
      if (!p.value("attached", false)) {
        c->Add(R::kFail, check, "SR " + n + " NOT attached on " + Str(p, "host"), "xe pbd-plug");
      } else if (!p["paths_active"].is_number()) {
        c->Add(R::kUnchecked, check,
               "SR " + n + " on " + Str(p, "host") + ": " +
                   (p.value("multipathed", false) ? "no path counts in its PBD" : "not multipathed"),
               "enable multipathing on the host if the SR is iSCSI or FC");
      } else if (p["paths_active"].get<int>() < 2) {
        c->Add(R::kFail, check,
               "SR " + n + " on " + Str(p, "host") + ": " + Num(p["paths_active"]) + " of " +
                   Num(p["paths_total"]) + " paths active",
               "bring the other path up (multipath -ll on the host): a path-loss test on one path is a "
               "host-loss "
               "test");
      } else {
        c->Add(R::kPass, check,
               "SR " + n + " on " + Str(p, "host") + ": " + Num(p["paths_active"]) + " of " +
                   Num(p["paths_total"]) + " paths active");
      }
    }
  }
}

void CheckArrays(const json& arrays, Checks* c) {
  for (const json& a : arrays) {
    std::string url = Str(a, "url");
    if (!a["pods"].is_array()) {
      c->Add(R::kUnchecked, "array.pods " + url, "its pods were not read");
      continue;
    }
    for (const json& pod : Arr(a, "pods")) {
      std::string check = "array.pod." + Str(pod, "name");
      std::string seen, bad;
      for (const json& m : Arr(pod, "arrays")) {
        seen += (seen.empty() ? "" : ", ") + Str(m, "name") + " " + Str(m, "status") + " (mediator " +
                Str(m, "mediator_status") + ")";
        if (Str(m, "status") != "online") bad += " " + Str(m, "name") + " is " + Str(m, "status") + ";";
        if (Str(m, "mediator_status") != "online")
          bad += " " + Str(m, "name") + " cannot reach the mediator (" + Str(m, "mediator_status") + ");";
      }
      if (Arr(pod, "arrays").size() < 2)
        c->Add(R::kFail, check, seen.empty() ? "no array" : seen, "the pod is stretched over one array only");
      else if (!bad.empty())
        c->Add(R::kFail, check, seen, "fix before the test:" + bad);
      else
        c->Add(R::kPass, check, seen + " via " + url);
    }
  }
}

// A fault whose revert travels over the link it cuts.
void CheckFaultPaths(const Plan& plan, const json& x, Checks* c) {
  for (const PluginSpec& inj : plan.injectors) {
    std::string host = Str(inj.settings, "host");
    if (host.empty()) continue;  // local, in a namespace, or through an API
    for (const json& h : Arr(x, "hosts")) {
      // Which of this host's NICs carries `host` (the injector's way in)?
      std::string device;
      const json& m = Obj(h, "management");
      if (Str(m, "ip") == host || Str(h, "address") == host) device = Str(m, "device");
      for (const json& o : Arr(h, "other_ips"))
        if (Str(o, "ip") == host) device = Str(o, "device");
      if (device.empty()) continue;
      bool cuts_own_way = (inj.kind == "link" && Str(inj.settings, "interface") == device) ||
                          (inj.kind == "netfilter" && Str(inj.settings, "address") == host);
      std::string check = "fault.path." + inj.name;
      if (cuts_own_way)
        c->Add(R::kFail, check,
               inj.name + " reaches " + Str(h, "name") + " at " + host + " through " + device +
                   ", the very NIC it cuts: its revert (and the guard's) could never arrive",
               "reach the host over another of its addresses (a storage or second management network) or use "
               "its BMC");
      else
        c->Add(R::kPass, check,
               inj.name + " reaches " + Str(h, "name") + " at " + host + " (" + device +
                   "), not over what it cuts");
    }
  }
}

std::string ProbeUrl(const PluginSpec& p) { return Str(p.settings, "url"); }

}  // namespace

const char* PreflightResultName(PreflightCheck::Result r) {
  switch (r) {
    case R::kPass:
      return "PASS";
    case R::kWarn:
      return "WARN";
    case R::kFail:
      return "FAIL";
    case R::kUnchecked:
      return "UNCHECKED";
  }
  return "?";
}

std::vector<PreflightCheck> CheckInventory(const Plan& plan, const json& inv) {
  Checks c;
  const json& x = Obj(inv, "xapi");
  if (!x.empty()) {
    CheckPool(plan, x, &c);
    CheckStorage(plan, x, &c);
    CheckFaultPaths(plan, x, &c);
  }
  CheckArrays(Arr(inv, "arrays"), &c);
  return c.list;
}

std::vector<PreflightCheck> Preflight(const Plan& plan, const PreflightOptions& options) {
  Checks c;
  json inv = {{"arrays", json::array()}};
  bool has_xapi = false;
  for (const PluginSpec& p : plan.probes) {
    if (p.kind == "xapi" && !has_xapi) {
      has_xapi = true;
      Settings s(p.settings);
      XapiEndpoint e = XapiEndpointFromSettings(&s);
      if (!s.problems().empty()) {
        c.Add(R::kFail, "xapi.reachable",
              "probe " + p.name + ": " + s.problems()[0].key + ": " + s.problems()[0].message,
              "fix the probe's settings (faultbench validate)");
        continue;
      }
      XapiClient xapi(e, "preflight");
      Status st = xapi.Connect();
      if (!st.ok()) {
        c.Add(R::kFail, "xapi.reachable", st.message(), "check the address, the password variable and TLS");
        continue;
      }
      std::vector<std::string> problems;
      inv["xapi"] = ReadXapiInventory(xapi, &problems);
      xapi.Logout();
      c.Add(problems.empty() ? R::kPass : R::kWarn, "xapi.reachable",
            "pool " + Str(Obj(inv["xapi"], "pool"), "name") + " through " + xapi.url() +
                (problems.empty() ? "" : "; not read: " + problems[0]));
    } else if (p.kind == "array") {
      Settings s(p.settings);
      ArrayEndpoint e = ArrayEndpointFromSettings(&s);
      if (!s.problems().empty()) {
        c.Add(R::kFail, "array.reachable " + ProbeUrl(p),
              s.problems()[0].key + ": " + s.problems()[0].message);
        continue;
      }
      ArrayClient array(e, "preflight");
      std::vector<std::string> problems;
      json a = ReadArrayInventory(array, &problems);
      array.Logout();
      if (!problems.empty())
        c.Add(R::kFail, "array.reachable " + e.url, problems[0],
              "check the address, the token variable and TLS");
      inv["arrays"].push_back(std::move(a));
    }
  }
  if (!has_xapi && (!plan.agents.empty() || WaitsOnHa(plan)))  // a pool's plan without the pool's probe
    c.Add(R::kUnchecked, "xapi", "the plan has no xapi probe: the pool, HA and paths were not checked",
          "add one (faultbench plan new writes it)");
  for (auto& k : CheckInventory(plan, inv)) c.list.push_back(std::move(k));
  if (has_xapi && !inv.contains("xapi") && WaitsOnHa(plan))
    c.Add(R::kUnchecked, "ha", "the pool could not be read: HA was not checked");

  // Agents: ssh, hello (the protocol), clock offset; in parallel, bounded by their own timeouts.
  if (!plan.agents.empty()) {
    if (!options.agents) {
      c.Add(R::kUnchecked, "agent",
            "not connected here (the run connects each agent before anything starts)");
    } else {
      AgentFleet fleet(plan, nullptr, nullptr, -1);
      auto& agents = fleet.agents();
      std::vector<Status> results(agents.size());
      std::vector<std::thread> t;
      for (size_t i = 0; i < agents.size(); ++i)
        t.emplace_back([&, i] { results[i] = agents[i]->client->Connect(); });
      for (auto& th : t) th.join();
      for (size_t i = 0; i < agents.size(); ++i) {
        const AgentSpec& a = *agents[i]->spec;
        std::string check = "agent." + a.name;
        if (!results[i].ok()) {
          bool version = results[i].message().find("runs faultbench") != std::string::npos;
          c.Add(R::kFail, check, results[i].message(),
                version ? "install this version in the VM: faultbench deploy PLAN (agent/README.md)"
                        : "install the agent and check the ssh settings (agent/README.md)");
          continue;
        }
        const AgentClockOffset& clk = agents[i]->client->clock();
        char seen[160];
        snprintf(seen, sizeof seen, "at %s, faultbench %s, clock offset %+.1f ms (+/- %.1f ms)",
                 a.ssh.value("host", std::string()).c_str(), agents[i]->client->agent_version().c_str(),
                 double(clk.offset_ns) / 1e6,
                 double(clk.uncertainty_ns) / 1e6);
        c.Add(clk.uncertainty_ns > 10'000'000 ? R::kWarn : R::kPass, check, seen,
              clk.uncertainty_ns > 10'000'000
                  ? "a slow round trip: event times of this agent are that uncertain"
                  : "");
      }
    }
  }

  // Each injector's check, read-only: it answers, and the fault is not in effect yet.
  for (const PluginSpec& p : plan.injectors) {
    std::string check = "fault.check." + p.name;
    if (!options.faults) {
      c.Add(R::kUnchecked, check, "not asked");
      continue;
    }
    FaultSpec spec{p.name, p.kind, "", p.settings, 1};
    auto inj = BuildInjector(spec);
    if (!inj.ok()) {
      c.Add(R::kFail, check, inj.status().message(), "fix the injector's settings (faultbench validate)");
      continue;
    }
    (*inj)->Bind({"preflight", 0});
    CheckResult r = CheckFault(**inj);
    std::string where = (*inj)->where();
    switch (r.kind) {
      case CheckResult::Kind::kNoCheck:
        c.Add(R::kUnchecked, check, p.kind + " on " + where + " has no read-only check");
        break;
      case CheckResult::Kind::kNotInEffect:
        c.Add(R::kPass, check, p.kind + " on " + where + " answers: not in effect");
        break;
      case CheckResult::Kind::kInEffect:
        c.Add(R::kFail, check, p.kind + " on " + where + " says the fault is ALREADY in effect",
              "undo it first (faultbench faults lists what faultbench left; a host may be powered off)");
        break;
      case CheckResult::Kind::kFailed:
        c.Add(R::kFail, check, p.kind + " on " + where + ": " + r.error,
              p.kind == "ipmi" ? "check the BMC address, user and password variable" : "");
        break;
    }
  }
  return c.list;
}

std::string PreflightTable(const std::vector<PreflightCheck>& checks) {
  size_t wc = 5;
  for (const auto& k : checks) wc = std::max(wc, k.check.size());
  std::string out;
  int n[4] = {0, 0, 0, 0};
  for (const auto& k : checks) {
    ++n[int(k.result)];
    char head[64];
    snprintf(head, sizeof head, "%-9s ", PreflightResultName(k.result));
    out += head + k.check + std::string(wc - k.check.size() + 2, ' ') + k.seen;
    if (!k.todo.empty()) out += "  -> " + k.todo;
    out += "\n";
  }
  out += "preflight: " + std::to_string(n[0]) + " pass, " + std::to_string(n[1]) + " warn, " +
         std::to_string(n[2]) + " fail, " + std::to_string(n[3]) + " unchecked\n";
  return out;
}

bool PreflightFailed(const std::vector<PreflightCheck>& checks) {
  return std::any_of(checks.begin(), checks.end(),
                     [](const PreflightCheck& k) { return k.result == R::kFail; });
}

json PreflightJson(const std::vector<PreflightCheck>& checks) {
  json out = {{"pass", 0}, {"warn", 0}, {"fail", 0}, {"unchecked", 0}, {"checks", json::array()}};
  for (const auto& k : checks) {
    std::string r = PreflightResultName(k.result);
    std::string key = r == "UNCHECKED" ? "unchecked" : r == "PASS" ? "pass" : r == "WARN" ? "warn" : "fail";
    out[key] = out[key].get<int>() + 1;
    out["checks"].push_back({{"result", r}, {"check", k.check}, {"seen", k.seen}, {"todo", k.todo}});
  }
  return out;
}

}  // namespace fb
