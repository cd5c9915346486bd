#include "reports/journal_reader.h"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <fstream>

#include "core/jsonl_writer.h"
#include "reports/latency.h"

namespace fb::reports {

namespace {

using Json = nlohmann::json;

int64_t I64(const Json& j, const char* key, int64_t def = 0) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return def;
  return it->is_number_float() ? int64_t(std::llround(it->get<double>())) : it->get<int64_t>();
}

double Dbl(const Json& j, const char* key, double def = 0) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : def;
}

std::optional<double> OptDbl(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

std::string Str(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Reads one .jsonl file. A cut-short last line (no newline at the end, not
// JSON) is skipped with a warning; any other bad line is an error.
Status ReadJsonl(const std::string& path, std::vector<Json>* out, std::vector<std::string>* warnings) {
  auto text = ReadFile(path);
  if (!text.ok()) return Status::InvalidInput(path + ": missing or unreadable (is this a run directory?)");
  const std::string& s = *text;
  size_t pos = 0;
  int line_no = 0;
  while (pos < s.size()) {
    size_t nl = s.find('\n', pos);
    bool last = nl == std::string::npos;
    std::string line = s.substr(pos, last ? std::string::npos : nl - pos);
    pos = last ? s.size() : nl + 1;
    ++line_no;
    if (line.empty()) continue;
    Json j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) {
      bool tail = last || s.find_first_not_of("\n", pos) == std::string::npos;
      if (tail) {
        warnings->push_back(path + ":" + std::to_string(line_no) +
                            ": last line cut short (the run may have crashed); skipped");
        break;
      }
      return Status::InvalidInput(path + ":" + std::to_string(line_no) + ": not a JSON record");
    }
    out->push_back(std::move(j));
  }
  return Status::Ok();
}

OpSample ParseOp(const Json& j) {
  OpSample op;
  if (!j.is_object()) return op;
  op.ios = uint64_t(I64(j, "ios"));
  op.errors = uint64_t(I64(j, "errors"));
  op.iops = Dbl(j, "iops");
  op.min_us = OptDbl(j, "lat_min_us");
  op.p50_us = OptDbl(j, "lat_p50_us");
  op.p99_us = OptDbl(j, "lat_p99_us");
  op.max_us = OptDbl(j, "lat_max_us");
  if (j.contains("errors_by_errno") && j["errors_by_errno"].is_object()) {
    for (const auto& [k, v] : j["errors_by_errno"].items()) {
      if (v.is_number()) op.errors_by_errno[k] = v.get<uint64_t>();
    }
  }
  if (auto it = j.find("lat_hist"); it != j.end() && it->is_array()) {
    for (const auto& b : *it) {
      if (!b.is_array() || b.size() != 2 || !b[0].is_number_integer() || !b[1].is_number_integer()) continue;
      int index = b[0].get<int>();
      if (index < 0 || index >= Histogram::kBucketCount || b[1].get<int64_t>() <= 0) continue;
      if (!op.lat_hist.empty() && index <= op.lat_hist.back().first) continue;  // ascending, as written
      op.lat_hist.emplace_back(index, b[1].get<uint64_t>());
    }
  }
  return op;
}

// The agent a record belongs to: its "agent" field, else attrs.agent.
std::string AgentOf(const Json& j) {
  std::string a = Str(j, "agent");
  if (a.empty() && j.contains("attrs") && j["attrs"].is_object()) a = Str(j["attrs"], "agent");
  return a;
}

void AddOp(const OpSample& from, OpSample* to) {
  to->ios += from.ios;
  to->errors += from.errors;
  to->iops += from.iops;
  for (const auto& [k, n] : from.errors_by_errno) to->errors_by_errno[k] += n;
  if (!from.ios) return;
  bool first = to->ios == from.ios;
  if (from.min_us) to->min_us = first || !to->min_us ? *from.min_us : std::min(*to->min_us, *from.min_us);
  if (from.max_us) to->max_us = first || !to->max_us ? *from.max_us : std::max(*to->max_us, *from.max_us);
  // Percentiles from the merged buckets when both have them; else the worse.
  bool hist = (first || !to->lat_hist.empty()) && !from.lat_hist.empty();
  to->lat_hist = hist ? MergeBuckets(to->lat_hist, from.lat_hist) : std::vector<std::pair<int, uint64_t>>();
  if (hist) {
    Histogram h;
    AddBuckets(*to, &h);
    to->p50_us = NsToUs(h.Percentile(0.50));
    to->p99_us = NsToUs(h.Percentile(0.99));
  } else {
    for (auto [f, t] : {std::pair{&from.p50_us, &to->p50_us}, std::pair{&from.p99_us, &to->p99_us}}) {
      if (*f) *t = first || !*t ? **f : std::max(**t, **f);
    }
  }
}

// The run's series when agents wrote samples: every source's job "all"
// records, each source's intervals placed on one grid of the run's interval
// (its first record fixes its offset on the grid; so does the first record of
// a segment an agent restarted, whose intervals count from 0 again), merged
// per grid slot.
std::vector<Sample> MergeSources(const std::vector<Sample>& all, int64_t interval_ns) {
  if (all.empty() || interval_ns <= 0) return all;
  int64_t ref = all.front().end_utc_ns;
  for (const auto& s : all) ref = std::min(ref, s.end_utc_ns);
  struct Place {
    int64_t offset;      // grid slot of the source's (segment's) interval 0
    int64_t last_index;  // of its newest record
  };
  std::map<std::string, Place> place;
  std::map<int64_t, Sample> slots;
  for (const auto& s : all) {
    auto it = place.find(s.agent);
    if (it == place.end() || s.index <= it->second.last_index) {
      int64_t slot = int64_t(std::llround(double(s.end_utc_ns - ref) / double(interval_ns)));
      it = place.insert_or_assign(s.agent, Place{slot - s.index, s.index}).first;
    }
    it->second.last_index = s.index;
    int64_t slot = s.index + it->second.offset;
    auto [m, fresh] = slots.try_emplace(slot);
    Sample& t = m->second;
    if (fresh) {
      t.index = slot;
      t.interval_ns = interval_ns;
      t.ramp = s.ramp;
      t.drain = s.drain;
    }
    t.end_utc_ns = std::max(t.end_utc_ns, s.end_utc_ns);
    AddOp(s.read, &t.read);
    AddOp(s.write, &t.write);
    t.errors += s.errors;
    t.inflight += s.inflight;
    t.oldest_inflight_age_ms = std::max(t.oldest_inflight_age_ms, s.oldest_inflight_age_ms);
    t.stall = t.stall || s.stall;
    t.ramp = t.ramp || s.ramp;
    t.drain = t.drain || s.drain;
  }
  std::vector<Sample> out;
  for (auto& [slot, s] : slots) out.push_back(std::move(s));
  return out;
}

std::optional<double> MaxOpt(std::optional<double> a, std::optional<double> b) {
  if (!a) return b;
  if (!b) return a;
  return std::max(*a, *b);
}

}  // namespace

std::optional<double> Sample::P99Us() const { return MaxOpt(read.p99_us, write.p99_us); }
std::optional<double> Sample::MaxUs() const { return MaxOpt(read.max_us, write.max_us); }

Result<RunJournal> ReadRunJournal(const std::string& dir) {
  struct stat st{};
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status::InvalidInput(dir + ": not a run directory (no such directory)");
  }
  RunJournal r;
  r.dir = dir;
  auto info_text = ReadFile(dir + "/run.json");
  if (!info_text.ok()) return Status::InvalidInput(dir + "/run.json: missing; not a run directory");
  r.run_info = Json::parse(*info_text, nullptr, false);
  if (r.run_info.is_discarded() || !r.run_info.is_object()) {
    return Status::InvalidInput(dir + "/run.json: not a JSON object");
  }
  r.status = Str(r.run_info, "status");
  if (r.run_info.contains("load_start")) r.load_start_utc_ns = I64(r.run_info["load_start"], "t_utc_ns");
  if (r.run_info.contains("load") && r.run_info["load"].is_object()) {
    r.ramp_ns = int64_t(std::llround(Dbl(r.run_info["load"], "ramp_s") * 1e9));
    r.interval_ns = int64_t(std::llround(Dbl(r.run_info["load"], "interval_s", 1.0) * 1e9));
  }
  auto plan = ReadFile(dir + "/plan.yaml");
  if (plan.ok()) r.plan_yaml = *plan;

  std::vector<Json> raw;
  FB_RETURN_IF_ERROR(ReadJsonl(dir + "/samples.jsonl", &raw, &r.warnings));
  for (const auto& j : raw) {
    if (!j.contains("job") || j["job"] != "all") continue;
    Sample s;
    s.agent = AgentOf(j);
    s.index = I64(j, "interval");
    s.end_utc_ns = I64(j, "t_utc_ns");
    s.interval_ns = int64_t(std::llround(Dbl(j, "interval_s") * 1e9));
    if (s.interval_ns <= 0) s.interval_ns = r.interval_ns;
    s.read = ParseOp(j.value("read", Json()));
    s.write = ParseOp(j.value("write", Json()));
    s.errors = uint64_t(I64(j, "errors"));
    s.inflight = uint64_t(I64(j, "inflight"));
    s.oldest_inflight_age_ms = Dbl(j, "oldest_inflight_age_ms");
    s.stall = j.value("stall", false);
    s.ramp = j.value("ramp", false);
    s.drain = j.value("drain", false);
    if (j.contains("verify") && j["verify"].is_object()) s.verified_blocks = uint64_t(I64(j["verify"], "verified_blocks"));
    if (!s.agent.empty()) r.agent_samples.push_back(s);
    r.samples.push_back(std::move(s));
  }
  // Agents in the order run.json lists them, then as they first appear.
  auto note = [&](const std::string& a) {
    if (!a.empty() && std::find(r.agents.begin(), r.agents.end(), a) == r.agents.end()) r.agents.push_back(a);
  };
  if (auto it = r.run_info.find("agents"); it != r.run_info.end() && it->is_array()) {
    for (const auto& a : *it) {
      if (a.is_object()) note(Str(a, "name"));
    }
  }
  for (const auto& s : r.agent_samples) note(s.agent);
  auto by_end = [](const Sample& a, const Sample& b) { return a.end_utc_ns < b.end_utc_ns; };
  std::stable_sort(r.samples.begin(), r.samples.end(), by_end);
  std::stable_sort(r.agent_samples.begin(), r.agent_samples.end(), by_end);
  if (!r.agent_samples.empty()) {
    int64_t interval = r.interval_ns ? r.interval_ns : r.agent_samples.front().interval_ns;
    r.samples = MergeSources(r.samples, interval);
  }

  raw.clear();
  FB_RETURN_IF_ERROR(ReadJsonl(dir + "/events.jsonl", &raw, &r.warnings));
  for (const auto& j : raw) {
    JournalEvent e;
    e.t_utc_ns = I64(j, "t_utc_ns");
    e.source = Str(j, "source");
    e.kind = Str(j, "kind");
    e.severity = Str(j, "severity");
    e.message = Str(j, "message");
    e.agent = AgentOf(j);
    if (j.contains("attrs") && j["attrs"].is_object()) e.attrs = j["attrs"];
    r.events.push_back(std::move(e));
  }
  std::stable_sort(r.events.begin(), r.events.end(),
                   [](const JournalEvent& a, const JournalEvent& b) { return a.t_utc_ns < b.t_utc_ns; });

  // Load start and end: run.json, else the first and last records.
  if (!r.load_start_utc_ns) {
    for (const auto& e : r.events) {
      if (e.kind == "load_started") {
        r.load_start_utc_ns = e.t_utc_ns;
        break;
      }
    }
    if (!r.load_start_utc_ns && !r.samples.empty()) r.load_start_utc_ns = r.samples.front().start_utc_ns();
  }
  r.load_end_utc_ns = r.load_start_utc_ns;
  for (const auto& s : r.samples) r.load_end_utc_ns = std::max(r.load_end_utc_ns, s.end_utc_ns);
  for (const auto& e : r.events) {
    if (e.kind == "load_finished") r.load_end_utc_ns = std::max(r.load_end_utc_ns, e.t_utc_ns);
  }
  if (!r.interval_ns && !r.samples.empty()) r.interval_ns = r.samples.front().interval_ns;

  raw.clear();
  FB_RETURN_IF_ERROR(ReadJsonl(dir + "/stalls.jsonl", &raw, &r.warnings));
  for (const auto& j : raw) {
    Stall s;
    s.agent = AgentOf(j);
    s.job = j.contains("job") && j["job"].is_number() ? j["job"].get<int>() : 0;
    s.start_utc_ns = I64(j, "start_utc_ns");
    s.open = j.value("open", false) || !j.contains("end_utc_ns") || j["end_utc_ns"].is_null();
    s.end_utc_ns = s.open ? std::max(r.load_end_utc_ns, s.start_utc_ns) : I64(j, "end_utc_ns");
    s.inflight = uint64_t(I64(j, "inflight"));
    s.oldest_age_ms = Dbl(j, "oldest_age_ms");
    if (j.contains("completions_before") && j["completions_before"].is_number())
      s.completions_before = j["completions_before"].get<uint64_t>();
    r.stalls.push_back(s);
    r.load_end_utc_ns = std::max(r.load_end_utc_ns, s.end_utc_ns);
  }
  std::stable_sort(r.stalls.begin(), r.stalls.end(),
                   [](const Stall& a, const Stall& b) { return a.start_utc_ns < b.start_utc_ns; });
  for (const auto& s : r.stalls) note(s.agent);
  for (const auto& e : r.events) note(e.agent);
  if (r.samples.empty() && r.events.empty()) {
    return Status::InvalidInput(dir + ": the journal holds no samples and no events");
  }
  return r;
}

}  // namespace fb::reports
