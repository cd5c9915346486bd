#include "probes/rule_packs.h"

#include <map>

namespace fb {

namespace {

struct PackLine {
  const char* pattern;
  const char* kind;
  Severity severity;
  std::vector<std::string> fields;
  nlohmann::json extra = nlohmann::json::object();
};

// Map names are "[^\s:]+" so that a syslog prefix ("multipathd[123]: ") is never taken
// for one. 0.4.9 names a path by dev_t where upstream names it by device.
const std::vector<PackLine>& Multipathd() {
  static const std::vector<PackLine> k = {
      {R"(([^\s:]+): (\S+) - (\S+) checker reports path is down)",
       "path_failed",
       Severity::kWarning,
       {"map", "device", "checker"}},
      {R"(([^\s:]+): (\S+) - (\S+) checker reports path is up)",
       "path_reinstated",
       Severity::kInfo,
       {"map", "device", "checker"}},
      {R"(checker failed path (\d+:\d+) in map ([^\s:]+))",
       "path_failed",
       Severity::kWarning,
       {"dev_t", "map"}},
      {R"(([^\s:]+): remaining active paths: (0)\b)",
       "all_paths_down",
       Severity::kCritical,
       {"map", "remaining"}},
      {R"(([^\s:]+): remaining active paths: (\d+))",
       "paths_remaining",
       Severity::kInfo,
       {"map", "remaining"}},
      {R"((\d+:\d+): reinstated)", "path_reinstated", Severity::kInfo, {"dev_t"}},
      {R"((\d+:\d+): reinstate failed)", "reinstate_failed", Severity::kWarning, {"dev_t"}},
      {R"((\d+:\d+): mark as failed)", "path_failed", Severity::kWarning, {"dev_t"}},
      {R"(\b(sd[a-z]+): mark as failed)", "path_failed", Severity::kWarning, {"device"}},
      {R"(([^\s:]+): Entering recovery mode: max_retries=(\d+))",
       "queueing_recovery",
       Severity::kWarning,
       {"map", "max_retries"}},
      {R"(([^\s:]+): Disable queueing)", "queueing_disabled", Severity::kWarning, {"map"}},
      {R"(([^\s:]+): queue_if_no_path enabled)", "queueing_enabled", Severity::kInfo, {"map"}},
      {R"(([^\s:]+): Recovered to normal mode)", "queueing_recovered", Severity::kInfo, {"map"}},
      {R"(([^\s:]+): fail path (\d+:\d+) \(operator\))",
       "path_failed",
       Severity::kWarning,
       {"map", "dev_t"},
       {{"by", "operator"}}},
      {R"(([^\s:]+): reinstate path (\d+:\d+) \(operator\))",
       "path_reinstated",
       Severity::kInfo,
       {"map", "dev_t"},
       {{"by", "operator"}}},
  };
  return k;
}

// open-iscsi's kernel lines (also in the kernel pack).
const std::vector<PackLine>& IscsiKernel() {
  static const std::vector<PackLine> k = {
      {R"(\bconnection(\d+):(\d+): detected conn error \((\d+)\))",
       "session_lost",
       Severity::kWarning,
       {"session", "connection", "error_code"}},
      {R"(\bsession(\d+): session recovery timed out after (\d+) secs)",
       "session_timeout",
       Severity::kError,
       {"session", "timeout_s"}},
      {R"(\bsd (\d+:\d+:\d+:\d+): rejecting I/O to offline device)",
       "device_offline",
       Severity::kError,
       {"hcil"}},
  };
  return k;
}

const std::vector<PackLine>& Iscsid() {
  static const std::vector<PackLine> k = {
      {R"(Kernel reported iSCSI connection (\d+):(\d+) error \((\d+) - ([A-Z_]+): ([^)]*)\) state \((\d+)\))",
       "session_lost",
       Severity::kWarning,
       {"session", "connection", "error_code", "error_name", "error_text", "state"}},
      {R"(\bconnect to (\S+):(\d+) failed \(([^)]*)\))",
       "connect_failed",
       Severity::kWarning,
       {"address", "port", "error"}},
      {R"(\bconnection(\d+):(\d+) is operational after recovery \((\d+) attempts\))",
       "session_restored",
       Severity::kInfo,
       {"session", "connection", "attempts"}},
      {R"(Logout of \[sid: (\d+), target: (\S+), portal: ([^,\]]+),(\d+)\] successful\.)",
       "session_lost",
       Severity::kInfo,
       {"session", "target", "portal", "port"},
       {{"by", "iscsiadm"}}},
      {R"(Login to \[iface: ([^,]+), target: (\S+), portal: ([^,\]]+),(\d+)\] successful\.)",
       "session_restored",
       Severity::kInfo,
       {"iface", "target", "portal", "port"},
       {{"by", "iscsiadm"}}},
  };
  return k;
}

// device-mapper's pair, in both forms: with the map's dev_t (newer kernels,
// "multipath: 254:0: Failing path 8:16.") and without it (older ones,
// "multipath: Failing path 8:16."); `map` is set only when the line has it.
const std::vector<PackLine>& KernelOwn() {
  static const std::vector<PackLine> k = {
      {R"(device-mapper: multipath[^:]*: (?:(\d+:\d+): )?Failing path (\d+:\d+)\.)",
       "path_failed",
       Severity::kWarning,
       {"map", "dev_t"}},
      {R"(device-mapper: multipath[^:]*: (?:(\d+:\d+): )?Reinstating path (\d+:\d+)\.)",
       "path_reinstated",
       Severity::kInfo,
       {"map", "dev_t"}},
  };
  return k;
}

// xensource.log HA lines and the Xen watchdog line of xen.log.
const std::vector<PackLine>& Xapi() {
  static const std::vector<PackLine> k = {
      {R"(\(XEN\) Watchdog timer fired for domain (\d+))",
       "host_fenced",
       Severity::kCritical,
       {"domain"},
       {{"by", "xen_watchdog"}}},
      {R"(This node will become the master)", "master_changed", Severity::kWarning, {}, {{"master", "self"}}},
      {R"(ha_propose_master succeeded)", "ha_master_proposed", Severity::kInfo, {}},
      {R"(Liveset looks different; assuming we need to rerun the planner)",
       "ha_liveset_changed",
       Severity::kWarning,
       {}},
      {R"(Setting host (.+) to dead)", "host_down", Severity::kError, {"host"}},
      {R"(restart_auto_run_vms called)", "ha_restart_vms", Severity::kInfo, {}},
  };
  return k;
}

const std::map<std::string, std::vector<const std::vector<PackLine>*>>& Packs() {
  static const std::map<std::string, std::vector<const std::vector<PackLine>*>> k = {
      {"multipathd", {&Multipathd()}},
      {"iscsi", {&Iscsid(), &IscsiKernel()}},
      {"kernel", {&KernelOwn(), &IscsiKernel()}},
      {"xapi", {&Xapi()}},
  };
  return k;
}

}  // namespace

std::vector<std::string> RulePackNames() {
  std::vector<std::string> names;
  for (const auto& [name, parts] : Packs()) names.push_back(name);
  return names;
}

Result<std::vector<LogRule>> RulePack(const std::string& name) {
  auto it = Packs().find(name);
  if (it == Packs().end()) {
    std::string known;
    for (const std::string& n : RulePackNames()) known += (known.empty() ? "" : ", ") + n;
    return Status::InvalidInput("unknown rule pack \"" + name + "\" (" + known + ")");
  }
  std::vector<LogRule> rules;
  for (const auto* part : it->second) {
    for (const PackLine& l : *part) {
      LogRule r;
      r.pattern = l.pattern;
      r.re = std::regex(r.pattern, std::regex::ECMAScript);
      r.kind = l.kind;
      r.severity = l.severity;
      r.fields = l.fields;
      r.extra = l.extra;
      r.pack = name;
      rules.push_back(std::move(r));
    }
  }
  return rules;
}

void AddRuleFields(const LogRule& rule, const std::smatch& m, nlohmann::json* attrs) {
  static const std::map<std::string, std::string> kIscsiErrors = {{"1011", "ISCSI_ERR_CONN_FAILED"},
                                                                  {"1019", "ISCSI_ERR_XMIT_FAILED"},
                                                                  {"1020", "ISCSI_ERR_TCP_CONN_CLOSE"},
                                                                  {"1021", "ISCSI_ERR_SCSI_EH_SESSION_RST"},
                                                                  {"1022", "ISCSI_ERR_NOP_TIMEDOUT"}};
  for (size_t i = 0; i < rule.fields.size() && i + 1 < m.size(); ++i) {
    if (!rule.fields[i].empty() && m[i + 1].matched) (*attrs)[rule.fields[i]] = m[i + 1].str();
  }
  for (const auto& [k, v] : rule.extra.items()) (*attrs)[k] = v;
  if (attrs->contains("error_code") && !attrs->contains("error_name")) {
    auto it = kIscsiErrors.find((*attrs)["error_code"].get<std::string>());
    if (it != kIscsiErrors.end()) (*attrs)["error_name"] = it->second;
  }
  if (!rule.pack.empty()) (*attrs)["pack"] = rule.pack;
}

namespace {

Result<Severity> ParseSeverity(const std::string& s) {
  if (s == "debug") return Severity::kDebug;
  if (s == "info") return Severity::kInfo;
  if (s == "warning") return Severity::kWarning;
  if (s == "error") return Severity::kError;
  if (s == "critical") return Severity::kCritical;
  return Status::InvalidInput("unknown severity \"" + s + "\" (debug, info, warning, error, critical)");
}

}  // namespace

std::string ExpandMessage(const std::string& tmpl, const std::smatch& m, const std::string& line) {
  std::string out;
  for (size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] == '$' && tmpl.compare(i, 5, "$line") == 0) {
      out += line;
      i += 4;
    } else if (tmpl[i] == '$' && i + 1 < tmpl.size() && tmpl[i + 1] >= '0' && tmpl[i + 1] <= '9') {
      size_t g = size_t(tmpl[i + 1] - '0');
      if (g < m.size()) out += m[g].str();
      ++i;
    } else {
      out += tmpl[i];
    }
  }
  return out;
}

