// The plan's timeline: steps and expectations, and the checks that need the whole
// plan (names resolve, faults revert in order and within their lease, the
// timeline fits in the load).
#include <algorithm>
#include <set>

#include "core/units.h"
#include "plans/plan_parser.h"

namespace fb {

namespace {
const std::vector<std::string> kStepKeys = {"at",   "after",    "phase", "inject",      "revert",
                                            "mark", "wait_for", "end",   "max_duration"};
}  // namespace

const char* StepActionName(StepAction a) {
  switch (a) {
    case StepAction::kNone:
      return "phase";
    case StepAction::kInject:
      return "inject";
    case StepAction::kRevert:
      return "revert";
    case StepAction::kMark:
      return "mark";
    case StepAction::kWaitFor:
      return "wait_for";
    case StepAction::kEnd:
      return "end";
  }
  return "?";
}

void PlanParser::ParseSteps(const YAML::Node& node, Plan* plan) {
  if (!node.IsSequence()) {
    Problem(node, "steps", "must be a list of steps (- at: 30s ...)");
    return;
  }
  for (size_t i = 0; i < node.size(); ++i) {
    const YAML::Node& n = node[i];
    std::string path = "steps[" + std::to_string(i) + "]";
    Step step;
    step.loc = Loc(n, path);
    if (!CheckMap(n, path, kStepKeys)) continue;
    for (const auto& kv : n) {
      if (kv.first.IsScalar())
        step.key_locs[kv.first.Scalar()] = Loc(kv.first, JoinPath(path, kv.first.Scalar()));
    }
    if (n["at"] && n["after"]) Problem(n["after"], JoinPath(path, "after"), "use either \"at\" or \"after\"");
    if (n["at"])
      step.at_ns = Duration(n["at"], JoinPath(path, "at"));
    else if (n["after"])
      step.after_ns = Duration(n["after"], JoinPath(path, "after"));
    else
      Problem(n, path,
              "needs a time: \"at: 30s\" (from load start) or \"after: 5s\" (after the previous step)");
    if (i == 0 && n["after"])
      Problem(n["after"], JoinPath(path, "after"), "the first step has no previous step; use \"at\"");
    if (n["phase"]) {
      if (auto s = Scalar(n["phase"], JoinPath(path, "phase"))) step.phase = *s;
    }
    std::vector<std::string> actions;
    for (const char* a : {"inject", "revert", "mark", "wait_for", "end"}) {
      if (n[a]) actions.push_back(a);
    }
    if (actions.size() > 1) {
      Problem(n, path, "one action per step, got " + actions[0] + " and " + actions[1]);
    } else if (actions.empty() && step.phase.empty()) {
      Problem(n, path, "does nothing: give it inject, revert, mark, wait_for, end or phase");
    }
    if (n["inject"]) {
      step.action = StepAction::kInject;
      if (auto s = Scalar(n["inject"], JoinPath(path, "inject"))) step.injector = *s;
      if (n["max_duration"]) {
        if (auto d = Duration(n["max_duration"], JoinPath(path, "max_duration"))) step.max_duration_ns = *d;
      } else {
        Problem(n["inject"], JoinPath(path, "inject"),
                "needs \"max_duration\": the fault's lease, after which it is reverted whatever happens");
      }
    } else if (n["max_duration"]) {
      Problem(n["max_duration"], JoinPath(path, "max_duration"), "only an inject step has a lease");
    }
    if (n["revert"]) {
      step.action = StepAction::kRevert;
      if (auto s = Scalar(n["revert"], JoinPath(path, "revert"))) step.injector = *s;
    }
    if (n["mark"]) {
      step.action = StepAction::kMark;
      if (auto s = Scalar(n["mark"], JoinPath(path, "mark"))) step.mark = *s;
    }
    if (n["end"]) {
      step.action = StepAction::kEnd;
      if (!n["end"].IsNull()) {
        auto b = Bool(n["end"], JoinPath(path, "end"));
        if (b && !*b) Problem(n["end"], JoinPath(path, "end"), "write \"end: true\" or leave the step out");
      }
    }
    if (n["wait_for"]) {
      step.action = StepAction::kWaitFor;
      const YAML::Node& w = n["wait_for"];
      std::string wp = JoinPath(path, "wait_for");
      if (CheckMap(w, wp, {"kind", "source", "timeout"})) {
        if (w["kind"]) {
          if (auto s = Scalar(w["kind"], wp + ".kind")) step.wait_kind = *s;
        } else {
          Problem(w, wp, "needs \"kind\": the event kind to wait for");
        }
        if (w["source"]) {
          if (auto s = Scalar(w["source"], wp + ".source")) {
            step.wait_source = *s;
            step.key_locs["wait_for.source"] = Loc(w["source"], wp + ".source");
          }
        }
        if (w["timeout"]) {
          if (auto d = Duration(w["timeout"], wp + ".timeout")) step.wait_timeout_ns = *d;
        } else {
          Problem(w, wp, "needs \"timeout\": every wait is bounded");
        }
      }
    }
    plan->steps.push_back(std::move(step));
  }
}

std::optional<Limits> PlanParser::ParseLimits(const YAML::Node& node, const std::string& path,
                                              bool allow_recovery) {
  std::vector<std::string> keys = {"max_stall", "max_latency", "io_errors", "lost_writes"};
  if (allow_recovery) keys.insert(keys.end(), {"recovery", "max_pause", "all_vms_moved"});
  if (!CheckMap(node, path, keys)) return std::nullopt;
  Limits l;
  if (node["max_stall"]) l.max_stall_ns = Duration(node["max_stall"], JoinPath(path, "max_stall"));
  if (node["max_latency"]) l.max_latency_ns = Duration(node["max_latency"], JoinPath(path, "max_latency"));
  if (node["io_errors"]) {
    if (auto v = Integer(node["io_errors"], JoinPath(path, "io_errors"), 0, INT64_MAX / 2))
      l.io_errors = uint64_t(*v);
  }
  if (node["lost_writes"]) {
    if (auto v = Integer(node["lost_writes"], JoinPath(path, "lost_writes"), 0, INT64_MAX / 2))
      l.lost_writes = uint64_t(*v);
  }
  if (allow_recovery && node["max_pause"]) l.max_pause_ns = Duration(node["max_pause"], JoinPath(path, "max_pause"));
  if (allow_recovery && node["all_vms_moved"]) {
    auto s = Scalar(node["all_vms_moved"], JoinPath(path, "all_vms_moved"));
    if (s && (*s == "true" || *s == "false"))
      l.all_vms_moved = *s == "true";
    else if (s)
      Problem(node["all_vms_moved"], JoinPath(path, "all_vms_moved"), "must be true or false");
  }
  if (allow_recovery && node["recovery"]) {
    const YAML::Node& r = node["recovery"];
    std::string rp = JoinPath(path, "recovery");
    if (CheckMap(r, rp, {"to", "within"})) {
      Recovery rec;
      bool ok = true;
      if (r["to"]) {
        // "90%" or "90% of baseline"
        auto s = Scalar(r["to"], rp + ".to");
        std::string text = s.value_or("");
        const std::string suffix = " of baseline";
        if (text.size() > suffix.size() &&
            text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0) {
          text.resize(text.size() - suffix.size());
        }
        auto pct = ParsePercent(text);
        if (s && !pct.ok())
          Problem(r["to"], rp + ".to", pct.status().message() + " (write e.g. \"90% of baseline\")");
        if (pct.ok()) rec.to_fraction = *pct;
        ok = ok && s && pct.ok();
      } else {
        Problem(r, rp, "needs \"to\" (e.g. 90% of baseline)");
        ok = false;
      }
      if (r["within"]) {
        auto d = Duration(r["within"], rp + ".within");
        if (d) rec.within_ns = *d;
        ok = ok && d;
      } else {
        Problem(r, rp, "needs \"within\" (e.g. 30s after the revert)");
        ok = false;
      }
      if (ok) l.recovery = rec;
    }
  }
  return l;
}

void PlanParser::ParseExpect(const YAML::Node& node, Plan* plan) {
  if (!CheckMap(node, "expect",
                {"max_stall", "max_latency", "io_errors", "lost_writes", "recovery", "faults", "phases"}))
    return;
  YAML::Node overall(YAML::NodeType::Map);
  for (const char* k : {"max_stall", "max_latency", "io_errors", "lost_writes", "recovery"}) {
    if (node[k]) overall[k] = node[k];
  }
  if (auto l = ParseLimits(overall, "expect", true)) plan->expect.overall = *l;
  for (const char* section : {"faults", "phases"}) {
    if (!node[section]) continue;
    const YAML::Node& m = node[section];
    std::string sp = std::string("expect.") + section;
    if (!m.IsMap()) {
      Problem(
          m, sp,
          std::string("must be a map of ") + (section[0] == 'f' ? "injector" : "phase") + " name: limits");
      continue;
    }
    for (const auto& kv : m) {
      std::string name = kv.first.IsScalar() ? kv.first.Scalar() : "";
      std::string path = JoinPath(sp, name);
      auto l = ParseLimits(kv.second, path, section[0] == 'f');
      if (!l) continue;
      if (section[0] == 'f') {
        bool injected = std::any_of(plan->steps.begin(), plan->steps.end(), [&](const Step& s) {
          return s.action == StepAction::kInject && s.injector == name;
        });
        if (!injected) {
          std::vector<std::string> names;
          for (const auto& i : plan->injectors) names.push_back(i.name);
          Problem(kv.first, path, "no step injects \"" + name + "\"" + DidYouMean(name, names));
        }
        plan->expect.faults[name] = *l;
      } else {
        bool exists = std::any_of(plan->steps.begin(), plan->steps.end(),
                                  [&](const Step& s) { return s.phase == name; });
        if (!exists) {
          std::vector<std::string> names;
          for (const auto& s : plan->steps) {
            if (!s.phase.empty()) names.push_back(s.phase);
          }
          Problem(kv.first, path, "no step begins phase \"" + name + "\"" + DidYouMean(name, names));
        }
        plan->expect.phases[name] = *l;
      }
    }
  }
}

void PlanParser::CheckTimeline(const Plan& plan) {
  std::vector<std::string> injector_names;
  for (const auto& i : plan.injectors) injector_names.push_back(i.name);
  const int64_t load_end = plan.RunDurationNs();
  auto loc_of = [](const Step& s, const char* key) {
    auto it = s.key_locs.find(key);
    return it != s.key_locs.end() ? it->second : s.loc;
  };
  auto sp = [](size_t i) { return "steps[" + std::to_string(i) + "]"; };

  struct Active {
    size_t step;
    int64_t earliest;
  };
  std::map<std::string, Active> active;
  int64_t earliest = 0, latest = 0;  // bounds of the previous step's completion
  int64_t last_at = 0;
  size_t last_at_step = SIZE_MAX;
  int64_t end_time = load_end;
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    const Step& s = plan.steps[i];
    if (s.at_ns) {
      if (last_at_step != SIZE_MAX && *s.at_ns < last_at) {
        Problem(loc_of(s, "at"), sp(i) + ".at",
                "steps are out of order: at " + FormatDuration(*s.at_ns) + " comes before " +
                    sp(last_at_step) + " (at " + FormatDuration(last_at) + ")");
      }
      last_at = *s.at_ns;
      last_at_step = i;
      earliest = std::max(earliest, *s.at_ns);
      latest = std::max(latest, *s.at_ns);
    } else if (s.after_ns) {
      earliest += *s.after_ns;
      latest += *s.after_ns;
    }
    if (earliest > load_end) {
      Problem(s.loc, sp(i),
              "runs at " + FormatDuration(earliest) + ", after the load ends (workload.duration " +
                  FormatDuration(load_end) + ")");
    }
    if (s.action == StepAction::kWaitFor && !s.wait_source.empty()) {
      // Events come from the load, the runner, and the plan's probes and injectors.
      std::vector<std::string> sources = {"loadgen", "runner"};
      for (const auto& p : plan.probes) sources.push_back(p.name);
      for (const auto& a : plan.agents) sources.push_back(a.name);
      sources.insert(sources.end(), injector_names.begin(), injector_names.end());
      if (std::find(sources.begin(), sources.end(), s.wait_source) == sources.end()) {
        Problem(loc_of(s, "wait_for.source"), sp(i) + ".wait_for.source",
                "no event source \"" + s.wait_source +
                    "\": name a probe, injector or agent of the plan, loadgen or runner" +
                    DidYouMean(s.wait_source, sources));
      }
    }
    if ((s.action == StepAction::kInject || s.action == StepAction::kRevert) && !s.injector.empty() &&
        !plan.FindInjector(s.injector)) {
      const char* key = s.action == StepAction::kInject ? "inject" : "revert";
      Problem(loc_of(s, key), sp(i) + "." + key,
              "unknown injector \"" + s.injector + "\"" + DidYouMean(s.injector, injector_names));
    } else if (s.action == StepAction::kInject && !s.injector.empty()) {
      auto it = active.find(s.injector);
      if (it != active.end()) {
        Problem(loc_of(s, "inject"), sp(i) + ".inject",
                "overlaps: \"" + s.injector + "\" is already injected by " + sp(it->second.step) + " (line " +
                    std::to_string(plan.steps[it->second.step].loc.line) + ") and not reverted yet");
      } else {
        active[s.injector] = {i, earliest};
      }
    } else if (s.action == StepAction::kRevert && !s.injector.empty()) {
      auto it = active.find(s.injector);
      if (it == active.end()) {
        Problem(loc_of(s, "revert"), sp(i) + ".revert",
                "reverts \"" + s.injector + "\", which no earlier step injected");
      } else {
        const Step& inj = plan.steps[it->second.step];
        int64_t window = latest - it->second.earliest;
        if (inj.max_duration_ns > 0 && inj.max_duration_ns < window) {
          Problem(loc_of(inj, "max_duration"), sp(it->second.step) + ".max_duration",
                  "the lease " + FormatDuration(inj.max_duration_ns) +
                      " is shorter than the fault's window (up to " + FormatDuration(window) + ", until " +
                      sp(i) + " at line " + std::to_string(s.loc.line) + ")");
        }
        active.erase(it);
      }
    }
    if (s.action == StepAction::kWaitFor) latest += s.wait_timeout_ns;
    if (s.action == StepAction::kEnd) {
      end_time = earliest;
      if (i + 1 != plan.steps.size()) Problem(s.loc, sp(i), "\"end\" must be the last step");
      if (plan.repeat > 1) Problem(s.loc, sp(i), "\"end\" cannot be used with repeat");
    }
  }
  // Faults still active are reverted when the load ends: the lease must cover that.
  for (const auto& [name, a] : active) {
    const Step& inj = plan.steps[a.step];
    if (plan.repeat > 1) {
      Problem(loc_of(inj, "inject"), sp(a.step) + ".inject",
              "with repeat, every fault must be reverted within its cycle; add a revert step for \"" + name +
                  "\"");
      continue;
    }
    int64_t window = end_time - a.earliest;
    if (inj.max_duration_ns > 0 && inj.max_duration_ns < window) {
      Problem(loc_of(inj, "max_duration"), sp(a.step) + ".max_duration",
              "the lease " + FormatDuration(inj.max_duration_ns) +
                  " is shorter than the fault's window (never reverted: " + FormatDuration(window) +
                  ", until the load ends)");
    }
  }
  auto top = [&](const char* key) {
    auto it = top_locs.find(key);
    return it != top_locs.end() ? it->second : SourceLoc{plan.file};
  };
  if (plan.repeat > 1) {
    if (plan.repeat_every_ns <= 0) {
      Problem(top("repeat"), "repeat", "repeat needs \"repeat_every\": the length of one cycle");
    } else {
      if (latest > plan.repeat_every_ns) {
        Problem(top("repeat_every"), "repeat_every",
                "one cycle takes up to " + FormatDuration(latest) + ", longer than repeat_every " +
                    FormatDuration(plan.repeat_every_ns));
      }
      int64_t last = (plan.repeat - 1) * plan.repeat_every_ns + earliest;
      if (last > load_end) {
        Problem(top("repeat"), "repeat",
                std::to_string(plan.repeat) + " cycles of " + FormatDuration(plan.repeat_every_ns) +
                    " end after the load (workload.duration " + FormatDuration(load_end) + ")");
      }
    }
  }
}

}  // namespace fb
