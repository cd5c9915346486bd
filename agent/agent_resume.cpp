// The run directory's state on disk (run.json, agent_state.json) and `agent
// --boot` for one run (AgentSession, agent_server_impl.h): a run whose agent
// process died continues as a new segment until its planned end, or, when that
// has passed, is marked ended (`finished`, status "interrupted").
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "agent/agent_server_impl.h"
#include "agent/workload_json.h"

namespace fb {

int AgentSession::Boot(const std::string& run_dir) {
  Status s = Resume(run_dir);
  if (!s.ok()) {
    fprintf(stderr, "faultbench: agent: %s: %s\n", run_dir.c_str(), s.message().c_str());
    return s.exit_code();
  }
  if (load_thread_.joinable()) load_thread_.join();
  if (record_thread_.joinable()) record_thread_.join();
  journal_.Close();
  return kExitOk;
}

void AgentSession::UpdateRunInfo(const nlohmann::json& patch) {
  Status s = segment_ == 0 ? journal_.UpdateRunInfo(patch) : MergeJsonFile(run_dir_ + "/run.json", patch);
  if (!s.ok()) fprintf(stderr, "faultbench: agent: %s\n", s.message().c_str());
}

void AgentSession::SaveState() {
  Status s = SaveRunState(run_dir_, state_);
  if (!s.ok()) fprintf(stderr, "faultbench: agent: %s\n", s.message().c_str());
}

AgentSession::LogTail AgentSession::ReadLogTail(const std::string& path) {
  LogTail t;
  FileTail tail(path);
  std::vector<std::string> lines;
  if (!tail.ReadLines(&lines).ok()) return t;
  t.records = int64_t(lines.size());
  for (const auto& l : lines) {
    auto r = nlohmann::json::parse(l, nullptr, false);
    if (r.is_discarded() || !r.is_object()) continue;
    if (r.value("stream", "") == "finished") {
      t.finished = true;
      if (r.contains("body") && r["body"].is_object()) t.finished_status = r["body"].value("status", "");
    }
    if (r.contains("body") && r["body"].is_object() && r["body"].contains("t_utc_ns") &&
        r["body"]["t_utc_ns"].is_number_integer())
      t.last_t_utc_ns = std::max(t.last_t_utc_ns, r["body"]["t_utc_ns"].get<int64_t>());
  }
  return t;
}

Status AgentSession::Resume(const std::string& dir) {
  FB_RETURN_IF_ERROR(lock_.TryLock(dir));
  auto st = LoadRunState(dir);
  if (!st.ok()) return st.status();
  if (st->status != "running") return Status::Ok();  // ended while we looked
  state_ = *st;
  run_dir_ = dir;
  run_id_ = st->run_id;
  std::string log = dir + "/" + kRecordLogFile;
  FB_RETURN_IF_ERROR(TruncatePartialLine(log));
  LogTail tail = ReadLogTail(log);
  int64_t now = UtcNs();
  segment_ = state_.segment + 1;
  if (tail.finished || state_.planned_end_utc_ns <= now) {
    // Too late to continue (or the dead owner wrote `finished` but not the
    // state): the run ended when its owner died.
    state_.status = tail.finished && !tail.finished_status.empty() ? tail.finished_status : "interrupted";
    if (!tail.finished) {
      FB_RETURN_IF_ERROR(records_.Open(dir));
      nlohmann::json body = {{"status", "interrupted"},
                             {"summary", nlohmann::json::object()},
                             {"reason", "the agent process " + std::to_string(state_.owner_pid) +
                                            " died and the planned end passed before a restart"},
                             {"last_record_utc_ns", tail.last_t_utc_ns},
                             {"planned_end_utc_ns", state_.planned_end_utc_ns}};
      auto r = records_.Append("finished", body);
      if (!r.ok()) return r.status();
      records_.Close();
    }
    SaveState();
    if (tail.finished) return Status::Ok();  // only the state file lagged behind
    UpdateRunInfo({{"status", "interrupted"}, {"end_utc", FormatUtcIso(now)}});
    fprintf(stderr, "faultbench: agent: run %s ended (planned end %s passed), marked interrupted\n",
            run_id_.c_str(), FormatUtcIso(state_.planned_end_utc_ns).c_str());
    return Status::Ok();
  }
  auto w = WorkloadFromJson(state_.workload_json);
  if (!w.ok()) return Status::InvalidInput("workload_json: " + w.status().message());
  w->duration_ns = state_.planned_end_utc_ns - now;
  if (w->verify) {
    w->verify_run_id = state_.verify_run_id;
    // Above every generation the dead process can have stamped.
    w->verify_generation_base = uint32_t(std::min(segment_, 255)) << 24;
    if (w->ack_log.empty()) {
      w->ack_log = dir + "/acks-segment" + std::to_string(segment_) + ".bin";
      ack_tail_.Open(w->ack_log);
    }
  }
  auto gen = std::make_unique<LoadGenerator>(*w);
  FB_RETURN_IF_ERROR(gen->Prepare());
  // The segment's own journal keeps the run's timeline: t_rel_s counts from
  // the run's first start, not from this segment's.
  ClockAnchor anchor = ClockAnchor::Take();
  int64_t run_start_utc = 0;
  if (auto info = ReadFile(dir + "/run.json"); info.ok()) {
    auto j = nlohmann::json::parse(*info, nullptr, false);
    if (j.is_object() && j.contains("anchor")) run_start_utc = j["anchor"].value("utc_ns", int64_t(0));
  }
  if (run_start_utc > 0 && run_start_utc < anchor.utc_ns) {
    anchor.mono_ns -= anchor.utc_ns - run_start_utc;
    anchor.utc_ns = run_start_utc;
  }
  FB_RETURN_IF_ERROR(journal_.Create(dir + "/segments", "segment" + std::to_string(segment_), anchor));
  FB_RETURN_IF_ERROR(records_.Open(dir));
  const char* files[3] = {"samples.jsonl", "stalls.jsonl", "events.jsonl"};
  for (int i = 0; i < 3; ++i) FB_RETURN_IF_ERROR(mirrors_[i].Open(dir + "/" + files[i]));
  state_.segment = segment_;
  state_.owner_pid = int(getpid());
  state_.next_seq = records_.next_seq();
  FB_RETURN_IF_ERROR(SaveRunState(dir, state_));
  owner_pid_ = int(getpid());
  UpdateRunInfo({{"agent_pid", owner_pid_}, {"segments", segment_ + 1}});
  journal_.UpdateRunInfo({{"command", "agent --boot"}, {"run_dir", dir}, {"segment", segment_}});
  Event e;
  e.mono_ns = MonoNs();
  e.source = "agent";
  e.kind = "agent_restarted";
  e.severity = Severity::kWarning;
  // The gap: from the dead process's newest record to this event.
  int64_t event_utc = journal_.anchor().ToUtc(e.mono_ns);
  double gap_ms = tail.last_t_utc_ns > 0 ? double(event_utc - tail.last_t_utc_ns) / 1e6 : -1;
  e.message = "agent restarted: resuming run " + run_id_ + " for " +
              std::to_string(w->duration_ns / kNsPerMs) + " ms more";
  e.attrs = {{"dead_pid", st->owner_pid},
             {"segment", segment_},
             {"first_seq", state_.next_seq},
             {"last_record_utc_ns", tail.last_t_utc_ns},
             {"gap_ms", gap_ms},
             {"remaining_ms", double(w->duration_ns) / 1e6},
             {"planned_end_utc_ns", state_.planned_end_utc_ns}};
  FB_RETURN_IF_ERROR(journal_.AppendEvent(e));
  StartLoad(std::move(gen));
  return Status::Ok();
}

}  // namespace fb