std::vector<LogRule> ParseLogRules(Settings* s) {
  std::vector<LogRule> rules;
  if (const nlohmann::json* list = s->List("rules")) {
    for (size_t i = 0; i < list->size(); ++i) {
      const nlohmann::json& r = (*list)[i];
      std::string key = "rules[" + std::to_string(i) + "]";
      if (r.is_string()) {
        auto pack = RulePack(r.get<std::string>());
        if (!pack.ok())
          s->Problem(key, pack.status().message());
        else
          for (LogRule& pr : *pack) rules.push_back(std::move(pr));
        continue;
      }
      if (!r.is_object()) {
        s->Problem(key, "a rule must be a pack name or a map {match, kind, severity, message}");
        continue;
      }
      LogRule rule;
      for (const auto& [k, v] : r.items()) {
        if (!v.is_string()) {
          s->Problem(key + "." + k, "must be a single value");
          continue;
        }
        std::string text = v.get<std::string>();
        if (k == "match")
          rule.pattern = text;
        else if (k == "kind")
          rule.kind = text;
        else if (k == "message")
          rule.message = text;
        else if (k == "severity") {
          auto sev = ParseSeverity(text);
          if (sev.ok())
            rule.severity = *sev;
          else
            s->Problem(key + ".severity", sev.status().message());
        } else {
          s->Problem(key + "." + k, "unknown rule key \"" + k + "\"" +
                                        DidYouMean(k, {"match", "kind", "severity", "message"}));
        }
      }
      if (rule.pattern.empty()) {
        s->Problem(key, "a rule needs \"match\"");
        continue;
      }
      if (rule.kind.empty()) rule.kind = "log";
      try {
        rule.re = std::regex(rule.pattern, std::regex::ECMAScript);
      } catch (const std::regex_error& e) {
        s->Problem(key + ".match", "invalid regular expression \"" + rule.pattern + "\": " + e.what());
        continue;
      }
      rules.push_back(std::move(rule));
    }
  }
  return rules;
}

}  // namespace fb
