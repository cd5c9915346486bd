#include "qualify/plan_new.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <functional>

#include "core/clock.h"
#include "core/units.h"
#include "platform/xapi_client.h"
#include "qualify/json_fields.h"

namespace fb {

namespace {

using nlohmann::json;
using ojson = nlohmann::ordered_json;

constexpr int64_t kSec = 1'000'000'000;

using fields::Arr;
using fields::Obj;
using fields::Str;

// "2m", "90s", "500ms": as a person writes them in a plan.
std::string D(int64_t ns) {
  if (ns == 0) return "0s";
  if (ns % (60 * kSec) == 0) return std::to_string(ns / (60 * kSec)) + "m";
  if (ns % kSec == 0) return std::to_string(ns / kSec) + "s";
  if (ns % 1'000'000 == 0) return std::to_string(ns / 1'000'000) + "ms";
  return FormatDuration(ns);
}

// Site values are written as the site file has them; JSON keeps their order.
ojson O(const json& j) { return ojson::parse(j.dump()); }
void Merge(ojson* into, const json& from) {
  if (!from.is_object()) return;
  for (const auto& [k, v] : from.items()) (*into)[k] = O(v);
}

// {host}, {vm}, ... in every string of a site-given injector.
json Fill(const json& j, const std::map<std::string, std::string>& vars) {
  if (j.is_string()) {
    std::string s = j.get<std::string>();
    for (const auto& [k, v] : vars) {
      std::string key = "{" + k + "}";
      for (size_t at = s.find(key); at != std::string::npos; at = s.find(key, at + v.size()))
        s.replace(at, key.size(), v);
    }
    return s;
  }
  if (j.is_array() || j.is_object()) {
    json out = j;
    for (auto& [k, v] : out.items()) v = Fill(v, vars);
    return out;
  }
  return j;
}

// One section of the plan: keys in order, each with the reason it has its value.
struct Section {
  ojson values = ojson::object();
  std::map<std::string, std::string> why;
  void Set(const std::string& key, ojson v, const std::string& reason = "") {
    values[key] = std::move(v);
    if (!reason.empty()) why[key] = reason;
  }
};

// A comment, wrapped at about 88 columns, each line behind `indent`.
void Comment(std::string* out, const std::string& indent, const std::string& text) {
  std::string line;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(' ', start);
    if (end == std::string::npos) end = text.size();
    std::string word = text.substr(start, end - start);
    if (!line.empty() && indent.size() + 2 + line.size() + 1 + word.size() > 88) {
      *out += indent + "# " + line + "\n";
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
    start = end + 1;
  }
  if (!line.empty()) *out += indent + "# " + line + "\n";
}

// YAML in block style for the top two levels, flow (JSON, which is YAML) below.
void EmitSection(std::string* out, const std::string& name, const Section& s, const std::string& why = "") {
  if (!why.empty()) Comment(out, "", why);
  *out += name + ":\n";
  for (const auto& [k, v] : s.values.items()) {
    auto w = s.why.find(k);
    if (w != s.why.end()) Comment(out, "  ", w->second);
    if (v.is_object() && !v.empty()) {
      *out += "  " + k + ":\n";
      for (const auto& [k2, v2] : v.items()) *out += "    " + k2 + ": " + v2.dump() + "\n";
    } else {
      *out += "  " + k + ": " + v.dump() + "\n";
    }
  }
}

void EmitList(std::string* out, const std::string& name,
              const std::vector<std::pair<ojson, std::string>>& items, const std::string& why = "") {
  if (!why.empty()) Comment(out, "", why);
  *out += name + ":\n";
  for (const auto& [item, reason] : items) {
    if (!reason.empty()) Comment(out, "  ", reason);
    *out += "  - " + item.dump() + "\n";
  }
}

// The inventory, with lookups by name.
struct Inv {
  const json& inv;
  const json& xapi() const { return Obj(inv, "xapi"); }
  const json& pool() const { return Obj(xapi(), "pool"); }
  std::string master() const { return Str(pool(), "master"); }
  const json* Host(const std::string& name) const {
    for (const json& h : Arr(xapi(), "hosts"))
      if (Str(h, "name") == name) return &h;
    return nullptr;
  }
  const json* Vm(const std::string& name) const {
    for (const json& v : Arr(xapi(), "vms"))
      if (Str(v, "name") == name) return &v;
    return nullptr;
  }
  const json* Sr(const std::string& name) const {
    for (const json& s : Arr(xapi(), "srs"))
      if (Str(s, "name") == name) return &s;
    return nullptr;
  }
  // The PBD of an SR on a host.
  const json* Pbd(const std::string& sr, const std::string& host) const {
    const json* s = Sr(sr);
    if (!s) return nullptr;
    for (const json& p : Arr(*s, "pbds"))
      if (Str(p, "host") == host) return &p;
    return nullptr;
  }
  std::vector<const json*> Vms() const {
    std::vector<const json*> out;
    for (const json& v : Arr(xapi(), "vms")) out.push_back(&v);
    std::sort(out.begin(), out.end(),
              [](const json* a, const json* b) { return Str(*a, "name") < Str(*b, "name"); });
    return out;
  }
  // The SR of the VM's first disk ("" without one).
  std::string DiskSr(const json& vm) const {
    for (const json& d : Arr(vm, "disks")) return Str(d, "sr");
    return "";
  }
};

// Why a VM cannot play a role ("" = it can), with what to change on the platform.
using Rule = std::function<std::string(const json& vm)>;

struct Builder {
  const Inv& inv;
  const PlanNewRequest& req;
  const json& site;
  int64_t baseline_ns, margin_ns, ha_timeout_ns;

