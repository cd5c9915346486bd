// Writes a Plan back as YAML in canonical form (plan_loader.h: WritePlan).
#include <yaml-cpp/yaml.h>

#include <cstdio>

#include "core/clock.h"
#include "plans/plan_loader.h"

namespace fb {

namespace {

// Exact forms that ParseSize / ParseDuration read back to the same value.
std::string ExactSize(uint64_t bytes) {
  struct U {
    uint64_t f;
    const char* n;
  };
  for (U u : {U{1ull << 40, "TiB"}, U{1ull << 30, "GiB"}, U{1ull << 20, "MiB"}, U{1ull << 10, "KiB"}}) {
    if (bytes && bytes % u.f == 0) return std::to_string(bytes / u.f) + u.n;
  }
  return std::to_string(bytes);
}

std::string ExactDuration(int64_t ns) {
  if (ns == 0) return "0s";
  if (ns % kNsPerSec == 0) return std::to_string(ns / kNsPerSec) + "s";
  if (ns % kNsPerMs == 0) return std::to_string(ns / kNsPerMs) + "ms";
  if (ns % kNsPerUs == 0) return std::to_string(ns / kNsPerUs) + "us";
  return std::to_string(ns) + "ns";
}

std::string Num(double v) {
  char buf[64];
  snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

std::string Pct(double fraction) { return Num(fraction * 100) + "%"; }

void EmitJson(YAML::Emitter& out, const nlohmann::json& j, bool redact_secrets) {
  if (j.is_object()) {
    out << YAML::BeginMap;
    for (const auto& [k, v] : j.items()) {
      out << YAML::Key << k << YAML::Value;
      if (redact_secrets && IsSecretKey(k) && !IsSecretReference(k))
        out << "<redacted>";
      else
        EmitJson(out, v, redact_secrets);
    }
    out << YAML::EndMap;
  } else if (j.is_array()) {
    out << YAML::BeginSeq;
    for (const auto& v : j) EmitJson(out, v, redact_secrets);
    out << YAML::EndSeq;
  } else if (j.is_string()) {
    out << YAML::DoubleQuoted << j.get<std::string>();
  } else if (j.is_null()) {
    out << YAML::Null;
  } else {
    out << j.dump();
  }
}

void EmitLimits(YAML::Emitter& out, const Limits& l) {
  out << YAML::BeginMap;
  if (l.max_stall_ns) out << YAML::Key << "max_stall" << YAML::Value << ExactDuration(*l.max_stall_ns);
  if (l.max_latency_ns) out << YAML::Key << "max_latency" << YAML::Value << ExactDuration(*l.max_latency_ns);
  if (l.io_errors) out << YAML::Key << "io_errors" << YAML::Value << *l.io_errors;
  if (l.lost_writes) out << YAML::Key << "lost_writes" << YAML::Value << *l.lost_writes;
  if (l.max_pause_ns) out << YAML::Key << "max_pause" << YAML::Value << ExactDuration(*l.max_pause_ns);
  if (l.all_vms_moved) out << YAML::Key << "all_vms_moved" << YAML::Value << *l.all_vms_moved;
  if (l.recovery) {
    out << YAML::Key << "recovery" << YAML::Value << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "to" << YAML::Value << Pct(l.recovery->to_fraction) + " of baseline";
    out << YAML::Key << "within" << YAML::Value << ExactDuration(l.recovery->within_ns);
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
}

void EmitPlugins(YAML::Emitter& out, const char* section, const std::vector<PluginSpec>& specs) {
  if (specs.empty()) return;
  out << YAML::Key << section << YAML::Value << YAML::BeginMap;
  for (const auto& s : specs) {
    nlohmann::json all = nlohmann::json::object();
    all["kind"] = s.kind;
    for (const auto& [k, v] : s.settings.items()) all[k] = v;
    out << YAML::Key << s.name << YAML::Value;
    EmitJson(out, all, true);
  }
  out << YAML::EndMap;
}

// agent_defaults are merged in: each agent is written whole.
void EmitAgents(YAML::Emitter& out, const std::vector<AgentSpec>& agents) {
  out << YAML::Key << "agents" << YAML::Value << YAML::BeginSeq;
  for (const auto& a : agents) {
    nlohmann::json j = {{"name", a.name}};
    for (const auto& [k, v] : a.ssh.items()) j[k] = v;
    if (a.transport == "tcp") {
      j["transport"] = a.transport;
      j["port"] = std::to_string(a.port);
      j["token_file"] = a.token_file;  // the path; the token itself is never in a plan
    } else {
      j["command"] = a.command;
      if (!a.state_dir.empty()) j["state_dir"] = a.state_dir;
    }
    if (!a.target.is_null()) j["target"] = a.target;
    if (!a.workload.empty()) j["workload"] = a.workload;
    if (a.share > 0) j["share"] = Num(a.share);
    j["clock_every"] = ExactDuration(a.clock_every_ns);
    EmitJson(out, j, true);
  }
  out << YAML::EndSeq;
}

}  // namespace

std::string WritePlan(const Plan& plan) {
  YAML::Emitter out;
  const Workload& w = plan.workload;
  out << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << YAML::DoubleQuoted << plan.name;
  if (!plan.description.empty()) {
    out << YAML::Key << "description" << YAML::Value << YAML::DoubleQuoted << plan.description;
  }
  if (plan.has_local_load()) {
    out << YAML::Key << "target" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "paths" << YAML::Value << YAML::BeginSeq;
    for (const auto& t : w.targets) out << YAML::DoubleQuoted << t;
    out << YAML::EndSeq;
    if (w.create_size_bytes)
      out << YAML::Key << "create_size" << YAML::Value << ExactSize(w.create_size_bytes);
    out << YAML::EndMap;
  }
  if (!plan.agents.empty()) {
    // The agents' workloads are built over the plan's workload: keys as
    // written, so a plan with agents keeps them as written (not canonical).
    if (!plan.workload_keys.empty()) {
      out << YAML::Key << "workload" << YAML::Value;
      EmitJson(out, plan.workload_keys, true);
    }
    EmitAgents(out, plan.agents);
  }
  if (plan.agents.empty()) {
    out << YAML::Key << "workload" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "engine" << YAML::Value << w.engine;
    if (w.size_bytes) out << YAML::Key << "size" << YAML::Value << ExactSize(w.size_bytes);
    out << YAML::Key << "offset" << YAML::Value << ExactSize(w.offset_bytes);
    out << YAML::Key << "access_specs" << YAML::Value << YAML::BeginSeq;
    for (const auto& s : w.specs) {
      std::string spec = Num(s.weight) + ":" + ExactSize(s.block_size) + ":" + Num(s.read_fraction * 100) +
                         ":" + Num(s.random_fraction * 100);
      if (s.alignment) spec += ":" + ExactSize(s.alignment);
      out << spec;
    }
    out << YAML::EndSeq;
    out << YAML::Key << "jobs" << YAML::Value << w.jobs;
    out << YAML::Key << "queue_depth" << YAML::Value << w.queue_depth;
    out << YAML::Key << "duration" << YAML::Value << ExactDuration(w.duration_ns);
    out << YAML::Key << "ramp" << YAML::Value << ExactDuration(w.ramp_ns);
    out << YAML::Key << "rate_iops" << YAML::Value << Num(w.rate_iops);
    out << YAML::Key << "catch_up" << YAML::Value << w.rate_catch_up;
    out << YAML::Key << "interval" << YAML::Value << ExactDuration(w.interval_ns);
    out << YAML::Key << "stall_threshold" << YAML::Value << ExactDuration(w.stall_threshold_ns);
    out << YAML::Key << "stuck_threshold" << YAML::Value << ExactDuration(w.stuck_threshold_ns);
    out << YAML::Key << "dedupe" << YAML::Value << Pct(w.dedupe_fraction);
    out << YAML::Key << "compress" << YAML::Value << Pct(w.compress_fraction);
    out << YAML::Key << "max_errors" << YAML::Value << w.max_errors;
    out << YAML::Key << "direct" << YAML::Value << w.direct;
    out << YAML::Key << "allow_destroy" << YAML::Value << w.allow_destroy;
    if (w.seed) out << YAML::Key << "seed" << YAML::Value << w.seed;
    if (w.verify) {
      out << YAML::Key << "verify" << YAML::Value << true;
      if (w.verify_block_bytes)
        out << YAML::Key << "verify_block" << YAML::Value << ExactSize(w.verify_block_bytes);
      if (!w.ack_log.empty()) out << YAML::Key << "ack_log" << YAML::Value << w.ack_log;
    }
    if (w.engine == "libiscsi") {
      out << YAML::Key << "path_policy" << YAML::Value
          << (w.iscsi.path_policy == PathPolicy::kFailover ? "failover" : "round-robin");
      out << YAML::Key << "io_timeout" << YAML::Value << ExactDuration(w.iscsi.io_timeout_ns);
      out << YAML::Key << "checker_interval" << YAML::Value << ExactDuration(w.iscsi.checker_interval_ns);
      out << YAML::Key << "no_path_timeout" << YAML::Value << ExactDuration(w.iscsi.no_path_timeout_ns);
      if (w.iscsi.sessions_per_path != 1)
        out << YAML::Key << "sessions_per_path" << YAML::Value << w.iscsi.sessions_per_path;
    }
    out << YAML::EndMap;
  }

  EmitPlugins(out, "injectors", plan.injectors);
  EmitPlugins(out, "probes", plan.probes);

  if (!plan.steps.empty()) {
    out << YAML::Key << "steps" << YAML::Value << YAML::BeginSeq;
    for (const auto& s : plan.steps) {
      out << YAML::Flow << YAML::BeginMap;
      if (s.at_ns) out << YAML::Key << "at" << YAML::Value << ExactDuration(*s.at_ns);
      if (s.after_ns) out << YAML::Key << "after" << YAML::Value << ExactDuration(*s.after_ns);
      if (!s.phase.empty()) out << YAML::Key << "phase" << YAML::Value << YAML::DoubleQuoted << s.phase;
      switch (s.action) {
        case StepAction::kInject:
          out << YAML::Key << "inject" << YAML::Value << YAML::DoubleQuoted << s.injector;
          out << YAML::Key << "max_duration" << YAML::Value << ExactDuration(s.max_duration_ns);
          break;
        case StepAction::kRevert:
          out << YAML::Key << "revert" << YAML::Value << YAML::DoubleQuoted << s.injector;
          break;
        case StepAction::kMark:
          out << YAML::Key << "mark" << YAML::Value << YAML::DoubleQuoted << s.mark;
          break;
        case StepAction::kWaitFor:
          out << YAML::Key << "wait_for" << YAML::Value << YAML::BeginMap;
          out << YAML::Key << "kind" << YAML::Value << YAML::DoubleQuoted << s.wait_kind;
          if (!s.wait_source.empty())
            out << YAML::Key << "source" << YAML::Value << YAML::DoubleQuoted << s.wait_source;
          out << YAML::Key << "timeout" << YAML::Value << ExactDuration(s.wait_timeout_ns);
          out << YAML::EndMap;
          break;
        case StepAction::kEnd:
          out << YAML::Key << "end" << YAML::Value << true;
          break;
        case StepAction::kNone:
          break;
      }
      out << YAML::EndMap;
    }
    out << YAML::EndSeq;
  }
  if (plan.repeat > 1) {
    out << YAML::Key << "repeat" << YAML::Value << plan.repeat;
    out << YAML::Key << "repeat_every" << YAML::Value << ExactDuration(plan.repeat_every_ns);
  }
  if (!plan.platform.empty()) {
    out << YAML::Key << "platform" << YAML::Value;
    EmitJson(out, plan.platform, false);
  }
  if (!plan.metrics_listen.empty()) {
    out << YAML::Key << "metrics" << YAML::Value << YAML::BeginMap << YAML::Key << "listen" << YAML::Value
        << plan.metrics_listen;
    if (!plan.metrics_push.empty()) out << YAML::Key << "push" << YAML::Value << plan.metrics_push;
    out << YAML::EndMap;
  }
  out << YAML::Key << "on_error" << YAML::Value << (plan.on_error == OnError::kStop ? "stop" : "continue");
  const Expectations& e = plan.expect;
  if (!e.overall.empty() || !e.faults.empty() || !e.phases.empty()) {
    out << YAML::Key << "expect" << YAML::Value << YAML::BeginMap;
    if (e.overall.max_stall_ns)
      out << YAML::Key << "max_stall" << YAML::Value << ExactDuration(*e.overall.max_stall_ns);
    if (e.overall.max_latency_ns)
      out << YAML::Key << "max_latency" << YAML::Value << ExactDuration(*e.overall.max_latency_ns);
    if (e.overall.io_errors) out << YAML::Key << "io_errors" << YAML::Value << *e.overall.io_errors;
    if (e.overall.lost_writes) out << YAML::Key << "lost_writes" << YAML::Value << *e.overall.lost_writes;
    if (e.overall.recovery) {
      out << YAML::Key << "recovery" << YAML::Value << YAML::Flow << YAML::BeginMap;
      out << YAML::Key << "to" << YAML::Value << Pct(e.overall.recovery->to_fraction) + " of baseline";
      out << YAML::Key << "within" << YAML::Value << ExactDuration(e.overall.recovery->within_ns);
      out << YAML::EndMap;
    }
    for (const auto& [section, m] : {std::pair{"faults", &e.faults}, std::pair{"phases", &e.phases}}) {
      if (m->empty()) continue;
      out << YAML::Key << section << YAML::Value << YAML::BeginMap;
      for (const auto& [name, l] : *m) {
        out << YAML::Key << name << YAML::Value;
        EmitLimits(out, l);
      }
      out << YAML::EndMap;
    }
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace fb
