// End-to-end test of a plan on the metro lab: a short copy of
// plans/examples/lab-replication-cut.yaml run by `faultbench run`, its report
// checked against the lab simulator's own event log, and the verdict of a plan
// that passes and of one that must fail. Root only; holds the LabLock and
// takes the lab down in a guard.
#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>

#include "core/clock.h"
#include "core/jsonl_writer.h"
#include "core/subprocess.h"
#include "tests/support/chromium.h"
#include "tests/support/lab_fixture.h"
#include "tests/support/test_util.h"

namespace fb::labtest {
namespace {

constexpr int64_t kMs = kNsPerMs;

// Replaces exactly one occurrence of `from`; a miss means the example changed
// under the test, which must then be updated.
void ReplaceOnce(std::string* text, const std::string& from, const std::string& to) {
  size_t at = text->find(from);
  REQUIRE_MESSAGE(at != std::string::npos, "the example plan no longer contains \"" << from << "\"");
  REQUIRE_MESSAGE(text->find(from, at + 1) == std::string::npos, "\"" << from << "\" is not unique");
  text->replace(at, from.size(), to);
}

// The example with its timeline shortened: cut at 3 s, restore at 9 s, 14 s load.
std::string ShortPlan(const std::string& max_stall) {
  auto text = ReadFile(std::string(FB_SOURCE_DIR) + "/plans/examples/lab-replication-cut.yaml");
  REQUIRE_MESSAGE(text.ok(), text.status().message());
  std::string plan = *text;
  ReplaceOnce(&plan, "name: lab-replication-cut", "name: lab-replication-cut-short");
  ReplaceOnce(&plan, "duration: 75s", "duration: 14s");
  ReplaceOnce(&plan, "{at: 20s, phase: fault, inject: replication-link, max_duration: 40s}",
              "{at: 3s, phase: fault, inject: replication-link, max_duration: 20s}");
  ReplaceOnce(&plan, "{at: 45s, phase: recovery, revert: replication-link}",
              "{at: 9s, phase: recovery, revert: replication-link}");
  ReplaceOnce(&plan, "{after: 25s, mark: settled}", "{after: 4s, mark: settled}");
  ReplaceOnce(&plan, "max_stall: 6s", "max_stall: " + max_stall);
  // The verdicts here turn on max_stall alone. Recovery is the example's to judge
  // on its own timeline (25 s to settle): here the load ends about 5 s after the
  // revert, while both sites resync and the lost path is reinstated on the same
  // two cores, against a baseline of 3 s; whether 3 intervals in a row fall
  // within its p99 tolerance by then is the machine's noise, not the verdict logic.
  ReplaceOnce(&plan, "      recovery: {to: 80% of baseline, within: 15s}\n", "");
  // The stall begins once the loser's path holds the whole queue: at 2000 IOPS
  // round-robin that takes QD ms (16 ms at the example's QD 16, 8 ms here),
  // which must stay well inside the 20 ms the stall is compared with.
  ReplaceOnce(&plan, "queue_depth: 16", "queue_depth: 8");
  return plan;
}

struct RunResult {
  CommandResult cli;
  std::string dir;
  json report;
  std::string junit;
};

RunResult RunPlan(const std::string& plan_text, const std::string& tmp, const std::string& name) {
  std::string plan = tmp + "/" + name + ".yaml", out = tmp + "/" + name;
  {
    std::ofstream f(plan);
    f << plan_text;
  }
  RunResult r;
  r.cli = RunCli({"run", plan, "--out", out, "--quiet"}, 90 * kNsPerSec);
  r.dir = OnlyRunDir(out);
  REQUIRE_MESSAGE(!r.dir.empty(), "no run directory under " << out << ": " << r.cli.out << r.cli.err);
  auto report = ReadFile(r.dir + "/report.json");
  REQUIRE_MESSAGE(report.ok(), report.status().message());
  r.report = json::parse(*report, nullptr, false);
  REQUIRE(r.report.is_object());
  auto junit = ReadFile(r.dir + "/junit.xml");
  REQUIRE_MESSAGE(junit.ok(), junit.status().message());
  r.junit = *junit;
  return r;
}

const json* Expectation(const json& report, const std::string& scope, const std::string& check) {
  for (const json& v : report["expectations"]) {
    if (v["scope"] == scope && v["check"] == check) return &v;
  }
  return nullptr;
}

// Index of the first chain entry of `kind` (and message containing `text`) at
// or after index from; -1 when none.
int Index(const json& chain, const std::string& kind, int from = 0, const std::string& text = "") {
  for (int i = from; i < int(chain.size()); ++i) {
    const json& c = chain[size_t(i)];
    if (c["kind"] == kind && c["message"].get<std::string>().find(text) != std::string::npos) return i;
  }
  return -1;
}

}  // namespace

TEST_CASE("lab e2e: a short replication-cut plan, its report against the simulator, pass and fail verdicts" *
          doctest::test_suite("slow")) {
  if (!CanRunLab()) return;
  lab::LabOptions opt;
  opt.lun_size_bytes = 64ull << 20;
  LabSession lab(opt);
  REQUIRE_MESSAGE(lab.error().empty(), lab.error());
  TempDir tmp;

  RunResult pass = RunPlan(ShortPlan("6s"), tmp.path(), "pass");
  MESSAGE(pass.cli.out);
  CHECK_MESSAGE(pass.cli.exit_code == 0, pass.cli.out << pass.cli.err);
  CHECK(pass.report["verdict"] == "pass");
  CHECK(pass.junit.find("<failure") == std::string::npos);

  REQUIRE(pass.report["faults"].size() == 1);
  const json& fault = pass.report["faults"][0];
  CHECK(fault["injector"] == "replication-link");
  int64_t inject = fault["inject_utc_ns"].get<int64_t>();
  std::vector<json> lab_events = ReadJsonl(lab.info().events_file);
  std::string winner = FindEvent(lab_events, "mediator_won", "site-a", inject) ? "site-a" : "site-b";
  std::string loser = winner == "site-a" ? "site-b" : "site-a";
  REQUIRE(FindEvent(lab_events, "mediator_won", winner, inject));
  REQUIRE(FindEvent(lab_events, "mediator_lost", loser, inject));
  int64_t w_resumed = TimeOf(FindEvent(lab_events, "io_resumed", winner, inject));
  int64_t l_paused = TimeOf(FindEvent(lab_events, "io_paused", loser, inject));
  REQUIRE(w_resumed > 0);
  REQUIRE(l_paused > 0);

  // The fault's stall. As in lab_path_test.cpp: the winner's pause lasts a
  // few ms (no stall); the load stalls from the loser's io_paused (or the
  // winner's io_resumed, when later) until the engine fails the loser's path.
  // The longest freeze: stalls joined across a single late completion (the
  // report's stalls are the time between completions).
  const json* longest = nullptr;
  for (const json& s : fault["stalls"]) {
    if (!longest || s["length_ms"].get<double>() > (*longest)["length_ms"].get<double>()) longest = &s;
  }
  REQUIRE(longest);
  CHECK((*longest)["open"] == false);
  std::pair<int64_t, int64_t> freeze{(*longest)["start_utc_ns"].get<int64_t>(),
                                     (*longest)["end_utc_ns"].get<int64_t>()};
  for (const auto& f : FreezesOf(fault["stalls"].get<std::vector<json>>()))
    if (f.first <= freeze.first && f.second >= freeze.second) freeze = f;
  const json& chain = fault["chain"];
  int failed_at = Index(chain, "path_failed");
  REQUIRE(failed_at >= 0);
  int64_t t_failed = chain[size_t(failed_at)]["t_utc_ns"].get<int64_t>();
  CHECK(chain[size_t(failed_at)]["message"].get<std::string>().find(
            loser == "site-a" ? "198.18.1.2" : "198.18.2.2") != std::string::npos);
  int64_t start = freeze.first, end = freeze.second;
  int64_t expect_start = std::max(l_paused, w_resumed);
  MESSAGE("report: stall " << (*longest)["length_ms"] << " ms; start - loser's io_paused "
                           << Ms(start - expect_start) << " ms; end - path_failed " << Ms(end - t_failed)
                           << " ms");
  // The loser's pause lies up to its signal's time before its io_paused, the
  // winner's resume as much after its io_resumed (lab_fixture.h SignalNsOf).
  CHECK(start - expect_start >= -20 * kMs - SignalNsOf(FindEvent(lab_events, "io_paused", loser, inject)));
  CHECK(start - expect_start <= 20 * kMs + SignalNsOf(FindEvent(lab_events, "io_resumed", winner, inject)));
  CHECK(std::abs(end - t_failed) <= 20 * kMs);
  // The freeze is explained by the lab's pause and the engine's failover, and
  // held against the engine's io_timeout (2 s + its 50 ms check).
  REQUIRE((*longest)["started_by"].is_object());
  CHECK((*longest)["started_by"]["source"] == "lab");
  REQUIRE((*longest)["ended_by"].is_object());
  CHECK((*longest)["ended_by"]["kind"] == "path_failed");
  CHECK((*longest)["budget"] == "engine_path_failover");
  CHECK((*longest)["over_budget"] == false);

  // The report as a reader opens it: labels apart, a screenshot in the run
  // directory (and a copy beside the test binary for people).
  if (HaveCommand("chromium")) {
    auto page = testing::ChromiumDom(pass.dir + "/report.html");
    REQUIRE(page.ok());
    CHECK(page->exit_code == 0);
    CHECK(testing::BodyAttr(page->dom, "data-chart-ready") == "1");
    auto boxes = testing::LabelBoxes(page->dom);
    CHECK(boxes.size() >= 5);
    CHECK_MESSAGE(testing::Overlaps(boxes).empty(), "overlapping timeline labels");
    CHECK(testing::ChromiumScreenshot(pass.dir + "/report.html", pass.dir + "/report.png").ok());
    std::string cli = FB_CLI_PATH;
    (void)RunCommand({"cp", pass.dir + "/report.png", cli.substr(0, cli.rfind("/cli/")) + "/lab_report_screenshot.png"});
  }

  // The chain holds the lab's events, at the simulator's own times, in order.
  for (const json& c : chain) {
    if (c["source"] != "lab") continue;
    bool matched = false;
    for (const json& e : lab_events) {
      if (e["kind"] == c["kind"] &&
          std::abs(e["t_utc_ns"].get<int64_t>() - c["t_utc_ns"].get<int64_t>()) <= kMs) {
        matched = c["message"].get<std::string>().find(e["site"].get<std::string>()) != std::string::npos;
        if (matched) break;
      }
    }
    CHECK_MESSAGE(matched, "chain entry without its lab event at that time: " << c.dump());
  }
  int i_inject = Index(chain, "fault_injected");
  int i_down = Index(chain, "replication_down", i_inject);
  int i_paused = Index(chain, "io_paused", i_down);
  int i_won = Index(chain, "mediator_won", i_paused, winner);
  int i_resumed = Index(chain, "io_resumed", i_won, winner);
  int i_lost = Index(chain, "mediator_lost", i_paused, loser);
  int i_stall = Index(chain, "stall_begins", i_paused);
  int i_failed = Index(chain, "path_failed", std::max(i_lost, i_stall));
  int i_stall_end = Index(chain, "stall_ends", i_failed);
  int i_revert = Index(chain, "fault_reverted", i_failed);
  int i_up = Index(chain, "replication_up", i_revert);
  int i_resync = Index(chain, "resync_start", i_up);
  int i_done = Index(chain, "resync_done", i_resync);
  int i_back = Index(chain, "io_resumed", i_done, loser);
  int i_reinstated = Index(chain, "path_reinstated", i_back);
  std::string kinds;
  for (const json& c : chain) kinds += c["kind"].get<std::string>() + " ";
  MESSAGE("chain: " << kinds);
  for (int i : {i_inject, i_down, i_paused, i_won, i_resumed, i_lost, i_stall, i_failed, i_stall_end,
                i_revert, i_up, i_resync, i_done, i_back, i_reinstated}) {
    CHECK_MESSAGE(i >= 0, "chain out of order or incomplete: " << kinds);
  }
  CHECK(fault["errors"] == 0);
  const json* stall_verdict = Expectation(pass.report, "fault replication-link#1", "max_stall");
  REQUIRE(stall_verdict);
  CHECK((*stall_verdict)["pass"] == true);

  // The same plan with a 100 ms stall budget must fail: exit 1, junit failure.
  RunResult fail = RunPlan(ShortPlan("100ms"), tmp.path(), "fail");
  CHECK_MESSAGE(fail.cli.exit_code == 1, fail.cli.out << fail.cli.err);
  CHECK(fail.report["verdict"] == "fail");
  const json* failed_verdict = Expectation(fail.report, "fault replication-link#1", "max_stall");
  REQUIRE(failed_verdict);
  CHECK((*failed_verdict)["pass"] == false);
  CHECK((*failed_verdict)["measured_value"].get<double>() > 1000);
  CHECK(fail.junit.find("<failure") != std::string::npos);
  CHECK(fail.junit.find("type=\"max_stall\"") != std::string::npos);
  const json* io_verdict = Expectation(fail.report, "run", "io_errors");
  REQUIRE(io_verdict);
  CHECK((*io_verdict)["pass"] == true);  // only the stall budget fails
}

}  // namespace fb::labtest