  std::string Address(const json& vm) const {
    std::string site_host = Str(Obj(Obj(site, "agents"), Str(vm, "name").c_str()), "host");
    return site_host.empty() ? Str(vm, "address") : site_host;
  }

  std::string Running(const json& vm) const {
    return Str(vm, "power_state") == "Running"
               ? ""
               : "it is " + Str(vm, "power_state") + ": start it (xe vm-start vm=" + Str(vm, "name") + ")";
  }
  std::string Reachable(const json& vm) const {
    return !Address(vm).empty()
               ? ""
               : "no address: its guest tools report none (VM_guest_metrics.networks \"0/ip\"); "
                 "install them or give agents." +
                     Str(vm, "name") + ".host in the site file";
  }
  std::string Protected(const json& vm) const {
    return vm.value("protected", false)
               ? ""
               : "HA does not protect it (ha_restart_priority \"" + Str(vm, "ha_restart_priority") +
                     "\"): xe vm-param-set uuid=" + Str(vm, "uuid") + " ha-restart-priority=restart";
  }
  std::string Agile(const json& vm) const {
    if (vm.value("agile", false)) return "";
    std::string why;
    for (const json& w : Arr(vm, "not_agile")) why += (why.empty() ? "" : "; ") + w.get<std::string>();
    return "it is not agile (" + why + "): move its disks to a shared SR, eject local CDs";
  }
  std::string OffMaster(const json& vm) const {
    return Str(vm, "host") != inv.master() ? ""
                                           : "it runs on the master " + inv.master() +
                                                 ": the pool's own view is blind while a new master is "
                                                 "elected; migrate it to another host";
  }

  // The first VM (by name) that passes every rule, or the forced one; an error
  // lists each VM's first broken rule.
  Result<const json*> Choose(const std::string& role, const std::string& forced,
                             const std::vector<Rule>& rules, const std::string& flag) const {
    auto first_broken = [&](const json& vm) {
      for (const Rule& r : rules) {
        std::string why = r(vm);
        if (!why.empty()) return why;
      }
      return std::string();
    };
    if (!forced.empty()) {
      const json* vm = inv.Vm(forced);
      if (!vm) return Status::InvalidInput(flag + " " + forced + ": the inventory has no such VM");
      std::string why = first_broken(*vm);
      if (!why.empty())
        return Status::InvalidInput(flag + " " + forced + " cannot be the " + role + ": " + why);
      return vm;
    }
    std::string all;
    for (const json* vm : inv.Vms()) {
      std::string why = first_broken(*vm);
      if (why.empty()) return vm;
      all += "\n  " + Str(*vm, "name") + ": " + why;
    }
    return Status::InvalidInput("no VM can be the " + role + " of " + req.scenario +
                                (all.empty() ? ": the inventory has no VM" : ":" + all));
  }

  // The agent for a VM: its address, the site's settings for it, the target.
  Result<ojson> Agent(const json& vm) const {
    ojson a = {{"name", Str(vm, "name")}, {"host", Address(vm)}};
    const json& mine = Obj(Obj(site, "agents"), Str(vm, "name").c_str());
    Merge(&a, mine);
    a["host"] = Address(vm);
    bool has_target = mine.contains("target") || Obj(site, "agent_defaults").contains("target");
    if (!has_target) {
      // Its second disk (userdevice 1) is /dev/xvdb in a Linux guest: the scratch disk.
      for (const json& d : Arr(vm, "disks")) {
        if (Str(d, "device") == "1") {
          a["target"] = "/dev/xvdb";
          has_target = true;
        }
      }
    }
    if (!has_target)
      return Status::InvalidInput(
          Str(vm, "name") +
          " has no scratch disk for the load (a second disk, userdevice 1, on the shared "
          "SR): add one (xe vbd-create), or set agent_defaults.target in the site file");
    return a;
  }

