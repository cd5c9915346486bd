// agents: and agent_defaults: of a plan (plan.h: AgentSpec). Each agent's keys
// are merged over agent_defaults (the workload maps key by key), then its
// `start` workload is built (plan workload: + agent workload: + target + share)
// and checked as the agent will check it, so a plan the loader accepts is not
// refused by an agent for its workload.
#include <algorithm>
#include <cctype>
#include <cmath>

#include "agent/agent_token.h"
#include "agent/workload_json.h"
#include "core/clock.h"
#include "core/units.h"
#include "plans/plan_parser.h"

namespace fb {

namespace {

const std::vector<std::string> kAgentKeys = {
    "name",   "host",     "user",  "ssh_port",    "identity_file", "known_hosts", "command",    "state_dir",
    "target", "workload", "share", "clock_every", "transport",     "port",        "token_file", "token"};

// A plan's scalars are strings; the agent's workload JSON wants numbers and
// booleans where the plan had them (agent/workload_json.h).
nlohmann::json Typed(const nlohmann::json& j) {
  if (j.is_object() || j.is_array()) {
    nlohmann::json out = j.is_object() ? nlohmann::json::object() : nlohmann::json::array();
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (j.is_object())
        out[it.key()] = Typed(it.value());
      else
        out.push_back(Typed(it.value()));
    }
    return out;
  }
  if (!j.is_string()) return j;
  const std::string& s = j.get_ref<const std::string&>();
  if (s == "true" || s == "yes" || s == "on") return true;
  if (s == "false" || s == "no" || s == "off") return false;
  bool digits = !s.empty() && s.size() < 19 && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c));
  });
  if (digits) return std::stoll(s);
  char* end = nullptr;
  double v = strtod(s.c_str(), &end);
  if (!s.empty() && *end == '\0' && std::isfinite(v)) return v;
  return s;
}

