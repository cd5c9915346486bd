// AgentClient's record ingest: what the agent streams (samples, stalls,
// events, the disk check) into the controller's journal and sink.
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "agent/agent_client.h"
#include "agent/agent_token.h"
#include "agent/protocol.h"
#include "core/clock.h"
#include "plugin/command_target.h"
#include "plugin/settings.h"

namespace fb {

namespace {

Severity SeverityFromName(const std::string& s) {
  for (Severity v :
       {Severity::kDebug, Severity::kInfo, Severity::kWarning, Severity::kError, Severity::kCritical}) {
    if (s == SeverityName(v)) return v;
  }
  return Severity::kInfo;
}

double RelS(int64_t utc_ns, const ClockAnchor& a) {
  return std::round(double(utc_ns - a.utc_ns) / 1e3) / 1e6;
}

// As Journal::Stamp, on `a`.
void StampOn(const ClockAnchor& a, int64_t mono_ns, nlohmann::json* record) {
  int64_t utc = a.ToUtc(mono_ns);
  (*record)["t_utc_ns"] = utc;
  (*record)["t"] = FormatUtcIso(utc, 6);
  (*record)["t_rel_s"] = std::round(double(mono_ns - a.mono_ns) / 1e3) / 1e6;
}

uint64_t Ios(const nlohmann::json& sample) {
  uint64_t n = 0;
  for (const char* op : {"read", "write"}) {
    if (sample.contains(op) && sample[op].is_object()) n += sample[op].value("ios", uint64_t(0));
  }
  return n;
}

}  // namespace

void AgentClient::WriteEvent(const std::string& kind, Severity sev, const std::string& message,
                             nlohmann::json attrs, int64_t utc_ns) {
  if (!started()) return;
  Event e;
  e.mono_ns = utc_ns ? anchor().ToMono(utc_ns) : MonoNs();
  e.source = opts_.name;
  e.kind = kind;
  e.severity = sev;
  e.message = message;
  e.attrs = std::move(attrs);
  e.attrs["agent"] = opts_.name;
  Deliver("events", nullptr, &e);
}

void AgentClient::Deliver(const std::string& stream, nlohmann::json record, const Event* event) {
  if (event) {
    if (opts_.sink) opts_.sink->OnAgentEvent(opts_.name, *event);
    if (journal_open_) (void)journal_.AppendEvent(*event);
  } else if (stream == "samples") {
    if (journal_open_) (void)journal_.AppendSample(record);
    if (opts_.sink) opts_.sink->OnAgentSample(opts_.name, std::move(record));
  } else {
    if (journal_open_) (void)journal_.AppendStall(record);
    if (opts_.sink) opts_.sink->OnAgentStall(opts_.name, std::move(record));
  }
}

void AgentClient::OnMessage(const nlohmann::json& m) {
  std::string type = m.value("type", std::string());
  if (type == "finished") {
    finished_ = m;
    uint64_t seq = m.value("seq", uint64_t(0));
    if (seq > next_seq_) seq_gaps_ += seq - next_seq_;
    next_seq_ = std::max(next_seq_, seq + 1);
    if (!journal_open_) return;
    journal_.UpdateRunInfo(
        {{"status", m.value("status", std::string("unknown"))},
         {"load_summary", m.value("summary", nlohmann::json())},
         {"agent", {{"records", next_seq_}, {"seq_gaps", seq_gaps_}, {"reconnects", reconnects_}}},
         {"end_utc", FormatUtcIso(UtcNs())}});
    return;
  }
  if (type == "check_result") return OnCheckResult(m);
  if (type != "record") return;
  uint64_t seq = m.value("seq", uint64_t(0));
  if (seq < next_seq_) return;  // already have it (a resume overlaps)
  if (seq > next_seq_) {
    seq_gaps_ += seq - next_seq_;
    WriteEvent("agent_seq_gap", Severity::kWarning,
               "records " + std::to_string(next_seq_) + ".." + std::to_string(seq - 1) + " never arrived",
               {{"from_seq", next_seq_}, {"to_seq", seq - 1}});
  }
  next_seq_ = seq + 1;
  const std::string stream = m.value("stream", std::string());
  nlohmann::json rec = m.value("body", nlohmann::json::object());
  if (!rec.is_object()) return;
  if (stream == "acks") {
    for (const auto& a : rec.value("acks", nlohmann::json::array())) {
      if (!a.is_array() || a.size() < 3 || !a[0].is_number_unsigned()) continue;
      int64_t at = ToController(a[2].get<int64_t>());
      acked_[a[0].get<uint64_t>()] = {a[1].get<uint32_t>(), at};
      // An acknowledged write is a completion, reported every ~50 ms where
      // samples come once per interval: it times a loss more closely.
      if (lost_completion_utc_ns_ < 0) {
        last_completion_utc_ns_ = std::max(last_completion_utc_ns_, at);
      } else if (at <= lost_at_utc_ns_) {
        lost_completion_utc_ns_ = std::max(lost_completion_utc_ns_, at);
      } else if (!first_ack_after_loss_utc_ns_ || at < first_ack_after_loss_utc_ns_) {
        first_ack_after_loss_utc_ns_ = at;
      }
    }
    return;
  }
  int64_t agent_t = rec.value("t_utc_ns", int64_t(0));
  int64_t t = ToController(agent_t);
  const ClockAnchor& a = anchor();
  if (stream == "events") {
    Event e;
    e.mono_ns = a.ToMono(t);
    e.source = rec.value("source", std::string());
    e.kind = rec.value("kind", std::string());
    e.severity = SeverityFromName(rec.value("severity", std::string()));
    e.message = rec.value("message", std::string());
    e.attrs = rec.value("attrs", nlohmann::json::object());
    e.attrs["agent"] = opts_.name;
    e.attrs["agent_t_utc_ns"] = agent_t;
    e.attrs["agent_seq"] = seq;
    Deliver("events", nullptr, &e);
    // A new agent process: the disk it found must hold every write the
    // controller saw acknowledged before (records arrive in seq order, so
    // acked_ holds exactly the dead process's acknowledgements here).
    if (e.kind == "agent_restarted" && !acked_.empty()) SendDiskCheck();
    return;
  }
  rec["agent"] = opts_.name;
  rec["agent_seq"] = seq;
  rec["agent_t_utc_ns"] = agent_t;
  StampOn(a, a.ToMono(t), &rec);
  if (stream == "samples") {
    // The interval's first and last completion, when the agent's load records
    // them; else the sample's end (its interval's resolution).
    int64_t first = t, last = t;
    const std::pair<const char*, int64_t*> edges[] = {{"first_completion_utc_ns", &first},
                                                      {"last_completion_utc_ns", &last}};
    for (auto [key, out] : edges) {
      if (!rec.contains(key) || !rec[key].is_number_integer()) continue;
      int64_t agent_edge = rec[key].get<int64_t>();
      rec[std::string("agent_") + key] = agent_edge;
      rec[key] = *out = ToController(agent_edge);
    }
    uint64_t ios = rec.value("job", nlohmann::json()) == "all" ? Ios(rec) : 0;
    if (ios > 0) {
      completed_ios_.fetch_add(ios);
      if (lost_completion_utc_ns_ >= 0 && last <= lost_at_utc_ns_) {
        // Completed before the loss was noticed: it arrives late (a resume).
        lost_completion_utc_ns_ = std::max(lost_completion_utc_ns_, last);
      } else if (lost_completion_utc_ns_ >= 0) {
        int64_t before = lost_completion_utc_ns_;
        lost_completion_utc_ns_ = -1;
        if (first_ack_after_loss_utc_ns_ && first_ack_after_loss_utc_ns_ < first)
          first = first_ack_after_loss_utc_ns_;
        first_ack_after_loss_utc_ns_ = 0;
        double down_ms = before ? double(first - before) / 1e6 : 0.0;
        WriteEvent(
            "agent_first_completion", Severity::kInfo,
            "agent " + opts_.name + ": I/O completes again" +
                (before ? " " + std::to_string(int64_t(down_ms)) + " ms after the last one before the loss"
                        : ""),
            {{"first_completion_utc_ns", first},
             {"last_completion_utc_ns", before},
             {"downtime_ms", down_ms}},
            std::max(t, lost_at_utc_ns_ + 1));  // after agent_lost: plans wait for it after the loss
      }
      last_completion_utc_ns_ = std::max(last_completion_utc_ns_, last);
    }
    Deliver("samples", std::move(rec), nullptr);
  } else if (stream == "stalls") {
    for (const char* edge : {"start", "end"}) {
      std::string k = std::string(edge) + "_utc_ns";
      if (!rec.contains(k) || !rec[k].is_number_integer()) continue;
      int64_t agent_edge = rec[k].get<int64_t>();
      int64_t edge_t = ToController(agent_edge);
      rec["agent_" + k] = agent_edge;
      rec[k] = edge_t;
      rec[edge] = FormatUtcIso(edge_t, 6);
      rec[std::string(edge) + "_rel_s"] = RelS(edge_t, a);
    }
    Deliver("stalls", std::move(rec), nullptr);
  }
}

void AgentClient::SendDiskCheck() {
  std::vector<std::pair<uint64_t, std::pair<uint32_t, int64_t>>> blocks(acked_.begin(), acked_.end());
  std::sort(blocks.begin(), blocks.end());
  nlohmann::json list = nlohmann::json::array();
  for (const auto& [offset, ga] : blocks) list.push_back({offset, ga.first, ga.second});
  pending_check_ = {{"type", "check"}, {"id", ++check_id_}, {"blocks", std::move(list)}};
  WriteEvent("agent_disk_check", Severity::kInfo,
             "agent " + opts_.name + " restarted: checking " + std::to_string(blocks.size()) +
                 " blocks on its disk against the writes acknowledged before",
             {{"blocks", blocks.size()}, {"id", check_id_}});
  (void)Send(pending_check_);  // on failure, the reconnect sends it again
}

// The agent's answer to SendDiskCheck: an event with the counts, and one
// finding event per block older than acknowledged (the kinds and attrs of the
// load's own verify findings, so reports and expectations count them).
void AgentClient::OnCheckResult(const nlohmann::json& m) {
  if (pending_check_.is_null() || m.value("id", -1) != pending_check_.value("id", -2)) return;
  pending_check_ = nullptr;
  if (m.contains("error")) {
    WriteEvent("agent_disk_checked", Severity::kError,
               "agent " + opts_.name + ": the check of its disk failed: " + m.value("error", std::string()),
               {{"error", m["error"]}});
    return;
  }
  uint64_t bad = m.value("bad", uint64_t(0));
  WriteEvent("agent_disk_checked", bad ? Severity::kError : Severity::kInfo,
             "agent " + opts_.name + ": " + std::to_string(m.value("checked", uint64_t(0))) +
                 " blocks acknowledged before the restart checked on disk, " + std::to_string(bad) +
                 " not as acknowledged",
             {{"checked", m.value("checked", uint64_t(0))},
              {"ok", m.value("ok", uint64_t(0))},
              {"newer", m.value("newer", uint64_t(0))},
              {"bad", bad},
              {"elapsed_ms", m.value("elapsed_ms", 0.0)}});
  for (const auto& f : m.value("findings", nlohmann::json::array())) {
    std::string kind = f.value("verdict", std::string("lost_write"));
    int64_t acked_at = f.value("ack_utc_ns", int64_t(0));
    WriteEvent(kind, Severity::kError,
               "agent " + opts_.name + ": block at offset " + std::to_string(f.value("offset", uint64_t(0))) +
                   " holds generation " + std::to_string(f.value("found_generation", 0u)) + ", generation " +
                   std::to_string(f.value("acked_generation", 0u)) + " was acknowledged at " +
                   FormatUtcIso(acked_at, 3) + " before the restart",
               {{"offset", f.value("offset", uint64_t(0))},
                {"acked_generation", f.value("acked_generation", 0u)},
                {"found_generation", f.value("found_generation", 0u)},
                {"acked_utc_ns", acked_at},
                {"final_pass", false},
                {"after_restart", true}});
  }
}

}  // namespace fb