  ojson XapiProbe() const {
    ojson p = {{"kind", "xapi"}};
    std::string url = Str(inv.xapi(), "url");
    p["url"] = url;
    UrlParts parts;
    json fallback = json::array();
    if (SplitUrl(url, &parts)) {
      for (const json& h : Arr(inv.xapi(), "hosts")) {
        if (h.value("master", false) || Str(h, "address").empty()) continue;
        fallback.push_back(parts.scheme + "://" + Str(h, "address") +
                           (parts.port.empty() ? "" : ":" + parts.port));
      }
    }
    if (!fallback.empty()) p["fallback_urls"] = O(fallback);
    p["user"] = Str(inv.xapi(), "user").empty() ? "root" : Str(inv.xapi(), "user");
    p["password_env"] =
        Str(inv.xapi(), "password_env").empty() ? "FB_XAPI_PASSWORD" : Str(inv.xapi(), "password_env");
    if (inv.xapi().contains("tls_verify") && inv.xapi()["tls_verify"] == false) p["tls_verify"] = false;
    if (!Str(inv.xapi(), "ca_file").empty()) p["ca_file"] = Str(inv.xapi(), "ca_file");
    Merge(&p, Obj(Obj(site, "probes"), "xapi"));
    return p;
  }

  // ssh to a host's dom0 (the site's dom0 keys); an error when the site has none.
  Result<ojson> Dom0(const std::string& address, const std::string& what) const {
    const json& d = Obj(site, "dom0");
    if (Str(d, "identity_file").empty() || Str(d, "known_hosts").empty())
      return Status::InvalidInput(what +
                                  " runs over ssh to dom0: give dom0.identity_file and dom0.known_hosts "
                                  "in the site file (or injectors." +
                                  req.scenario + " to use another way)");
    return ojson{{"host", address},
                 {"user", Str(d, "user").empty() ? "root" : Str(d, "user")},
                 {"identity_file", Str(d, "identity_file")},
                 {"known_hosts", Str(d, "known_hosts")}};
  }

