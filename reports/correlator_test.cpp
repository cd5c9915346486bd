// The correlator on hand-made journals with known answers.
#include "reports/correlator.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>

#include "core/jsonl_writer.h"
#include "reports/report.h"
#include "tests/support/journal_fixture.h"
#include "tests/support/test_util.h"

namespace fb::reports {

namespace {

using testing::JournalFixture;
using testing::WriteCutJournal;

}  // namespace

TEST_CASE("correlator: one fault with a stall inside and one outside, events, budgets, verdict" *
          doctest::test_suite("unit")) {
  TempDir tmp;
  WriteCutJournal(tmp.path());
  auto a = AnalyzeRun(tmp.path());
  REQUIRE(a.ok());
  CHECK(a->baseline.source == "phase baseline");
  CHECK(a->baseline.total.iops.n == 70);  // 0 .. 7 s
  CHECK(a->baseline.total.iops.mean == doctest::Approx(1000));
  CHECK(a->baseline.total.iops.stddev == doctest::Approx(10.07).epsilon(0.01));
  CHECK(a->baseline.total.p99_us.median == doctest::Approx(500));
  REQUIRE(a->faults.size() == 1);
  const FaultWindow& f = a->faults[0];
  CHECK(f.injector == "cut");
  CHECK(f.inject_utc_ns == testing::At(8000));
  CHECK(*f.revert_utc_ns == testing::At(12000));
  CHECK(f.settle_end_utc_ns == testing::At(20000));
  // Only the stall inside the window, to the nanosecond of the journal.
  REQUIRE(f.stalls.size() == 1);
  CHECK(f.stalls[0].stall.length_ns() == 1'911'000'000);
  CHECK(f.stalls[0].start_offset_ms == doctest::Approx(12));
  CHECK(f.stalls[0].end_offset_ms == doctest::Approx(1923));
  CHECK(*f.longest_stall_ms == doctest::Approx(1911));
  CHECK(*f.first_impact_ms == doctest::Approx(12));
  CHECK(*f.first_completion_ms == doctest::Approx(1923));
  // The baseline's stall (6.000 .. 6.150 s) overlaps no fault window: listed
  // on its own, timed from the load's start, bracketed by the phase markers,
  // which never explain it; no platform event does.
  REQUIRE(a->other_stalls.size() == 1);
  const StallView& o = a->other_stalls[0];
  CHECK(o.start_offset_ms == doctest::Approx(6000));
  CHECK(o.end_offset_ms == doctest::Approx(6150));
  CHECK(o.stall.length_ns() == 150'000'000);
  CHECK_FALSE(o.started_by);
  CHECK_FALSE(o.ended_by);
  REQUIRE(o.before);
  CHECK(o.before->kind == "phase");
  REQUIRE(o.after);
  CHECK(o.after->kind == "phase");
  // Bracketing events: the last before its start, the first after its end.
  REQUIRE(f.stalls[0].before);
  CHECK(f.stalls[0].before->kind == "fault_injected");
  REQUIRE(f.stalls[0].after);
  CHECK(f.stalls[0].after->kind == "path_reinstated");
  // Explaining events: the injection began it (no platform event near its
  // start; the phase marker and the step record never count), the mediator's
  // decision 13 ms before its end ended it.
  REQUIRE(f.stalls[0].started_by);
  CHECK(f.stalls[0].started_by->kind == "fault_injected");
  REQUIRE(f.stalls[0].ended_by);
  CHECK(f.stalls[0].ended_by->kind == "mediator_won");
  CHECK(ExplainText(f.stalls[0].ended_by, f.stalls[0].stall.end_utc_ns, "end", f.inject_utc_ns) ==
        "+1.910 s mediator_won (array-b), 13 ms before its end");
  // The chain: in order, offsets from the injection, the stall's ends derived,
  // the runner's step records left out, nothing after the window.
  std::vector<std::string> kinds;
  for (const auto& c : f.chain) kinds.push_back(c.kind);
  CHECK(kinds == std::vector<std::string>{"fault_injected", "stall_begins", "probe_error", "mediator_won",
                                          "stall_ends", "path_reinstated", "fault_reverted", "resync_start",
                                          "resync_done", "path_failed", "load_finished"});
  CHECK(f.chain[3].offset_ms == doctest::Approx(1910));
  CHECK(f.chain[4].offset_ms == doctest::Approx(1923));
  CHECK(f.chain[4].derived);
  REQUIRE(f.blind_probes.size() == 1);
  CHECK(f.blind_probes[0].rfind("xapi (probe_error", 0) == 0);
  // Latency over the impact window: the held I/Os' 1.911 s.
  CHECK(*f.max_latency_us == doctest::Approx(1911000));
  CHECK(*f.degraded_iops == doctest::Approx(600));
  CHECK(*f.degraded_iops_pct == doctest::Approx(60));
  CHECK(*f.resync_ms == doctest::Approx(1400));
  CHECK(*f.repair_iops == doctest::Approx(800));
  // Recovered: the first of 3 good intervals ends at 13.6 s.
  REQUIRE(f.recovered_ms);
  CHECK(*f.recovered_ms == doctest::Approx(1600));
  CHECK(f.errors == 0);
  // Budgets from platform: iSCSI 5+5+15 s (+5 s polling), no_path_retry 0, HA 60 s.
  REQUIRE(a->budgets.size() == 3);
  CHECK(a->budgets[0].name == "iscsi_path_loss");
  CHECK(a->budgets[0].allows_ns == 30'000'000'000);
  CHECK(a->budgets[1].allows_ns == 0);
  CHECK_FALSE(f.stalls[0].over_budget);
  CHECK(f.stalls[0].explained_by == "iscsi_path_loss");
  // Expectations: run max_stall passes, the fault's 1 s max_stall fails with 1.911 s.
  std::map<std::string, const Verdict*> v;
  for (const auto& x : a->verdicts) v[x.scope + " " + x.check] = &x;
  REQUIRE(v.count("run max_stall"));
  CHECK(v["run max_stall"]->pass);
  REQUIRE(v.count("fault cut#1 max_stall"));
  CHECK_FALSE(v["fault cut#1 max_stall"]->pass);
  CHECK(v["fault cut#1 max_stall"]->measured == "1.911s");
  CHECK(*v["fault cut#1 max_stall"]->measured_value == doctest::Approx(1911));
  CHECK(v["fault cut#1 recovery"]->pass);
  CHECK(v["fault cut#1 io_errors"]->pass);
  CHECK(a->verdict == "fail");
  CHECK(a->ExitCode() == 1);
  CHECK(a->warnings.empty());
}

TEST_CASE("correlator: a probe that dropped lines inside a fault window is listed as blind" *
          doctest::test_suite("unit")) {
  TempDir tmp;
  WriteCutJournal(tmp.path());
  {
    std::ofstream events(tmp.path() + "/events.jsonl", std::ios::app);
    events << nlohmann::json{{"t_utc_ns", testing::At(10500)},
                             {"t_rel_s", 10.5},
                             {"source", "mpath"},
                             {"kind", "probe_overflow"},
                             {"severity", "warning"},
                             {"message", "probe mpath: 120 lines dropped"},
                             {"attrs", {{"lines_dropped", 120}, {"queue_lines", 4096}}}}
                  .dump()
           << "\n";
  }
  auto a = AnalyzeRun(tmp.path());
  REQUIRE(a.ok());
  REQUIRE(a->faults.size() == 1);
  const auto& blind = a->faults[0].blind_probes;
  INFO("blind: " << nlohmann::json(blind).dump());
  REQUIRE(blind.size() == 2);
  CHECK(std::count_if(blind.begin(), blind.end(),
                      [](const std::string& b) { return b.rfind("mpath (probe_overflow", 0) == 0; }) == 1);
}

TEST_CASE("correlator: recovery never reached" * doctest::test_suite("unit")) {
  TempDir tmp;
  WriteCutJournal(tmp.path(), /*recovers=*/false);
  auto a = AnalyzeRun(tmp.path());
  REQUIRE(a.ok());
  REQUIRE(a->faults.size() == 1);
  CHECK_FALSE(a->faults[0].recovered_ms);
  CHECK(a->faults[0].recovery_note == "not reached");
  bool seen = false;
  for (const auto& v : a->verdicts) {
    if (v.check == "recovery") {
      seen = true;
      CHECK_FALSE(v.pass);
      CHECK(v.measured == "not reached");
    }
  }
  CHECK(seen);
}

TEST_CASE("correlator: a truncated last line is tolerated and reported" * doctest::test_suite("unit")) {
  TempDir tmp;
  WriteCutJournal(tmp.path(), true, /*cut_tail=*/true);
  auto a = AnalyzeRun(tmp.path());
  REQUIRE(a.ok());
  REQUIRE(a->warnings.size() == 1);
  CHECK(a->warnings[0].find("events.jsonl:14: last line cut short") != std::string::npos);
  CHECK(a->faults.size() == 1);
}

TEST_CASE("correlator: a bad line in the middle, a missing directory, a missing run.json are errors" *
          doctest::test_suite("unit")) {
  TempDir tmp;
  WriteCutJournal(tmp.path());
  { std::ofstream(tmp.path() + "/stalls.jsonl") << "{\"job\":0}\nnot json\n{\"job\":0}\n"; }
  auto a = AnalyzeRun(tmp.path());
  REQUIRE_FALSE(a.ok());
  CHECK(a.status().message() == tmp.path() + "/stalls.jsonl:2: not a JSON record");
  CHECK(a.status().exit_code() == kExitUsage);
  auto b = AnalyzeRun(tmp.path() + "/nope");
  REQUIRE_FALSE(b.ok());
  CHECK(b.status().message().find("not a run directory") != std::string::npos);
}

TEST_CASE("correlator: a load-only journal: no fault window, baseline is the whole run" *
          doctest::test_suite("unit")) {
  TempDir tmp;
  JournalFixture j(tmp.path());
  j.Run(1.0);
  for (int i = 0; i < 10; ++i) j.Sample(i, (i + 1) * 1000.0, 2000 + i, 300, 900);
  j.Event(0, "loadgen", "load_started");
  // A path lost and back with nobody injecting anything: its stall is still
  // explained.
  j.Event(3995, "multipath", "path_failed", {}, "sdb: mark as failed");
  j.Stall(4000, 5990);
  j.Event(5988, "multipath", "path_reinstated", {}, "sdb: reinstated");
  j.Event(10000, "loadgen", "load_finished");
  j.Flush();
  auto a = AnalyzeRun(tmp.path());
  REQUIRE(a.ok());
  CHECK(a->faults.empty());
  REQUIRE(a->other_stalls.size() == 1);
  const StallView& o = a->other_stalls[0];
  CHECK(o.start_offset_ms == doctest::Approx(4000));
  REQUIRE(o.started_by);
  CHECK(o.started_by->kind == "path_failed");
  REQUIRE(o.ended_by);
  CHECK(o.ended_by->kind == "path_reinstated");
  CHECK(ExplainText(o.started_by, o.stall.start_utc_ns, "start", testing::kT0) ==
        "+3.995 s path_failed (multipath), 5 ms before its start");
  CHECK(a->baseline.source == "whole run");
  CHECK(a->baseline.total.iops.n == 10);
  CHECK(a->baseline.total.iops.median == doctest::Approx(2004.5));
  CHECK(a->verdicts.empty());
  CHECK(a->verdict == "pass");
  CHECK(a->ExitCode() == 0);
}

TEST_CASE("stall budgets: a stall longer than every budget names the largest" * doctest::test_suite("unit")) {
  PlatformTimeouts p;
  p.iscsi_noop_out_interval_ns = 5'000'000'000;
  p.iscsi_noop_out_timeout_ns = 5'000'000'000;
  p.iscsi_replacement_timeout_ns = 15'000'000'000;
  auto budgets = StallBudgets(p);
  REQUIRE(budgets.size() == 1);
  CHECK(budgets[0].allows_ns == 25'000'000'000);
  StallView v;
  v.stall.start_utc_ns = 0;
  v.stall.end_utc_ns = 31'000'000'000;
  ApplyBudgets(budgets, &v);
  CHECK(v.over_budget);
  CHECK(v.budget_note ==
        "exceeds iscsi_path_loss (25.000s: iscsi.noop_out_interval 5.000s + iscsi.noop_out_timeout 5.000s + "
        "iscsi.replacement_timeout 15.000s) by 6.000s");
  p.multipath_no_path_retry = -1;
  budgets = StallBudgets(p);
  StallView q = v;
  q.over_budget = false;
  ApplyBudgets(budgets, &q);
  CHECK_FALSE(q.over_budget);
  CHECK(q.explained_by == "multipath_no_path_retry");
}

TEST_CASE("correlator: repeated cycles give min/median/max, an unreverted fault" *
          doctest::test_suite("unit")) {
  TempDir tmp;
  JournalFixture j(tmp.path());
  j.Run(0.1);
  j.Plan("name: cycles\nrepeat: 3\nexpect:\n  faults:\n    pause: {max_stall: 2s}\n");
  for (int i = 0; i < 300; ++i) j.Sample(i, (i + 1) * 100.0, 1000, 400, 800);
  double lengths[] = {500, 1500, 1000};
  for (int c = 0; c < 3; ++c) {
    double t = 5000 + c * 8000;
    j.Event(t, "pause", "fault_injected", {{"injector", "pause"}, {"cycle", c}});
    j.Stall(t + 5, t + 5 + lengths[c]);
    if (c < 2) j.Event(t + 3000, "pause", "fault_reverted", {{"injector", "pause"}});
  }
  j.Flush();
  auto a = AnalyzeRun(tmp.path());
  REQUIRE(a.ok());
  REQUIRE(a->faults.size() == 3);
  CHECK(a->faults[1].cycle == 1);
  CHECK_FALSE(a->faults[2].revert_utc_ns);
  CHECK(a->faults[2].recovery_note == "never reverted");
  const CycleStat* st = nullptr;
  for (const auto& c : a->cycles) {
    if (c.metric == "longest_stall_ms") st = &c;
  }
  REQUIRE(st);
  CHECK(st->n == 3);
  CHECK(st->min == doctest::Approx(500));
  CHECK(st->median == doctest::Approx(1000));
  CHECK(st->max == doctest::Approx(1500));
  int checks = 0;
  for (const auto& v : a->verdicts) checks += v.check == "max_stall" && v.pass;
  CHECK(checks == 3);
}

}  // namespace fb::reports

namespace fb::reports {

TEST_CASE("correlator: integrity findings counted in the window where the lost write was acknowledged" *
          doctest::test_suite("unit")) {
  TempDir tmp;
  JournalFixture j(tmp.path());
  j.Run(0.1);
  j.Plan("name: verify-fixture\nexpect:\n  lost_writes: 0\n  faults:\n    cut: {lost_writes: 0}\n");
  for (int i = 0; i < 200; ++i) j.Sample(i, (i + 1) * 100.0, 1000, 500, 1000);
  j.Event(0, "loadgen", "load_started");
  j.Event(8000, "cut", "fault_injected", {{"injector", "cut"}});
  j.Event(12000, "cut", "fault_reverted", {{"injector", "cut"}});
  // Found during the run (acknowledged in the fault) and by the read-back
  // (acknowledged before it, after it, and one without an ack time).
  j.Event(10500, "loadgen", "lost_write", {{"acked_utc_ns", testing::At(9000)}, {"final_pass", false}},
          "block at offset 4096 ...");
  j.Event(20100, "loadgen", "lost_write", {{"acked_utc_ns", testing::At(5000)}, {"final_pass", true}},
          "block at offset 8192 ...");
  j.Event(20200, "loadgen", "misdirected_write",
          {{"acked_utc_ns", testing::At(13000)}, {"final_pass", true}});
  j.Event(20300, "loadgen", "corrupt_block", {{"final_pass", true}});
  j.Event(20400, "loadgen", "load_finished");
  j.Flush();
  // run.json as a verifying load leaves it.
  auto info = nlohmann::json::parse(ReadFile(tmp.path() + "/run.json").value());
  info["load"]["verify"] = {{"verify_block_bytes", 4096}};
  info["load_summary"] = {
      {"verify", {{"blocks_written", 5000}, {"verified_blocks", 4990}, {"final_pass_complete", true}}}};
  REQUIRE(WriteFileAtomic(tmp.path() + "/run.json", info.dump()).ok());

  auto a = AnalyzeRun(tmp.path());
  REQUIRE(a.ok());
  const Integrity& in = a->integrity;
  CHECK(in.verified);
  CHECK(in.blocks_written == 5000);
  CHECK(in.verified_blocks == 4990);
  CHECK(in.final_pass_complete);
  CHECK(in.lost == 2);
  CHECK(in.misdirected == 1);
  CHECK(in.corrupt == 1);
  CHECK(in.phantom == 0);
  REQUIRE(in.windows.size() == 3);
  CHECK(in.windows[0].name == "before the first fault");
  CHECK(in.windows[0].lost == 1);
  CHECK(in.windows[1].name == "during cut#1");
  CHECK(in.windows[1].start_utc_ns == testing::At(8000));
  CHECK(in.windows[1].end_utc_ns == testing::At(12000));
  CHECK(in.windows[1].lost == 1);
  CHECK(in.windows[1].total() == 1);
  CHECK(in.windows[2].name == "after cut#1");
  CHECK(in.windows[2].misdirected == 1);
  CHECK(in.windows[2].corrupt == 1);  // no ack time: placed where it was found, after the load
  REQUIRE(in.findings.size() == 4);
  CHECK(in.findings[0].window == "during cut#1");
  CHECK(in.findings[0].placed_by_ack);
  CHECK(!in.findings[3].placed_by_ack);
  // The expectations agree: 4 in the run, 1 acknowledged inside the fault.
  for (const auto& v : a->verdicts) {
    if (v.check != "lost_writes") continue;
    CHECK(!v.pass);
    CHECK(v.measured == (v.scope == "run" ? "4" : "1"));
  }
  std::string summary = FormatSummary(*a, false);
  CHECK(summary.find("Integrity: 4 finding(s); 5000 blocks written, 4990 verified") != std::string::npos);
  CHECK(summary.find("acknowledged during cut#1") != std::string::npos);
}

TEST_CASE("correlator: a load without verify claims nothing about integrity" * doctest::test_suite("unit")) {
  TempDir tmp;
  WriteCutJournal(tmp.path());
  auto a = AnalyzeRun(tmp.path());
  REQUIRE(a.ok());
  CHECK(!a->integrity.verified);
  CHECK(a->integrity.findings.empty());
  CHECK(FormatSummary(*a, false).find("Integrity: not checked") != std::string::npos);
}

}  // namespace fb::reports

namespace fb::reports {

namespace {

// 10 s at 10 ms intervals, 1000 IOPS, one job of the libiscsi engine with
// io_timeout 2s; the caller adds stalls and events, then it is analyzed.
struct FreezeJournal {
  TempDir tmp;
  testing::JournalFixture j{tmp.path()};
  FreezeJournal() {
    j.Run(0.01);
    j.RunInfo("load", {{"interval_s", 0.01}, {"ramp_s", 0.0}, {"jobs", 1}, {"stall_threshold_ms", 100.0}});
    j.Plan("name: freeze\nworkload: {engine: libiscsi, io_timeout: 2s, no_path_timeout: 30s}\n");
    j.Event(0, "loadgen", "load_started");
    j.Event(0, "runner", "phase", {{"phase", "baseline"}});
  }
  // Intervals: 1000 IOPS except inside [from, to) ms.
  Analysis Analyze(double from, double to, const AnalyzeOptions& opt = {}) {
    for (int i = 0; i < 1000; ++i) {
      double end = (i + 1) * 10.0;
      bool in = end > from && end <= to;
      j.Sample(i, end, in ? 0 : 1000, 500, 1000, 0, in);
    }
    j.Event(10000, "loadgen", "load_finished");
    j.Flush();
    auto a = AnalyzeRun(tmp.path(), opt);
    REQUIRE(a.ok());
    return *a;
  }
};

}  // namespace

TEST_CASE("stall episodes: one freeze split by a late completion is one stall, its gaps kept" *
          doctest::test_suite("unit")) {
  FreezeJournal f;
  f.j.Event(3000, "stop", "fault_injected", {{"injector", "stop"}});
  // The freeze 3.000 .. 4.002 s: one completion at 3.220 s splits it.
  f.j.Stall(3000, 3220, 0, false, 500000);
  f.j.Stall(3220, 4002, 0, false, 1);
  // Later, two stalls with a real 50 ms of I/O between them: two episodes.
  f.j.Stall(6000, 6300, 0, false, 2000);
  f.j.Stall(6350, 6600, 0, false, 50);
  f.j.Event(7000, "stop", "fault_reverted", {{"injector", "stop"}});
  Analysis a = f.Analyze(3000, 4000);
  CHECK(a.raw_stalls == 4);
  REQUIRE(a.journal.stalls.size() == 3);
  const Stall& ep = a.journal.stalls[0];
  CHECK(ep.length_ns() == 1'002'000'000);
  REQUIRE(ep.pieces.size() == 2);
  CHECK(ep.pieces[0] == std::make_pair(testing::At(3000), testing::At(3220)));
  CHECK(ep.trickle_completions == 1);
  CHECK(a.journal.stalls[1].pieces.empty());
  CHECK(a.journal.stalls[2].pieces.empty());
  REQUIRE(a.faults.size() == 1);
  CHECK(*a.faults[0].longest_stall_ms == doctest::Approx(1002));
  // A trickle at under 10% of the normal rate joins stalls further apart than
  // the stall threshold: 10 completions in 150 ms against 150 expected.
  FreezeJournal g;
  g.j.Stall(6000, 6300, 0, false, 2000);
  g.j.Stall(6450, 6600, 0, false, 10);
  Analysis b = g.Analyze(6000, 6600);
  REQUIRE(b.journal.stalls.size() == 1);
  CHECK(b.journal.stalls[0].length_ns() == 600'000'000);
  // The trickle is settable: 2 completions are no longer a trickle.
  FreezeJournal h;
  h.j.Stall(3000, 3220, 0, false, 500000);
  h.j.Stall(3220, 4002, 0, false, 2);
  AnalyzeOptions opt;
  opt.episodes.trickle_completions = 2;
  opt.episodes.trickle_share = 0;
  CHECK(h.Analyze(3000, 4000, opt).journal.stalls.size() == 2);
}

TEST_CASE("stall episodes of a journal without completions_before: the trickle estimated from the intervals" *
          doctest::test_suite("unit")) {
  FreezeJournal f;
  f.j.Stall(3000, 3220);
  f.j.Stall(3220, 4002);  // touching: nothing between them
  f.j.Stall(5000, 5200);
  f.j.Stall(5400, 5600);  // 200 ms of 1000 IOPS between them
  Analysis a = f.Analyze(3000, 4000);
  REQUIRE(a.journal.stalls.size() == 3);
  CHECK(a.journal.stalls[0].length_ns() == 1'002'000'000);
}

TEST_CASE("explaining events and budgets: the engine's io_timeout bounds a path failover, a stall with no "
          "platform event near it says so" *
          doctest::test_suite("unit")) {
  FreezeJournal f;
  f.j.Event(1000, "cut", "fault_injected", {{"injector", "cut"}});
  f.j.Event(2000, "lab", "io_paused", {{"site", "site-a"}});
  // The loser's path hangs from 2.000 s until the engine fails it.
  f.j.Stall(2000, 4004);
  f.j.Event(4002, "libiscsi", "path_failed", {{"portal", "198.18.1.2:3260"}});
  f.j.Event(4003, "runner", "mark", {{"mark", "m"}});
  // A second stall that overruns the engine's budget.
  f.j.Stall(5000, 7200);
  f.j.Event(7199, "libiscsi", "path_failed", {{"portal", "198.18.2.2:3260"}});
  f.j.Event(9500, "cut", "fault_reverted", {{"injector", "cut"}});
  Analysis a = f.Analyze(2000, 4000);
  REQUIRE(a.budgets.size() == 2);
  CHECK(a.budgets[0].name == "engine_path_failover");
  CHECK(a.budgets[0].allows_ns == 2'050'000'000);  // io_timeout + its 50 ms check
  CHECK(a.budgets[1].name == "engine_no_path");
  REQUIRE(a.faults.size() == 1);
  const auto& s = a.faults[0].stalls;
  REQUIRE(s.size() == 2);
  REQUIRE(s[0].started_by);
  CHECK(s[0].started_by->kind == "io_paused");  // a platform event beats the injection 1 s before
  REQUIRE(s[0].ended_by);
  CHECK(s[0].ended_by->kind == "path_failed");  // not the mark 1 ms closer
  CHECK_FALSE(s[0].over_budget);
  CHECK(s[0].explained_by == "engine_path_failover");
  CHECK(s[1].over_budget);
  CHECK(s[1].budget_note ==
        "exceeds engine_path_failover (2.050s: workload.io_timeout 2.000s + the engine's timeout check 50ms) by 150ms");
  std::string text = FormatSummary(a, false);
  CHECK(text.find("started by +1.000 s io_paused (lab), at its start; ended by +3.002 s path_failed (libiscsi), 2 ms "
                  "before its end") != std::string::npos);
  // A stall with nothing but phase markers near it.
  FreezeJournal g;
  g.j.Event(1000, "cut", "fault_injected", {{"injector", "cut"}});
  g.j.Event(8000, "runner", "phase", {{"phase", "tail"}});
  g.j.Stall(8100, 8400);
  g.j.Event(8401, "runner", "mark", {{"mark", "m"}});
  g.j.Event(9900, "cut", "fault_reverted", {{"injector", "cut"}});
  Analysis b = g.Analyze(0, 0);
  REQUIRE(b.faults.size() == 1);
  REQUIRE(b.faults[0].stalls.size() == 1);
  CHECK_FALSE(b.faults[0].stalls[0].started_by);
  CHECK_FALSE(b.faults[0].stalls[0].ended_by);
  CHECK(FormatSummary(b, false).find(kUnexplained) != std::string::npos);
  // Without any stated setting the budget says so.
  StallView v;
  v.stall.end_utc_ns = 1;
  ApplyBudgets({}, &v);
  CHECK(v.budget_note.find("no stated setting bounds it") == 0);
}

TEST_CASE("integrity: the agents' writes and checks count beside the controller's, a missing read-back names "
          "its load, no rows of zeros" *
          doctest::test_suite("unit")) {
  FreezeJournal f;
  f.j.Event(3000, "cut", "fault_injected", {{"injector", "cut"}});
  f.j.Event(5000, "cut", "fault_reverted", {{"injector", "cut"}});
  nlohmann::json done = {{"stop_reason", "runtime"},
                         {"verify", {{"blocks_written", 10367}, {"verified_blocks", 9000}, {"final_pass_complete", true}}}};
  nlohmann::json cut = {{"stop_reason", "interrupted"},
                        {"verify", {{"blocks_written", 633}, {"verified_blocks", 0}, {"final_pass_complete", false}}}};
  f.j.RunInfo("agent_results", nlohmann::json::array({{{"name", "vm-1"}, {"status", "completed"}, {"load_summary", done}},
                                                      {{"name", "vm-2"}, {"status", "interrupted"}, {"load_summary", cut}}}));
  f.j.Event(6000, "runner", "agent_disk_checked", {{"checked", 2458}, {"bad", 0}}, "vm-2: 2458 blocks checked");
  Analysis a = f.Analyze(0, 0);
  const Integrity& in = a.integrity;
  CHECK(in.verified);
  CHECK(in.blocks_written == 11000);
  CHECK(in.verified_blocks == 9000 + 2458);
  CHECK_FALSE(in.final_pass_complete);
  REQUIRE(in.read_back_missing.size() == 1);
  CHECK(in.read_back_missing[0] == "vm-2 (its load stopped: interrupted)");
  std::string text = FormatSummary(a, false);
  CHECK(text.find("Integrity: 0 finding(s); 11000 blocks written, 11458 verified, read-back after the run not done for "
                  "vm-2 (its load stopped: interrupted)") != std::string::npos);
  CHECK(text.find("no finding in any window (before the first fault, during cut#1, after cut#1)") != std::string::npos);
  CHECK(text.find("acknowledged during cut#1") == std::string::npos);
  std::string html = FormatHtml(a);
  CHECK(html.find("No finding in any window") != std::string::npos);
  CHECK(html.find("<th>acknowledged</th>") == std::string::npos);
}

}  // namespace fb::reports

namespace fb::reports {

TEST_CASE("platform operations: a live migration's tasks, each load's pause, what moved, max_pause and "
          "all_vms_moved judged" *
          doctest::test_suite("unit")) {
  FreezeJournal f;
  f.j.RunInfo("agents", nlohmann::json::array({{{"name", "vm-1"}}, {{"name", "vm-2"}}}));
  f.j.Plan(
      "name: ops\n"
      "expect:\n"
      "  faults:\n"
      "    migrate: {max_pause: 500ms}\n"
      "    evacuate: {all_vms_moved: true, max_pause: 100ms}\n");
  // vm_migrate: the task runs 2.000 .. 2.600 s; vm-1's load pauses 312 ms at the switchover.
  nlohmann::json a = {{"injector", "migrate"}, {"action", "vm_migrate"}, {"task", "OpaqueRef:task-1"}};
  auto with = [](nlohmann::json j, nlohmann::json more) {
    for (const auto& [k, v] : more.items()) j[k] = v;
    return j;
  };
  f.j.Event(2000, "migrate", "xapi_task_started",
            with(a, {{"method", "VM.pool_migrate"}, {"about", "vm-1 -> host-2"}, {"step", "inject"}}));
  f.j.AgentStall("vm-1", 2300, 2612);
  f.j.Event(2550, "xapi", "vm_moved", {{"vm", "vm-1"}, {"host", "host-2"}, {"previous_host", "host-1"}});
  f.j.Event(2600, "migrate", "xapi_task_done",
            with(a, {{"method", "VM.pool_migrate"}, {"status", "success"}, {"duration_ms", 600.0}, {"step", "inject"}}));
  f.j.Event(2601, "migrate", "fault_injected", {{"injector", "migrate"}});
  f.j.Event(4000, "migrate", "fault_reverted", {{"injector", "migrate"}});
  // host_evacuate of host-2 running vm-1 and vm-2: only vm-1 moves.
  nlohmann::json b = {{"injector", "evacuate"}, {"action", "host_evacuate"}, {"task", "OpaqueRef:task-2"}};
  f.j.Event(5000, "evacuate", "xapi_host_vms", with(b, {{"host", "host-2"}, {"vms", {"vm-1", "vm-2"}}}));
  f.j.Event(5010, "evacuate", "xapi_task_started",
            with(b, {{"method", "host.evacuate"}, {"about", "host-2"}, {"step", "inject"}}));
  f.j.AgentStall("vm-2", 5100, 5250);
  f.j.Event(5200, "xapi", "vm_moved", {{"vm", "vm-1"}, {"host", "host-1"}, {"previous_host", "host-2"}});
  f.j.Event(5400, "evacuate", "xapi_task_done",
            with(b, {{"method", "host.evacuate"}, {"status", "failure"}, {"error", "HOST_NOT_ENOUGH_FREE_MEMORY"},
                     {"duration_ms", 390.0}, {"step", "inject"}}));
  f.j.Event(5401, "evacuate", "fault_injected", {{"injector", "evacuate"}});
  f.j.Event(7000, "evacuate", "fault_reverted", {{"injector", "evacuate"}});
  Analysis an = f.Analyze(0, 0);
  REQUIRE(an.faults.size() == 2);
  REQUIRE(an.faults[0].operation);
  const OperationView& m = *an.faults[0].operation;
  CHECK(m.action == "vm_migrate");
  REQUIRE(m.tasks.size() == 1);
  CHECK(m.tasks[0].method == "VM.pool_migrate");
  CHECK(m.tasks[0].status == "success");
  CHECK(*m.tasks[0].duration_ms == doctest::Approx(600));
  CHECK(m.pause_ms.at("vm-1") == doctest::Approx(312));
  CHECK(m.pause_ms.at("vm-2") == 0);
  CHECK(m.moved == std::vector<std::string>{"vm-1: host-1 -> host-2"});
  REQUIRE(an.faults[1].operation);
  const OperationView& e = *an.faults[1].operation;
  CHECK(e.host == "host-2");
  CHECK(e.not_moved == std::vector<std::string>{"vm-2"});
  CHECK(e.tasks[0].error == "HOST_NOT_ENOUGH_FREE_MEMORY");
  CHECK(e.pause_ms.at("vm-2") == doctest::Approx(150));
  CHECK(e.pause_ms.at("vm-1") == 0);  // its stall of the migration is not this operation's
  auto verdict = [&](const std::string& scope, const std::string& check) -> const Verdict* {
    for (const auto& v : an.verdicts)
      if (v.scope == scope && v.check == check) return &v;
    return nullptr;
  };
  const Verdict* pause = verdict("fault migrate#1", "max_pause");
  REQUIRE(pause);
  CHECK(pause->pass);
  CHECK(pause->measured == "312ms (vm-1)");
  const Verdict* moved = verdict("fault evacuate#1", "all_vms_moved");
  REQUIRE(moved);
  CHECK_FALSE(moved->pass);
  CHECK(moved->measured == "still on host-2: vm-2");
  const Verdict* pause2 = verdict("fault evacuate#1", "max_pause");
  REQUIRE(pause2);
  CHECK_FALSE(pause2->pass);
  std::string text = FormatSummary(an, false);
  CHECK(text.find("VM.pool_migrate vm-1 -> host-2: success in 600ms") != std::string::npos);
  CHECK(text.find("moved off              1 of 2 VMs of host-2") != std::string::npos);
  auto json = ReportToJson(an);
  CHECK(json["faults"][0]["operation"]["pause_ms"]["vm-1"] == 312);
  CHECK(json["faults"][1]["operation"]["not_moved"] == nlohmann::json::array({"vm-2"}));
}

}  // namespace fb::reports

namespace fb::reports {

TEST_CASE("platform operations: a master change says how long XAPI did not answer the xapi probe, and who "
          "took over" *
          doctest::test_suite("unit")) {
  auto run = [](bool blind, bool probe) {
    FreezeJournal f;
    f.j.RunInfo("agents", nlohmann::json::array({{{"name", "vm-1"}}}));
    nlohmann::json a = {{"injector", "master"}, {"action", "designate_master"}, {"task", "OpaqueRef:task-1"}};
    a["method"] = "pool.designate_new_master";
    a["about"] = "host-2";
    a["step"] = "inject";
    f.j.Event(2000, "master", "xapi_task_started", a);
    a["status"] = "success";
    a["duration_ms"] = 150.0;
    f.j.Event(2150, "master", "xapi_task_done", a);
    f.j.Event(2250, "master", "xapi_master_ready",
              {{"injector", "master"}, {"master", "host-2"}, {"wait_ms", 100.0}, {"step", "inject"}});
    f.j.Event(2251, "master", "fault_injected", {{"injector", "master"}});
    if (probe) {
      f.j.Event(2300, "xapi", "master_changed", {{"master", "host-2"}, {"previous_master", "host-1"}});
      if (blind) {
        f.j.Event(2200, "xapi", "probe_error", {{"url", "http://198.18.10.11"}});
        f.j.Event(2650, "xapi", "probe_recovered", {{"blind_ms", 450.25}, {"url", "http://198.18.10.12"}},
                  "probe xapi: pool master http://198.18.10.12 answers again");
      }
    }
    f.j.Event(5000, "master", "fault_reverted", {{"injector", "master"}});
    return f.Analyze(0, 0);
  };
  Analysis blind = run(true, true);
  REQUIRE(blind.faults.size() == 1);
  REQUIRE(blind.faults[0].operation);
  const OperationView& op = *blind.faults[0].operation;
  CHECK(op.new_master == "host-2");
  REQUIRE(op.xapi_unavailable_ms);
  CHECK(*op.xapi_unavailable_ms == doctest::Approx(450.25));
  std::string text = FormatSummary(blind, false);
  CHECK(*op.master_ready_ms == 100);
  CHECK(text.find("XAPI unavailable       the new master host-2 answered 100ms after the task; the xapi probe "
                  "was blind 450.2ms; no load paused") != std::string::npos);
  CHECK(ReportToJson(blind)["faults"][0]["operation"]["xapi_unavailable_ms"] == 450.25);

  Analysis seen = run(false, true);
  CHECK(*seen.faults[0].operation->xapi_unavailable_ms == 0);
  CHECK(FormatSummary(seen, false).find("the xapi probe was never blind") != std::string::npos);

  Analysis unseen = run(false, false);
  CHECK_FALSE(unseen.faults[0].operation->xapi_unavailable_ms);
  CHECK(FormatSummary(unseen, false).find("answered 100ms after the task; no xapi probe watched the pool") !=
        std::string::npos);
  CHECK(ReportToJson(unseen)["faults"][0]["operation"]["xapi_unavailable_ms"].is_null());
}

}  // namespace fb::reports
