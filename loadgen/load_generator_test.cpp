// The job loop, stall detector and rate scheduler on a fake engine whose
// completions follow a script: a fixed latency, a freeze window in which
// nothing completes, and optional errors. Real time, short runs.
#include "loadgen/load_generator.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <mutex>
#include <thread>

#include "core/clock.h"
#include "loadgen/journal_sink.h"
#include "tests/support/test_util.h"

namespace fb {

namespace {

struct FakeScript {
  int64_t latency_ns = 100'000;
  int64_t freeze_from_ns = 0;  // relative to the first I/O queued; 0 = no freeze
  int64_t freeze_to_ns = 0;
  int error_every = 0;  // every Nth I/O fails with EIO
};

FakeScript g_script;

// What the fakes saw, for the tests to check the job against; several job
// threads may record at once.
std::mutex g_record_mu;
// Every I/O the fake was handed, in order: when it was due and when it came.
struct QueuedIo {
  int64_t sched_ns, submit_ns;
};
std::vector<QueuedIo> g_queued;
int64_t g_first_queued_ns = 0;  // the freeze's clock
// Every Reap: when the job called it, when it returned and with how many.
struct ReapCall {
  int64_t called_ns, returned_ns;
  int n;
};
std::vector<ReapCall> g_reaps;

class FakeEngine final : public Engine {
 public:
  const char* name() const override { return "fake"; }
  uint32_t caps() const override { return kCapFiles; }
  Status Open(const TargetInfo&, const Workload&, std::vector<Io>& ios) override {
    queued_.reserve(ios.size());
    return Status::Ok();
  }
  QueueResult Queue(Io* io) override {
    if (!t0_) t0_ = MonoNs();
    {
      std::lock_guard<std::mutex> lock(g_record_mu);
      if (!g_first_queued_ns) g_first_queued_ns = t0_;
      g_queued.push_back({io->sched_ns, io->submit_ns});
    }
    int64_t due = MonoNs() + g_script.latency_ns;
    if (g_script.freeze_to_ns) {
      int64_t from = t0_ + g_script.freeze_from_ns, to = t0_ + g_script.freeze_to_ns;
      if (due >= from && due < to) due = to;
    }
    ++count_;
    io->result = (g_script.error_every && count_ % g_script.error_every == 0) ? -EIO : int64_t(io->length);
    queued_.push_back({due, io});
    return QueueResult::kQueued;
  }
  Status Commit() override { return Status::Ok(); }
  int Reap(int, int max, int64_t timeout_ns, Io** out) override {
    int64_t now = MonoNs();
    const int64_t called = now;
    int64_t next = INT64_MAX;
    for (auto& q : queued_) next = std::min(next, q.first);
    SleepUntilMono(std::min(next, now + std::max<int64_t>(timeout_ns, 0)));
    now = MonoNs();
    int n = 0;
    for (size_t i = 0; i < queued_.size() && n < max;) {
      if (queued_[i].first <= now) {
        out[n++] = queued_[i].second;
        queued_[i] = queued_.back();
        queued_.pop_back();
      } else {
        ++i;
      }
    }
    std::lock_guard<std::mutex> lock(g_record_mu);
    g_reaps.push_back({called, now, n});
    return n;
  }
  void Close() override {}

