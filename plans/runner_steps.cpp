// The step clock's fault steps: inject under the guard, revert, lease expiry,
// and the steps of the plan in order (Runner::Impl, plans/runner_impl.h).
#include "plans/runner_impl.h"

namespace fb {

Status Runner::Impl::Inject(size_t i, int cycle) {
  const Step& s = plan_.steps[i];
  const PluginSpec& spec = *plan_.FindInjector(s.injector);
  Injector* inj = injectors_.at(s.injector).get();
  // Guard: registered (fsynced) before it is applied, so the guard reverts it
  // if this process dies (injectors/fault_lifecycle.h).
  FaultContext context{guard_.run_id(), s.max_duration_ns};
  context.emit = [this](Event e) { sink_->Record(e); };
  Result<std::string> guard_fault = ArmFault(*inj, guard_, {s.injector, spec.kind, "", spec.settings, 0}, context);
  if (!guard_fault.ok()) {
    Note("injector_error", Severity::kError, s.injector, guard_fault.status().message(),
         {{"injector", s.injector}, {"action", "arm"}, {"step", i}, {"cycle", cycle}});
    return guard_fault.status();
  }
  // Recorded before it is applied: an abort during Inject() still reverts it.
  active_.push_back({s.injector, inj, cycle, i, MonoNs() + s.max_duration_ns, *guard_fault});
  Applied applied = ApplyFault(*inj);
  nlohmann::json attrs = {{"injector", s.injector},
                          {"kind", spec.kind},
                          {"where", inj->where()},
                          {"step", i},
                          {"cycle", cycle},
                          {"lease_s", double(s.max_duration_ns) / 1e9},
                          {"command_ms", applied.command_ms()}};
  if (!applied.status.ok()) {
    attrs["action"] = "inject";
    Note("injector_error", Severity::kError, s.injector, applied.status.message(), attrs);
    return applied.status;
  }
  if (applied.check.kind != CheckResult::Kind::kNoCheck) attrs["verified"] = applied.check.Json();
  if (metrics_) metrics_->SetFaultActive(s.injector, true);
  Note("fault_injected", Severity::kWarning, s.injector, "injected " + s.injector + " on " + inj->where(),
       attrs, applied.end_mono_ns);
  return Status::Ok();
}

Status Runner::Impl::RevertFault(const std::string& injector, const char* reason) {
  auto it = std::find_if(active_.begin(), active_.end(),
                         [&](const ActiveFault& f) { return f.injector == injector; });
  if (it == active_.end()) return Status::Ok();
  ActiveFault f = *it;
  Reverted reverted = fb::RevertFault(*f.impl);
  nlohmann::json attrs = {{"injector", f.injector},
                          {"where", f.impl->where()},
                          {"cycle", f.cycle},
                          {"reason", reason},
                          {"command_ms", reverted.command_ms()}};
  if (!reverted.status.ok()) {
    attrs["action"] = "revert";
    Note("injector_error", Severity::kCritical, f.injector, reverted.status.message(), attrs);
    return reverted.status;
  }
  if (reverted.check.kind == CheckResult::Kind::kInEffect) {
    attrs["verified"] = false;
    std::string what = "revert of " + f.injector + " ran but the fault is still in effect";
    Note("injector_error", Severity::kCritical, f.injector, what, attrs);
    return Status::Unavailable(what);
  }
  // A check that failed leaves the fault "unknown" to the guard, which retries it.
  if (reverted.check.kind == CheckResult::Kind::kNotInEffect) attrs["verified"] = true;
  if (reverted.check.kind == CheckResult::Kind::kFailed) attrs["verified"] = reverted.check.error;
  Status disarmed = DisarmFault(guard_, f.guard_fault, reverted);
  if (!disarmed.ok()) attrs["guard"] = disarmed.message();  // the guard reverts it again at the end: harmless
  if (metrics_) metrics_->SetFaultActive(f.injector, false);
  active_.erase(std::find_if(active_.begin(), active_.end(),
                             [&](const ActiveFault& a) { return a.injector == injector; }));
  Note("fault_reverted", Severity::kInfo, f.injector,
       std::string("reverted ") + f.injector + " (" + reason + ")", attrs, reverted.end_mono_ns);
  return Status::Ok();
}

void Runner::Impl::RevertAll(const char* reason) {
  // Newest first; a fault whose revert fails gets one more try after the others.
  for (int pass = 0; pass < 2 && !active_.empty(); ++pass) {
    std::vector<std::string> names;
    for (auto it = active_.rbegin(); it != active_.rend(); ++it) names.push_back(it->injector);
    for (const auto& n : names) (void)RevertFault(n, reason);
  }
  if (!active_.empty()) {
    failed_ = true;
    failure_ = "could not revert " + active_.front().injector + ": it may still be in effect";
  }
}

void Runner::Impl::ReapLeases() {
  int64_t now = MonoNs();
  std::vector<std::string> expired;
  for (const auto& f : active_) {
    if (f.lease_end_ns <= now) expired.push_back(f.injector);
  }
  for (const auto& n : expired) {
    Status st = RevertFault(n, "lease expired");
    if (!st.ok()) {
      // Retried at the end of the run; the lease no longer wakes us.
      for (auto& f : active_) {
        if (f.injector == n) f.lease_end_ns = INT64_MAX;
      }
    }
  }
}

// Returns false when the run must stop (abort, or an error with on_error: stop).
bool Runner::Impl::ExecuteSteps() {
  int64_t prev_ns = load_start_;
  for (int cycle = 0; cycle < plan_.repeat; ++cycle) {
    int64_t cycle_start = load_start_ + cycle * plan_.repeat_every_ns;
    for (size_t i = 0; i < plan_.steps.size(); ++i) {
      const Step& s = plan_.steps[i];
      int64_t due = s.at_ns ? cycle_start + *s.at_ns : prev_ns + s.after_ns.value_or(0);
      if (!WaitUntil(due)) return !Aborted();
      int64_t now = MonoNs();
      int64_t since_prev = prev_ns;  // wait_for counts events from the previous step on
      prev_ns = now;
      std::string what =
          std::string(StepActionName(s.action)) + (s.injector.empty() ? "" : " " + s.injector) +
          (s.mark.empty() ? "" : " \"" + s.mark + "\"") + (s.wait_kind.empty() ? "" : " " + s.wait_kind);
      nlohmann::json attrs = {{"step", i},
                              {"cycle", cycle},
                              {"action", StepActionName(s.action)},
                              {"scheduled_rel_s", RelS(due - load_start_)},
                              {"late_ms", double(now - due) / 1e6},
                              {"line", s.loc.line}};
      if (!s.injector.empty()) attrs["injector"] = s.injector;
      Note("step", Severity::kInfo, "runner", "steps[" + std::to_string(i) + "] " + what, attrs, now);
      if (!s.phase.empty()) {
        if (metrics_) metrics_->SetRunInfo(plan_.name, s.phase);
        Note("phase", Severity::kInfo, "runner", "phase " + s.phase,
             {{"phase", s.phase}, {"step", i}, {"cycle", cycle}}, now);
      }
      Status st;
      switch (s.action) {
        case StepAction::kInject:
          st = Inject(i, cycle);
          break;
        case StepAction::kRevert:
          st = RevertFault(s.injector, "step");
          break;
        case StepAction::kMark:
          Note("mark", Severity::kInfo, "runner", s.mark, {{"step", i}, {"cycle", cycle}}, now);
          break;
        case StepAction::kWaitFor: {
          int64_t at = 0, event_at = 0;
          int64_t deadline = now + s.wait_timeout_ns;
          while (!sink_->Seen(s.wait_kind, s.wait_source, since_prev, &at, &event_at) &&
                 MonoNs() < deadline && !Aborted() && !LoadOver()) {
            WaitUntil(std::min(deadline, MonoNs() + 50 * kNsPerMs));
          }
          if (Aborted()) return false;
          if (at) {
            Note("wait_done", Severity::kInfo, "runner",
                 s.wait_kind + " seen after " + FormatDuration(std::max<int64_t>(0, at - now)),
                 {{"step", i},
                  {"waited_ms", double(std::max<int64_t>(0, at - now)) / 1e6},
                  {"event_rel_s", RelS(event_at - load_start_)}});
          } else {
            Note("wait_timeout", Severity::kWarning, "runner",
                 "no " + s.wait_kind + " within " + FormatDuration(s.wait_timeout_ns), {{"step", i}});
          }
          prev_ns = at ? std::max(at, now) : MonoNs();
          break;
        }
        case StepAction::kEnd:
          ended_by_step_ = true;
          RequestLoadStop();
          return true;
        case StepAction::kNone:
          break;
      }
      if (!st.ok() && plan_.on_error == OnError::kStop) {
        failed_ = true;
        failure_ = st.message();
        return false;
      }
    }
  }
  return true;
}

}  // namespace fb