bool ValidName(const std::string& n) {
  return !n.empty() && std::all_of(n.begin(), n.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

// One agent's merged keys with where each came from.
struct Merged {
  nlohmann::json keys = nlohmann::json::object();
  std::map<std::string, SourceLoc> locs;    // key path (as in AgentSpec::key_locs) -> where
  std::map<std::string, std::string> from;  // top key -> "agents[i]" or "agent_defaults"
};

}  // namespace

void PlanParser::ParseAgents(const YAML::Node& agents, const YAML::Node& defaults, const YAML::Node& workload,
                             Plan* plan) {
  std::vector<std::string> default_keys(kAgentKeys.begin() + 1, kAgentKeys.end());
  nlohmann::json dkeys = nlohmann::json::object();
  std::map<std::string, SourceLoc> dlocs;
  if (defaults.IsDefined() && CheckMap(defaults, "agent_defaults", default_keys)) {
    dkeys = ToJson(defaults, "agent_defaults", "", &dlocs);
  }
  if (!agents.IsDefined()) {
    if (defaults.IsDefined())
      Problem(defaults, "agent_defaults", "there are no agents: (a list of agents) to apply it to");
    return;
  }
  if (!agents.IsSequence() || agents.size() == 0) {
    Problem(agents, "agents", "must be a list of agents (- name: ..., host: ...)");
    return;
  }
  if (workload.IsDefined() && workload.IsMap()) {
    std::map<std::string, SourceLoc> ignored;
    plan->workload_keys = ToJson(workload, "workload", "", &ignored);
  }
  std::vector<std::string> reserved = {"local", "runner", "loadgen", "guard", "metrics"};
  for (const auto& p : plan->probes) reserved.push_back(p.name);
  for (const auto& i : plan->injectors) reserved.push_back(i.name);
  double shares = 0;
  for (size_t i = 0; i < agents.size(); ++i) {
    const std::string path = "agents[" + std::to_string(i) + "]";
    const YAML::Node& n = agents[i];
    if (!CheckMap(n, path, kAgentKeys)) continue;
    Merged m;
    std::map<std::string, SourceLoc> locs;
    nlohmann::json own = ToJson(n, path, "", &locs);
    for (const auto& [k, v] : dkeys.items()) {
      m.keys[k] = v;
      m.from[k] = "agent_defaults";
    }
    m.locs = dlocs;
    for (const auto& [k, v] : own.items()) {
      if (k == "workload" && v.is_object() && m.keys.contains("workload") && m.keys["workload"].is_object()) {
        for (const auto& [wk, wv] : v.items()) m.keys["workload"][wk] = wv;
        m.from[k] = path;
      } else {
        m.keys[k] = v;
        m.from[k] = path;
      }
    }
    for (const auto& [k, loc] : locs) m.locs[k] = loc;
    auto loc = [&](const std::string& key) {
      auto it = m.locs.find(key);
      return it != m.locs.end() ? it->second : Loc(n, path);
    };
    auto at = [&](const std::string& key) {
      std::string top = key.substr(0, key.find_first_of(".["));
      auto it = m.from.find(top);
      return JoinPath(it != m.from.end() ? it->second : path, key);
    };
    auto scalar = [&](const std::string& key) -> std::optional<std::string> {
      if (!m.keys.contains(key)) return std::nullopt;
      if (!m.keys[key].is_string()) {
        Problem(loc(key), at(key), "must be a single value");
        return std::nullopt;
      }
      return m.keys[key].get<std::string>();
    };

    AgentSpec a;
    a.loc = Loc(n, path);
    a.key_locs = m.locs;
    if (auto s = scalar("name")) {
      a.name = *s;
      if (!ValidName(a.name)) {
        Problem(loc("name"), at("name"), "\"" + a.name + "\": use letters, digits, '-', '_' and '.'");
      } else if (std::find(reserved.begin(), reserved.end(), a.name) != reserved.end()) {
        Problem(loc("name"), at("name"),
                "\"" + a.name + "\" is taken (local, runner, loadgen, or a probe or injector of the plan)");
      }
      for (const auto& other : plan->agents) {
        if (other.name == a.name) {
          Problem(loc("name"), at("name"),
                  "a second agent named \"" + a.name + "\" (first at " + other.loc.ToString() + ")");
        }
      }
    } else if (!m.keys.contains("name")) {
      Problem(n, path, "needs a name");
    }
    if (auto s = scalar("transport")) {
      if (*s != "ssh" && *s != "tcp")
        Problem(loc("transport"), at("transport"), "must be ssh or tcp, got \"" + *s + "\"");
      else
        a.transport = *s;
    }
    const bool tcp = a.transport == "tcp";
    if (m.keys.contains("token")) {
      Problem(loc("token"), at("token"),
              "a token is never written in a plan: give token_file (a file only its owner can read)");
    }
    if (!tcp) {
      for (const char* k : {"port", "token_file"}) {
        if (m.keys.contains(k)) Problem(loc(k), at(k), "goes with transport: tcp");
      }
    } else {
      // ssh's keys from agent_defaults are for the ssh agents; written in this
      // agent itself they are a mistake.
      for (const char* k : {"user", "ssh_port", "identity_file", "known_hosts", "command", "state_dir"}) {
        if (m.keys.contains(k) && m.from[k] == path)
          Problem(loc(k), at(k), "is for transport: ssh (a tcp agent's listener has its own)");
      }
      if (auto s = scalar("port")) {
        bool digits =
            !s->empty() && s->size() <= 5 && s->find_first_not_of("0123456789") == std::string::npos;
        if (!digits || std::stoi(*s) < 1 || std::stoi(*s) > 65535)
          Problem(loc("port"), at("port"), "must be a port number 1..65535, got \"" + *s + "\"");
        else
          a.port = std::stoi(*s);
      } else if (!m.keys.contains("port")) {
        Problem(n, path, "transport: tcp needs a port (where `faultbench agent --listen` listens)");
      }
      if (auto s = scalar("token_file")) {
        // Read now, as the run will at connect: a plan the loader accepts is
        // not refused for its token file.
        auto t = ReadAgentToken(*s);
        if (!t.ok())
          Problem(loc("token_file"), at("token_file"), t.status().message());
        else
          a.token_file = *s;
      } else if (!m.keys.contains("token_file")) {
        Problem(n, path, "transport: tcp needs a token_file (the listener's --token-file)");
      }
    }
    if (!m.keys.contains("host"))
      Problem(
          n, path,
          tcp ? "needs a host (where the agent listens)" : "needs a host (where `ssh` reaches the agent)");
    for (const char* k : {"host", "user", "ssh_port", "identity_file", "known_hosts"}) {
      if (tcp && std::string(k) != "host") continue;
      if (auto s = scalar(k)) a.ssh[k] = *s;
    }
    if (a.ssh.contains("ssh_port")) {
      std::string port = a.ssh["ssh_port"];
      bool digits =
          !port.empty() && port.size() <= 5 && port.find_first_not_of("0123456789") == std::string::npos;
      if (!digits || std::stoi(port) < 1 || std::stoi(port) > 65535) {
        Problem(loc("ssh_port"), at("ssh_port"), "must be a port number 1..65535, got \"" + port + "\"");
      }
    }
    if (auto s = tcp ? std::nullopt : scalar("command")) {
      if (s->find_first_not_of(' ') == std::string::npos)
        Problem(loc("command"), at("command"), "is empty");
      else
        a.command = *s;
    }
    if (auto s = tcp ? std::nullopt : scalar("state_dir")) a.state_dir = *s;
    if (m.keys.contains("target"))
      a.target = m.keys["target"];
    else
      Problem(n, path, "needs a target (the path of the agent's disk or file, as a plan's target:)");
    if (m.keys.contains("workload")) {
      const nlohmann::json& w = m.keys["workload"];
      if (!w.is_object()) {
        Problem(loc("workload"), at("workload"), "must be a map of workload: keys");
      } else {
        for (const auto& [k, v] : w.items()) {
          if (std::find(WorkloadKeys().begin(), WorkloadKeys().end(), k) == WorkloadKeys().end()) {
            Problem(loc("workload." + k), at("workload." + k),
                    "unknown key \"" + k + "\"" + DidYouMean(k, WorkloadKeys()));
          }
        }
        a.workload = w;
      }
    }
    if (!workload.IsDefined() && a.workload.empty()) {
      Problem(n, path, "has no workload: give the plan a workload: or this agent (or agent_defaults) one");
    }
    if (auto s = scalar("share")) {
      char* end = nullptr;
      double v = strtod(s->c_str(), &end);
      if (s->empty() || *end != '\0' || !(v > 0) || v > 1) {
        Problem(loc("share"), at("share"),
                "must be a number in (0, 1] (a share of workload.rate_iops), got \"" + *s + "\"");
      } else if (a.workload.contains("rate_iops")) {
        Problem(loc("share"), at("share"), "use either share or workload.rate_iops");
      } else if (!(plan->workload.rate_iops > 0)) {
        Problem(loc("share"), at("share"), "a share of workload.rate_iops, which is not set (unlimited)");
      } else {
        a.share = v;
        shares += v;
        if (shares > 1 + 1e-9) {
          Problem(loc("share"), at("share"),
                  "the agents' shares of workload.rate_iops add up to " +
                      std::to_string(shares).substr(0, 5) + ", more than 1");
        }
      }
    }
    if (auto s = scalar("clock_every")) {
      auto d = ParseDuration(*s);
      if (!d.ok())
        Problem(loc("clock_every"), at("clock_every"), d.status().message());
      else if (*d < 100 * kNsPerMs)
        Problem(loc("clock_every"), at("clock_every"), "must be at least 100ms");
      else
        a.clock_every_ns = *d;
    }
    // The workload its `start` carries, checked as the agent checks it.
    nlohmann::json sw = plan->workload_keys;
    for (const auto& [k, v] : a.workload.items()) sw[k] = v;
    sw = Typed(sw);
    if (!a.target.is_null()) sw["target"] = Typed(a.target);
    if (a.share > 0) sw["rate_iops"] = a.share * plan->workload.rate_iops;
    a.start_workload = sw;
    if (!a.target.is_null()) {
      auto wl = WorkloadFromJson(sw);
      if (wl.ok()) {
        a.duration_ns = wl->duration_ns;
      } else {
        // "workload.bs: ..." -> at that key when this agent (or the defaults) wrote it.
        std::string msg = wl.status().message();
        std::string key = msg.substr(0, msg.find(':'));
        std::string rel = key.rfind("workload.target", 0) == 0 ? key.substr(9) : key;
        SourceLoc where = m.locs.count(rel) ? m.locs[rel] : a.loc;
        Problem(where, path, "its workload: " + msg);
      }
    }
    plan->agents.push_back(std::move(a));
  }
}

int64_t Plan::RunDurationNs() const {
  int64_t d = has_local_load() || agents.empty() ? workload.duration_ns : 0;
  for (const auto& a : agents) d = std::max(d, a.duration_ns);
  return d;
}

}  // namespace fb