 private:
  int64_t t0_ = 0;
  uint64_t count_ = 0;
  std::vector<std::pair<int64_t, Io*>> queued_;
};

void RegisterFake() {
  g_queued.clear();
  g_reaps.clear();
  g_first_queued_ns = 0;
  RegisterBuiltinEngines();
  EngineRegistry::Global().Register("fake", {[] { return std::make_unique<FakeEngine>(); },
                                             [](const Workload& w) -> Result<TargetInfo> {
                                               TargetInfo t;
                                               t.name = w.targets.at(0);
                                               t.paths = w.targets;
                                               t.size_bytes = 1 << 30;
                                               return t;
                                             }});
}

struct Capture : LoadSink {
  int64_t start_ns = 0;
  std::vector<IntervalStats> intervals;
  std::vector<StallRecord> stalls;
  std::vector<Event> events;
  LoadSummary summary;
  void OnStart(const LoadStartInfo& i) override { start_ns = i.start_ns; }
  void OnInterval(const IntervalReport& r) override { intervals.push_back(*r.total); }
  void OnStall(const StallRecord& s) override { stalls.push_back(s); }
  void OnEvent(const Event& e) override { events.push_back(e); }
  void OnFinish(const LoadSummary& s) override { summary = s; }
};

Workload FakeWorkload() {
  Workload w;
  w.engine = "fake";
  w.targets = {"fake0"};
  w.queue_depth = 4;
  w.duration_ns = 1'500'000'000;
  w.interval_ns = 100'000'000;
  w.stall_threshold_ns = 50'000'000;
  w.stuck_threshold_ns = 200'000'000;
  return w;
}

}  // namespace

TEST_CASE("A freeze becomes one stall with start and end to the millisecond, and zero rows, not gaps" *
          doctest::test_suite("integration")) {
  RegisterFake();
  g_script = FakeScript{100'000, 300'000'000, 800'000'000, 0};
  LoadGenerator gen(FakeWorkload());
  Capture cap;
  gen.AddSink(&cap);
  REQUIRE(gen.Prepare().ok());
  REQUIRE(gen.Run().ok());

  // The freeze (300 to 800 ms after the first I/O) is one stall, timed by the
  // job's own completions: from the last batch the engine delivered before it
  // to the first after it. A busy machine can run the job thread late, which
  // moves those deliveries (and may add a short stall of its own), never the
  // rule, so the check brackets each end between the engine's return and the
  // job's next call.
  const int64_t freeze_end = g_first_queued_ns + 800'000'000;
  std::vector<size_t> deliveries;
  for (size_t k = 0; k < g_reaps.size(); ++k)
    if (g_reaps[k].n > 0) deliveries.push_back(k);
  auto after_it = std::find_if(deliveries.begin(), deliveries.end(),
                               [&](size_t k) { return g_reaps[k].returned_ns >= freeze_end; });
  REQUIRE(after_it != deliveries.end());
  REQUIRE(after_it != deliveries.begin());
  const size_t after = *after_it, before = *(after_it - 1);
  auto ends_freeze = [&](const StallRecord& r) { return r.start_ns < freeze_end && r.end_ns >= freeze_end; };
  REQUIRE(std::count_if(cap.stalls.begin(), cap.stalls.end(), ends_freeze) == 1);
  const StallRecord& s = *std::find_if(cap.stalls.begin(), cap.stalls.end(), ends_freeze);
  auto next_call = [&](size_t k) { return k + 1 < g_reaps.size() ? g_reaps[k + 1].called_ns : INT64_MAX; };
  CHECK(s.start_ns >= g_reaps[before].returned_ns);
  CHECK(s.start_ns <= next_call(before));
  CHECK(s.end_ns >= g_reaps[after].returned_ns);
  CHECK(s.end_ns <= next_call(after));
  // The first I/O is queued at load start; completions are seen late, never early.
  CHECK(double(s.start_ns - cap.start_ns) / 1e6 > 298);
  CHECK(s.end_ns >= freeze_end);
  CHECK(s.inflight == 4);

  // Every interval is there, in order, with zeros while frozen.
  REQUIRE(cap.intervals.size() >= 15);
  for (size_t i = 0; i < cap.intervals.size(); ++i) CHECK(cap.intervals[i].index == int64_t(i));
  uint64_t delivered = 0, counted = 0;
  for (size_t k : deliveries) delivered += uint64_t(g_reaps[k].n);
  for (const auto& iv : cap.intervals) counted += iv.op[0].ios;
  CHECK(counted == delivered);
  int inside = 0;
  for (const auto& iv : cap.intervals) {
    if (iv.start_ns <= s.start_ns || iv.end_ns > s.end_ns) continue;
    CAPTURE(iv.index);
    ++inside;
    CHECK(iv.op[0].ios == 0);
    CHECK(iv.inflight == 4);
    CHECK(iv.stall_active);
    CHECK(iv.oldest_inflight_age_ns >= iv.end_ns - s.start_ns);
  }
  CHECK(inside >= 1);  // 3 unless the job thread ran hundreds of ms late
  CHECK(cap.intervals[1].op[0].ios > 0);
  // The stuck-I/O watchdog fired during the freeze.
  CHECK(std::count_if(cap.events.begin(), cap.events.end(), [&](const Event& e) {
          return e.kind == "io_stuck" && e.mono_ns > s.start_ns && e.mono_ns <= s.end_ns;
        }) == 1);
  CHECK(cap.summary.stalls == cap.stalls.size());
  int64_t longest = 0;
  for (const StallRecord& r : cap.stalls) longest = std::max(longest, r.end_ns - r.start_ns);
  CHECK(cap.summary.longest_stall_ns == longest);
}

TEST_CASE("Rate-limited load keeps its schedule, measures from it, and does not burst after a stall" *
          doctest::test_suite("integration")) {
  RegisterFake();
  g_script = FakeScript{50'000, 400'000'000, 600'000'000, 0};
  Workload w = FakeWorkload();
  w.rate_iops = 2000;
  w.duration_ns = 1'000'000'000;
  LoadGenerator gen(w);
  Capture cap;
  gen.AddSink(&cap);
  REQUIRE(gen.Prepare().ok());
  REQUIRE(gen.Run().ok());
  // Every I/O issued is counted in an interval (the summary leaves out the
  // drain after the end), and every skip as missed in one.
  uint64_t ios = 0, missed = 0;
  for (const auto& iv : cap.intervals) ios += iv.op[0].ios, missed += iv.missed_ios;
  REQUIRE(g_queued.size() == ios);
  // 2000 IOPS: a slot every 500 us from the load's start. Each I/O takes the
  // next slot; one issued more than a slot late skips the slots it was late
  // for (counted as missed) instead of issuing them in a burst. Checked I/O by
  // I/O, so a busy machine that runs the job thread late only moves the
  // figures, never the check.
  const int64_t period = 500'000;
  CHECK(g_queued[0].sched_ns == cap.start_ns);
  uint64_t skipped = 0;
  for (size_t k = 0; k < g_queued.size(); ++k) {
    CAPTURE(k);
    const QueuedIo& io = g_queued[k];
    CHECK(io.submit_ns >= io.sched_ns);
    int64_t late = io.submit_ns - io.sched_ns;
    int64_t behind = late > period ? late / period : 0;
    if (k + 1 < g_queued.size()) CHECK(g_queued[k + 1].sched_ns - io.sched_ns == (behind + 1) * period);
    skipped += uint64_t(behind);
  }
  CHECK(missed == skipped);
  CHECK(g_queued.back().sched_ns < cap.start_ns + w.duration_ns);
  CHECK(ios + missed <= 2000);
  // Of the freeze's 400 slots, the 4 that fill the queue are issued, and the
  // oldest of those after it carries the wait; the rest are skipped.
  const int64_t from = g_first_queued_ns + 400'000'000, to = g_first_queued_ns + 600'000'000;
  auto in_freeze = std::count_if(g_queued.begin(), g_queued.end(),
                                 [&](const QueuedIo& io) { return io.sched_ns >= from && io.sched_ns < to; });
  CHECK(in_freeze <= 5);
  CHECK(cap.summary.missed_ios >= 395);
  // Latency is measured from the schedule: the stalled I/Os carry the freeze.
  CHECK(cap.summary.op[0].latency.max() > 195'000'000);
  CHECK(cap.summary.op[0].latency.Percentile(0.5) < 1'000'000);
  // After the freeze, the interval holds the schedule, not a catch-up burst.
  CHECK(cap.intervals[7].op[0].ios < 215);
}

TEST_CASE("I/O errors are counted by errno and op, and --max-errors stops the load" *
          doctest::test_suite("unit")) {
  RegisterFake();
  g_script = FakeScript{100'000, 0, 0, 10};
  Workload w = FakeWorkload();
  w.duration_ns = 300'000'000;
  {
    LoadGenerator gen(w);
    Capture cap;
    gen.AddSink(&cap);
    REQUIRE(gen.Prepare().ok());
    REQUIRE(gen.Run().ok());
    CHECK(cap.summary.errors_total > 100);
    CHECK(cap.summary.errors_by_errno[0][EIO] == cap.summary.errors_total);
    CHECK(cap.summary.stop_reason == "runtime");
    CHECK(std::count_if(cap.events.begin(), cap.events.end(),
                        [](const Event& e) { return e.kind == "io_error"; }) == 1);
  }
  w.max_errors = 5;
  LoadGenerator gen(w);
  Capture cap;
  gen.AddSink(&cap);
  REQUIRE(gen.Prepare().ok());
  REQUIRE(gen.Run().ok());
  CHECK(cap.summary.stop_reason == "max-errors");
  CHECK(cap.summary.errors_total >= 5);
  CHECK(cap.summary.errors_total < 10);
}

namespace {
// Every job's intervals as well as the merged one.
struct JobCapture : Capture {
  std::vector<std::vector<IntervalStats>> jobs;
  void OnInterval(const IntervalReport& r) override {
    Capture::OnInterval(r);
    jobs.resize(r.jobs.size());
    for (size_t i = 0; i < r.jobs.size(); ++i) {
      if (r.jobs[i]) jobs[i].push_back(*r.jobs[i]);
    }
  }
};

void CheckCompletionTimes(const IntervalStats& s) {
  CAPTURE(s.index);
  if (s.op[0].ios + s.op[1].ios == 0) {
    CHECK(s.first_completion_ns == 0);
    CHECK(s.last_completion_ns == 0);
    return;
  }
  CHECK(s.first_completion_ns >= s.start_ns);
  CHECK(s.first_completion_ns <= s.last_completion_ns);
  CHECK(s.last_completion_ns <= s.end_ns);
}
}  // namespace

TEST_CASE(
    "An interval's first and last completion lie inside it and time a freeze to the completion, not the "
    "interval" *
    doctest::test_suite("integration")) {
  RegisterFake();
  g_script = FakeScript{100'000, 300'000'000, 800'000'000, 0};
  Workload w = FakeWorkload();
  w.jobs = 2;
  w.duration_ns = 1'200'000'000;
  TempDir dir;
  Journal journal;
  REQUIRE(journal.Create(dir.path(), "completions", ClockAnchor::Take()).ok());
  JournalSink journal_sink(&journal);
  LoadGenerator gen(w);
  JobCapture cap;
  gen.AddSink(&cap);
  gen.AddSink(&journal_sink);
  REQUIRE(gen.Prepare().ok());
  REQUIRE(gen.Run().ok());
  journal.Close();
  REQUIRE(journal_sink.status().ok());

  REQUIRE(cap.intervals.size() >= 12);
  CHECK(cap.intervals[0].first_completion_ns > cap.start_ns);
  for (const auto& s : cap.intervals) CheckCompletionTimes(s);
  // The merged interval spans its jobs' first and last completions.
  REQUIRE(cap.jobs.size() == 2);
  for (size_t i = 0; i < cap.intervals.size(); ++i) {
    const IntervalStats& m = cap.intervals[i];
    int64_t first = 0, last = 0;
    for (const auto& job : cap.jobs) {
      for (const auto& s : job) {
        if (s.index != m.index) continue;
        CheckCompletionTimes(s);
        if (s.first_completion_ns && (!first || s.first_completion_ns < first)) first = s.first_completion_ns;
        last = std::max(last, s.last_completion_ns);
      }
    }
    CHECK(m.first_completion_ns == first);
    CHECK(m.last_completion_ns == last);
  }
  // Each job's stall starts at the last completion of the interval it began in
  // and ends at the first completion of the interval it ended in.
  // Each job's longest is its freeze; a job thread run late by a busy machine
  // may add a short one, and the rule holds for it as well.
  REQUIRE(cap.stalls.size() >= 2);
  const StallRecord* freeze[2] = {nullptr, nullptr};
  for (const StallRecord& st : cap.stalls) {
    REQUIRE(st.job >= 0);
    REQUIRE(st.job < 2);
    const StallRecord*& f = freeze[st.job];
    if (!f || st.end_ns - st.start_ns > f->end_ns - f->start_ns) f = &st;
  }
  REQUIRE(freeze[0]);
  REQUIRE(freeze[1]);
  for (const StallRecord& st : cap.stalls) {
    CAPTURE(st.job);
    int found = 0;
    for (const auto& s : cap.jobs[size_t(st.job)]) {
      if (s.start_ns <= st.start_ns && st.start_ns < s.end_ns) {
        CHECK(s.last_completion_ns == st.start_ns);
        ++found;
      }
      if (s.start_ns <= st.end_ns && st.end_ns < s.end_ns) {
        CHECK(s.first_completion_ns == st.end_ns);
        ++found;
      }
    }
    CHECK(found == 2);
  }

  // The journal's "all" samples: UTC fields inside their interval, absent without
  // completions, and the gap they give is the 500 ms freeze, not the 600 ms
  // between the ends of the intervals around it.
  int64_t before_freeze = 0, after_freeze = 0, with_times = 0;
  bool in_freeze = false;
  for (const auto& rec : ReadJsonl(journal.PathOf("samples.jsonl"))) {
    std::string line = rec.dump();
    if (rec["job"] != "all") continue;
    uint64_t ios = rec["read"]["ios"].get<uint64_t>() + rec["write"]["ios"].get<uint64_t>();
    CAPTURE(line);
    if (!ios) {
      CHECK(!rec.contains("first_completion_utc_ns"));
      CHECK(!rec.contains("last_completion_utc_ns"));
      in_freeze = in_freeze || before_freeze;
      continue;
    }
    ++with_times;
    int64_t end = rec["t_utc_ns"].get<int64_t>();
    int64_t start = end - int64_t(std::llround(rec["interval_s"].get<double>() * 1e9));
    int64_t first = rec["first_completion_utc_ns"].get<int64_t>(),
            last = rec["last_completion_utc_ns"].get<int64_t>();
    CHECK(first >= start - 1'000'000);  // interval_s is rounded to the millisecond
    CHECK(first <= last);
    CHECK(last <= end);
    if (!in_freeze) before_freeze = last;
    if (in_freeze && !after_freeze) after_freeze = first;
  }
  CHECK(with_times >= 8);
  REQUIRE(before_freeze > 0);
  REQUIRE(after_freeze > 0);
  double gap_ms = double(after_freeze - before_freeze) / 1e6;
  MESSAGE("500 ms freeze: " << gap_ms << " ms between the completions around it");
  // From the last job to stop completing to the first to resume: the jobs'
  // own stalls, to the nanosecond (UTC and monotonic differ by one offset),
  // not the 600 ms between the ends of the intervals around the freeze.
  CHECK(after_freeze - before_freeze == std::min(freeze[0]->end_ns, freeze[1]->end_ns) -
                                            std::max(freeze[0]->start_ns, freeze[1]->start_ns));
}

}  // namespace fb