  // The site's own injector for this scenario, with the blanks filled in.
  bool SiteInjector(ojson* out, const std::map<std::string, std::string>& vars) const {
    const json& inj = Obj(Obj(site, "injectors"), req.scenario.c_str());
    if (inj.empty()) return false;
    *out = O(Fill(inj, vars));
    return true;
  }
};

std::string Header(const PlanNewRequest& req, const std::vector<std::string>& lines) {
  std::string out;
  Comment(&out, "",
          "Written by `faultbench plan new " + req.scenario + "` from " + req.inventory_label + " at " +
              req.created +
              ". Every choice below says why it was made; check them against the pool, then "
              "`faultbench validate` and `faultbench preflight` this file before the run.");
  for (const std::string& l : lines) Comment(&out, "", l);
  return out;
}

}  // namespace

const std::vector<std::string>& PlanScenarios() {
  static const std::vector<std::string> kScenarios = {"replication-cut", "path-loss", "mgmt-nic-loss",
                                                      "host-power-loss"};
  return kScenarios;
}

Result<json> ReadYamlFile(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return Status::InvalidInput(path + ": cannot read");
  } catch (const YAML::Exception& e) {
    return Status::InvalidInput(path + ":" + std::to_string(e.mark.line + 1) + ":" +
                                std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  std::function<json(const YAML::Node&)> conv = [&](const YAML::Node& n) -> json {
    switch (n.Type()) {
      case YAML::NodeType::Map: {
        json o = json::object();
        for (const auto& kv : n) o[kv.first.as<std::string>()] = conv(kv.second);
        return o;
      }
      case YAML::NodeType::Sequence: {
        json a = json::array();
        for (const auto& e : n) a.push_back(conv(e));
        return a;
      }
      case YAML::NodeType::Scalar: {
        // Quoted scalars stay strings; plain ones become what they spell.
        const std::string& s = n.Scalar();
        if (n.Tag() == "!") return s;
        if (s == "true" || s == "false") return s == "true";
        if (s == "null" || s == "~") return nullptr;
        json num = json::parse(s, nullptr, false);
        return num.is_number() ? num : json(s);
      }
      default:
        return nullptr;
    }
  };
  return conv(root);
}

Result<std::string> NewPlan(const json& inventory, const PlanNewRequest& req) {
  const auto& names = PlanScenarios();
  if (std::find(names.begin(), names.end(), req.scenario) == names.end()) {
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
    return Status::InvalidInput("unknown scenario \"" + req.scenario + "\": one of " + list);
  }
  Inv inv{inventory};
  if (inv.xapi().empty())
    return Status::InvalidInput("the inventory has no pool (xapi): run faultbench discover --xapi URL first");
  if (!inventory.value("complete", true))
    return Status::InvalidInput(
        "the inventory is incomplete (see its problems): run faultbench discover again "
        "once every part can be read");
  const json& site = req.site;
  const json& timing = Obj(site, "timing");
  auto dur = [&](const char* key, int64_t def) -> Result<int64_t> {
    if (!timing.contains(key)) return def;
    auto d = ParseDuration(timing[key].is_string() ? timing[key].get<std::string>() : timing[key].dump());
    if (!d.ok()) return Status::InvalidInput("site timing." + std::string(key) + ": " + d.status().message());
    return *d;
  };
  auto baseline = dur("baseline", 60 * kSec);
  if (!baseline.ok()) return baseline.status();
  auto margin = dur("margin", 60 * kSec);
  if (!margin.ok()) return margin.status();
  const json& pool = inv.pool();
  int64_t ha_timeout = pool.value("ha_timeout_s", json(60)).is_number()
                           ? pool["ha_timeout_s"].get<int64_t>() * kSec
                           : 60 * kSec;
  Builder b{inv, req, site, *baseline, *margin, ha_timeout};
  const int64_t B = *baseline, M = *margin, T = ha_timeout;
  const bool ha_scenario = req.scenario == "host-power-loss" || req.scenario == "mgmt-nic-loss";

  if (ha_scenario && !pool.value("ha_enabled", false))
    return Status::InvalidInput("HA is off on pool " + Str(pool, "name") + ": " + req.scenario +
                                " tests what HA does when a host goes; enable it first (xe pool-ha-enable "
                                "heartbeat-sr-uuids=<a shared SR>)");

  // The victim, by the scenario's rules.
  std::vector<Rule> rules = {[&](const json& v) { return b.Running(v); },
                             [&](const json& v) { return b.Reachable(v); }};
  std::vector<std::string> victim_rules = {"running", "reachable (an address for its agent)"};
  if (ha_scenario) {
    rules.push_back([&](const json& v) { return b.Protected(v); });
    rules.push_back([&](const json& v) { return b.Agile(v); });
    rules.push_back([&](const json& v) { return b.OffMaster(v); });
    victim_rules.insert(
        victim_rules.end(),
        {"HA-protected (restart)", "agile (disks on shared SRs, no local CD)", "not on the master"});
  }
  if (req.scenario == "path-loss") {
    rules.push_back([&](const json& v) -> std::string {
      std::string sr = inv.DiskSr(v);
      const json* pbd = inv.Pbd(sr, Str(v, "host"));
      if (sr.empty() || !pbd) return "no disk on an SR attached to its host";
      json active = pbd->value("paths_active", json());
      if (!active.is_number() || active.get<int>() < 2)
        return "its host " + Str(v, "host") + " sees SR " + sr + " on " +
               (active.is_number() ? std::to_string(active.get<int>()) : "?") +
               " active path(s): a path loss on one path is a storage loss; bring the second path up "
               "(multipath -ll on the host)";
      return "";
    });
    victim_rules.push_back("its disk's SR on 2 or more active paths on its host");
  }
  const json* array_for_victim = nullptr;
  std::string victim_volume;
  if (req.scenario == "replication-cut") {
    if (Arr(inventory, "arrays").empty())
      return Status::InvalidInput(
          "the inventory has no array: run faultbench discover with --array URL for each "
          "array of the pod");
    rules.push_back([&](const json& v) -> std::string {
      std::string sr = inv.DiskSr(v);
      for (const json& a : Arr(inventory, "arrays"))
        for (const json& vol : Arr(a, "volumes"))
          if (!sr.empty() && Str(vol, "sr") == sr && !Str(vol, "pod").empty()) return "";
      return "its disk's SR " + (sr.empty() ? std::string("(none)") : sr) +
             " is no volume of a pod on the arrays read: put its disk on the stretched SR";
    });
    victim_rules.push_back("its disk on a volume in a pod (the stretched SR)");
  }
  auto victim = b.Choose("victim", req.victim, rules, "--victim");
  if (!victim.ok()) return victim.status();
  const json& V = **victim;
  const std::string vhost = Str(V, "host");
  const json* vhost_rec = inv.Host(vhost);

  // The survivor: running, reachable, on another host.
  std::vector<Rule> srules = {
      [&](const json& v) { return b.Running(v); }, [&](const json& v) { return b.Reachable(v); },
      [&](const json& v) -> std::string {
        return Str(v, "host") != vhost ? ""
                                       : "it runs on " + vhost + ", the victim's host: migrate it to another";
      }};
  auto survivor = b.Choose("survivor", req.survivor, srules, "--survivor");
  if (!survivor.ok()) return survivor.status();
  const json& S = **survivor;

  auto va = b.Agent(V);
  if (!va.ok()) return va.status();
  auto sa = b.Agent(S);
  if (!sa.ok()) return sa.status();

  std::string victim_reason = Str(V, "name") + " on " + vhost + " is the victim: " + [&] {
    std::string s;
    for (const auto& r : victim_rules) s += (s.empty() ? "" : ", ") + r;
    return s;
  }() + (req.victim.empty() ? " (the first VM by name that is all of these)" : " (--victim)");
  std::string survivor_reason =
      Str(S, "name") + " on " + Str(S, "host") +
      " is the survivor: running on another host than the victim, so its load shows "
      "what the rest of the pool saw" +
      (req.survivor.empty() ? "" : " (--survivor)");

  // Sections.
  Section workload, agent_defaults, platform, injectors, probes, expect;
  workload.Set("engine", "libaio", "in the VMs, on their scratch disks");
  workload.Set("bs", "4k");
  workload.Set("rw", "randrw");
  workload.Set("rwmixread", 70);
  workload.Set("jobs", 1);
  workload.Set("queue_depth", 16);
  workload.Set("rate_iops", 1000,
               "the total of both agents (share 0.5 each): a steady load that shows every pause");
  workload.Set("interval", "1s");
  workload.Set("stall_threshold", "200ms");
  workload.Set("verify", true, "every acknowledged write is read back: a lost write fails the run");
  workload.Set("allow_destroy", true, "the VMs' scratch disks are written");
  agent_defaults.Set("user", "root");
  agent_defaults.Set("share", 0.5);
  agent_defaults.Set("clock_every", "60s", "the agents' clocks are measured again this often");
  for (const auto& [k, v] : Obj(site, "agent_defaults").items())
    agent_defaults.Set(
        k, O(v), k == "target" || k == "identity_file" || k == "known_hosts" ? "from the site file" : "");

  std::string inj_name;
  std::vector<std::pair<ojson, std::string>> steps;
  std::vector<std::string> header;
  std::map<std::string, std::string> vars = {
      {"host", vhost}, {"host_address", vhost_rec ? Str(*vhost_rec, "address") : ""}, {"vm", Str(V, "name")}};
  int64_t duration = 0;

  if (ha_scenario) {
    platform.Set(
        "ha", ojson{{"timeout", D(T)}},
        "the pool's HA timeout, " + std::to_string(T / kSec) + " s (" + Str(pool, "ha_timeout_from") + ")");
    // The pool needs T to decide, then restarts the VM; the VM boots and its agent resumes.
    const int64_t down_wait = std::max(3 * T, T + M), start_wait = 2 * M, first_wait = 4 * M;
    const int64_t lease = down_wait + start_wait + first_wait + 2 * M;
    inj_name = req.scenario == "host-power-loss" ? "power" : "mgmt-nic";
    ojson inj;
    if (b.SiteInjector(&inj, vars)) {
      injectors.Set(inj_name, inj, "the site file's injector for " + req.scenario + ", for " + vhost);
    } else if (req.scenario == "host-power-loss") {
      const json& bmc = vhost_rec ? Obj(*vhost_rec, "bmc") : Obj(json(), "");
      std::string addr = Str(bmc, "address");
      std::string user = Str(bmc, "user");
      std::string from = "XAPI (host.power_on_config of " + vhost + ")";
      if (addr.empty()) {
        addr = Str(Obj(Obj(site, "bmc"), "hosts"), vhost.c_str());
        from = "the site file (bmc.hosts." + vhost + ")";
      }
      if (user.empty()) user = Str(Obj(site, "bmc"), "user");
      if (addr.empty() || user.empty())
        return Status::InvalidInput(
            "no BMC " + std::string(addr.empty() ? "address" : "user") + " known for " + vhost +
            ": set its power-on mode in XAPI (xe host-set-power-on-mode host=" + vhost +
            " power-on-mode=IPMI power-on-config:power_on_ip=ADDRESS "
            "power-on-config:power_on_user=USER) or give bmc.hosts." +
            vhost + " and bmc.user in the site file");
      std::string penv = Str(Obj(site, "bmc"), "password_env");
      inj = {{"kind", "ipmi"},  {"host", addr},
             {"user", user},    {"password_env", penv.empty() ? "FB_IPMI_PASSWORD" : penv},
             {"action", "off"}, {"interface", "lanplus"},
             {"timeout", "30s"}};
      injectors.Set(inj_name, inj, vhost + "'s BMC, from " + from + "; revert: power on");
    } else {
      // The management NIC is cut over another of the host's addresses, never its own.
      const json& mgmt = vhost_rec ? Obj(*vhost_rec, "management") : Obj(json(), "");
      std::string device = Str(mgmt, "device");
      const json& other = vhost_rec ? Arr(*vhost_rec, "other_ips") : Arr(json(), "");
      if (device.empty())
        return Status::InvalidInput(vhost + " has no management PIF in the inventory: rerun discover");
      if (other.empty())
        return Status::InvalidInput(
            vhost +
            " has no address outside its management network: an injector that "
            "reaches its dom0 through the NIC it cuts could never revert; give "
            "injectors.mgmt-nic-loss in the site file (e.g. through the BMC console)");
      auto ssh = b.Dom0(Str(other[0], "ip"), "the management NIC cut");
      if (!ssh.ok()) return ssh.status();
      inj = {{"kind", "link"}};
      for (const auto& [k, v] : ssh->items()) inj[k] = v;
      inj["interface"] = device;
      inj["timeout"] = "30s";
      injectors.Set(inj_name, inj,
                    vhost + "'s management NIC " + device + ", reached over " + Str(other[0], "device") +
                        " (" + Str(other[0], "ip") + ", network " + Str(other[0], "network") +
                        "), not over the management network it cuts");
    }
    steps.push_back({{{"at", "0s"}, {"phase", "baseline"}}, ""});
    steps.push_back({{{"at", D(B)}, {"phase", "fault"}, {"inject", inj_name}, {"max_duration", D(lease)}},
                     "the lease covers every wait below and the recovery: the guard reverts after it"});
    steps.push_back({{{"after", "0s"},
                      {"wait_for", {{"kind", "host_down"}, {"source", "xapi"}, {"timeout", D(down_wait)}}}},
                     "the pool declares " + vhost + " dead after its HA timeout (" + D(T) + ") plus margin"});
    steps.push_back({{{"after", "0s"},
                      {"wait_for", {{"kind", "vm_started"}, {"source", "xapi"}, {"timeout", D(start_wait)}}}},
                     "HA restarts the protected VMs on the hosts left"});
    steps.push_back(
        {{{"after", "0s"},
          {"wait_for",
           {{"kind", "agent_first_completion"}, {"source", Str(V, "name")}, {"timeout", D(first_wait)}}}},
         Str(V, "name") + " boots elsewhere and its agent (--boot) continues the load"});
    steps.push_back({{{"after", D(M / 2)}, {"phase", "recovery"}, {"revert", inj_name}}, ""});
    steps.push_back({{{"after", D(M / 2)}, {"mark", "settled"}}, ""});
    steps.push_back(
        {{{"after", "0s"}, {"end", true}}, "the run ends here; the duration covers the longest waits"});
    duration = B + down_wait + start_wait + first_wait + M + M / 2;
    expect.Set("io_errors", 0);
    expect.Set("lost_writes", 0, "the victim's acknowledged writes are on its disk after the restart");
    expect.Set(
        "max_stall", D(T),
        "the survivor should not pause at all; the HA timeout is the most the pool's own timing can "
        "explain (the victim's downtime is no stall: its load died with the VM, the report lists it apart)");
    header.push_back("What happens: " + vhost +
                     (req.scenario == "host-power-loss" ? " loses power" : " loses its management NIC") +
                     "; its heartbeats stop; after the HA timeout (" + D(T) +
                     ") the pool declares it dead and "
                     "restarts its protected VMs elsewhere, " +
                     Str(V, "name") +
                     " among them; the survivor's load "
                     "goes on.");
  } else if (req.scenario == "path-loss") {
    std::string sr = inv.DiskSr(V);
    const json* pbd = inv.Pbd(sr, vhost);
    std::string portals = pbd ? Str(*pbd, "portals") : "";
    std::string portal = portals.substr(0, portals.find(','));
    if (portal.empty() && pbd) portal = Str(*pbd, "target") + ":3260";
    vars["portal"] = portal;
    vars["iqn"] = pbd ? Str(*pbd, "iqn") : "";
    inj_name = "path";
    ojson inj;
    if (b.SiteInjector(&inj, vars)) {
      injectors.Set(inj_name, inj, "the site file's injector for path-loss, for " + vhost);
    } else {
      auto ssh = b.Dom0(vhost_rec ? Str(*vhost_rec, "address") : "", "the iSCSI session logout");
      if (!ssh.ok()) return ssh.status();
      inj = {{"kind", "iscsi_session"}};
      for (const auto& [k, v] : ssh->items()) inj[k] = v;
      inj["target"] = vars["iqn"];
      inj["portal"] = portal;
      inj["timeout"] = "30s";
      injectors.Set(inj_name, inj,
                    "one of SR " + sr + "'s sessions on " + vhost + ": target " + vars["iqn"] + ", portal " +
                        portal + " (the first of its PBD's multihomelist); the other path carries the load");
    }
    platform.Set(
        "iscsi",
        ojson{{"noop_out_interval", "5s"}, {"noop_out_timeout", "5s"}, {"replacement_timeout", "15s"}},
        "XCP-ng's defaults with multipath (discover cannot read iscsid.conf: correct them if yours differ)");
    platform.Set("multipath", ojson{{"polling_interval", "5s"}, {"no_path_retry", 0}});
    const int64_t loss = M;
    steps.push_back({{{"at", "0s"}, {"phase", "baseline"}}, ""});
    steps.push_back(
        {{{"at", D(B)}, {"phase", "fault"}, {"inject", inj_name}, {"max_duration", D(loss + M)}}, ""});
    steps.push_back(
        {{{"at", D(B + loss)}, {"phase", "recovery"}, {"revert", inj_name}}, "one path gone for " + D(loss)});
    steps.push_back({{{"after", D(M / 2)}, {"mark", "settled"}}, ""});
    steps.push_back({{{"after", "0s"}, {"end", true}}, ""});
    duration = B + loss + M;
    expect.Set("io_errors", 0);
    expect.Set("lost_writes", 0);
    expect.Set(
        "faults",
        ojson{
            {inj_name, {{"max_stall", "25s"}, {"recovery", {{"to", "80% of baseline"}, {"within", "30s"}}}}}},
        "a silently lost path pauses I/O for about 15-25 s on XCP-ng (NOP timeout, replacement_timeout, "
        "then multipath retries on the other path)");
    header.push_back("What happens: " + vhost + " loses one of its two paths to SR " + sr +
                     "; multipath fails it "
                     "and carries the load on the other; the path comes back at the revert.");
  } else {  // replication-cut
    std::string sr = inv.DiskSr(V);
    const json* arr = nullptr;
    for (const json& a : Arr(inventory, "arrays"))
      for (const json& vol : Arr(a, "volumes"))
        if (Str(vol, "sr") == sr && !arr) {
          arr = &a;
          victim_volume = Str(vol, "name");
        }
    array_for_victim = arr;
    const json* port = nullptr;
    for (const json& ni : Arr(*arr, "network_interfaces"))
      if (!port && ni.value("enabled", false)) port = &ni;
    if (!port)
      return Status::InvalidInput("the array at " + Str(*arr, "url") +
                                  " has no enabled replication interface: check its network-interfaces");
    vars["array_url"] = Str(*arr, "url");
    vars["interface"] = Str(*port, "name");
    inj_name = "replication-port";
    ojson inj;
    std::string token_env = Str(*arr, "token_env").empty() ? "FB_ARRAY_API_TOKEN" : Str(*arr, "token_env");
    if (b.SiteInjector(&inj, vars)) {
      injectors.Set(inj_name, inj, "the site file's injector for replication-cut");
    } else {
      std::string path = "/api/2.42/network-interfaces?names=" + Str(*port, "name");
      inj = {{"kind", "http"},
             {"base_url", Str(*arr, "url")},
             {"auth", "api_token"},
             {"token_env", token_env},
             {"login_path", "/api/2.42/login"},
             {"inject_method", "PATCH"},
             {"inject_path", path},
             {"inject_body", "{\"enabled\": false}"},
             {"revert_method", "PATCH"},
             {"revert_path", path},
             {"revert_body", "{\"enabled\": true}"},
             {"check_path", path},
             {"check_match", "\"enabled\":false"},
             {"timeout", "30s"}};
      if ((*arr).contains("tls_verify") && (*arr)["tls_verify"] == false) inj["verify_tls"] = false;
      if (!Str(*arr, "ca_file").empty()) inj["ca_file"] = Str(*arr, "ca_file");
      injectors.Set(inj_name, inj,
                    "replication port " + Str(*port, "name") + " of the array at " + Str(*arr, "url") +
                        " disabled through its REST API (volume " + victim_volume + " holds SR " + sr + ")");
    }
    int i = 0;
    for (const json& a : Arr(inventory, "arrays")) {
      ojson p = {{"kind", "array"},
                 {"url", Str(a, "url")},
                 {"api_token_env", Str(a, "token_env").empty() ? "FB_ARRAY_API_TOKEN" : Str(a, "token_env")},
                 {"interval", "500ms"}};
      if (a.contains("tls_verify") && a["tls_verify"] == false) p["tls_verify"] = false;
      if (!Str(a, "ca_file").empty()) p["ca_file"] = Str(a, "ca_file");
      probes.Set("array-" + std::string(1, char('a' + i++)), p,
                 "pods, array connections and alerts of " + Str(a, "url"));
    }
    const int64_t cut = 2 * M, resync_wait = 5 * M;
    steps.push_back({{{"at", "0s"}, {"phase", "baseline"}}, ""});
    steps.push_back(
        {{{"at", D(B)}, {"phase", "fault"}, {"inject", inj_name}, {"max_duration", D(cut + M)}}, ""});
    steps.push_back({{{"at", D(B + cut)}, {"phase", "recovery"}, {"revert", inj_name}},
                     "the link is down for " + D(cut)});
    steps.push_back({{{"after", "1s"}, {"wait_for", {{"kind", "resync_done"}, {"timeout", D(resync_wait)}}}},
                     "the pod resyncs the writes made while one array served alone"});
    steps.push_back({{{"after", D(M / 2)}, {"mark", "settled"}}, ""});
    steps.push_back({{{"after", "0s"}, {"end", true}}, ""});
    duration = B + cut + 1 * kSec + resync_wait + M;
    expect.Set("io_errors", 0);
    expect.Set("lost_writes", 0);
    expect.Set(
        "faults",
        ojson{
            {inj_name, {{"max_stall", "25s"}, {"recovery", {{"to", "80% of baseline"}, {"within", "60s"}}}}}},
        "the pod pauses I/O while the mediator decides which array goes on (a few seconds); 25 s is the "
        "host's own path timeout budget");
    header.push_back(
        "What happens: the arrays of the pod lose their replication link; the mediator decides which "
        "one serves the volume alone; both VMs' I/O pauses for that decision and goes on; after the "
        "revert the pod resyncs.");
  }
  workload.Set("duration", D(duration),
               "covers the longest wait of every step; the run ends at the last step (end: true)");
  for (const auto& [k, v] : Obj(site, "workload").items()) workload.Set(k, O(v), "from the site file");
  for (const auto& [k, v] : Obj(site, "expect").items()) expect.Set(k, O(v), "from the site file");
  probes.Set("xapi", b.XapiProbe(),
             "the pool's state through event.from on the master; the other members (fallback_urls) are asked "
             "when it does not answer");
  (void)array_for_victim;

  header.push_back(victim_reason + ".");
  header.push_back(survivor_reason + ".");
  std::string penv =
      Str(inv.xapi(), "password_env").empty() ? "FB_XAPI_PASSWORD" : Str(inv.xapi(), "password_env");
  header.push_back(
      "Secrets come from the environment, never from this file: export " + penv + " (the XAPI password)" +
      (req.scenario == "host-power-loss" && !Obj(Obj(site, "injectors"), "host-power-loss").size()
           ? ", FB_IPMI_PASSWORD (the BMC's)"
           : "") +
      (req.scenario == "replication-cut" ? " and the arrays' API token variables named below" : "") + ".");

  std::string out = Header(req, header);
  out += "name: " + json(req.scenario + "-" + Str(inv.pool(), "name")).dump() + "\n";
  out += "description: " +
         json(req.scenario + " on pool " + Str(inv.pool(), "name") + ": " + vhost + " (victim " +
              Str(V, "name") + "), load in " + Str(V, "name") + " and " + Str(S, "name"))
             .dump() +
         "\n";
  EmitSection(&out, "workload", workload);
  EmitSection(&out, "agent_defaults", agent_defaults);
  EmitList(
      &out, "agents", {{*va, victim_reason}, {*sa, survivor_reason}},
      "The load runs in the VMs (faultbench agents over ssh); they need the agent installed and its unit "
      "enabled (agent/README.md).");
  if (!platform.values.empty()) EmitSection(&out, "platform", platform);
  EmitSection(&out, "injectors", injectors);
  EmitSection(&out, "probes", probes);
  EmitList(&out, "steps", steps);
  EmitSection(&out, "expect", expect, "Over every agent's records.");
  return out;
}

}  // namespace fb
