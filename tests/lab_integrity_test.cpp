// End-to-end test of data verification on the metro lab: a plan
// whose faults really lose acknowledged writes, and the checks that every one
// of them is found and placed in the right fault window. Root only; holds the
// LabLock and takes the lab down in a guard.
//
// The loss: site B's target is pointed at a copy of the LUN taken mid-run
// (`stale-b`: B stops receiving writes, like a replica that silently stopped
// replicating), the load keeps writing through site A (failover policy: all I/O
// on the first path), then site A's path is cut (`path-a`) and the load fails
// over to B, which serves the old copy. Every block whose last acknowledged
// write came between the copy and the cut is lost.
#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <set>

#include "core/clock.h"
#include "core/jsonl_writer.h"
#include "lab/tgt.h"
#include "loadgen/ack_log.h"
#include "tests/support/lab_fixture.h"
#include "tests/support/test_util.h"

namespace fb::labtest {
namespace {

constexpr int64_t kMs = kNsPerMs;

// Shell lines that point site B's LUN at `file` (tgtadm: delete and re-create
// the logical unit with the lab's SCSI identity, so it stays the same LUN).
std::string PointSiteBAt(int control_port, const std::string& file) {
  std::string t = "tgtadm -C " + std::to_string(control_port) + " --lld iscsi --op ";
  std::string lu =
      " --mode logicalunit --tid " + std::to_string(lab::kTargetTid) + " --lun " + std::to_string(lab::kLun);
  return t + "delete" + lu + " && " + t + "new" + lu + " -b " + file + " && " + t + "update" + lu +
         " --params scsi_id=faultbench-lab-lun1,scsi_sn=FBLAB0001";
}

std::string Plan(const LabSession& lab, const std::string& tmp) {
  const lab::LabInfo& info = lab.info();
  int port_b = info.options.tgtd_control_port_base + 1 + 1;
  std::string lun = info.state_dir + "/lun.img", stale = tmp + "/lun-stale-b.img";
  return "name: lab-stale-site\n"
         "description: site B serves a copy of the LUN that missed writes; the failover to it loses them\n"
         "target:\n"
         "  paths:\n"
         "    - " +
         lab.site(0).url + "\n    - " + lab.site(1).url +
         "\n"
         "workload:\n"
         "  engine: libiscsi\n"
         "  bs: 4k\n"
         "  rw: randrw\n"
         "  rwmixread: 50\n"
         "  jobs: 1\n"
         "  queue_depth: 8\n"
         "  rate_iops: 2000\n"
         "  duration: 10s\n"
         "  interval: 100ms\n"
         "  path_policy: failover\n"
         "  io_timeout: 1s\n"
         "  checker_interval: 250ms\n"
         "  no_path_timeout: 10s\n"
         "  verify: true\n"
         "  ack_log: " +
         tmp + "/acks.log\n" +
         "  allow_destroy: true\n"
         "injectors:\n"
         "  stale-b:\n"
         "    kind: command\n"
         "    inject: cp --sparse=always " +
         lun + " " + stale + " && " + PointSiteBAt(port_b, stale) +
         "\n    revert: " + PointSiteBAt(port_b, lun) +
         "\n"
         "  path-a:\n"
         "    kind: netfilter\n"
         "    netns: " +
         lab.site(0).ns +
         "\n"
         "    interface: path0\n"
         "steps:\n"
         "  - {at: 0s, phase: baseline}\n"
         "  - {at: 2s, phase: fault, inject: stale-b, max_duration: 30s}\n"
         "  - {at: 6s, inject: path-a, max_duration: 30s}\n"
         "expect:\n"
         "  lost_writes: 0\n"
         "  faults:\n"
         "    stale-b: {lost_writes: 0}\n"
         "    path-a: {lost_writes: 0}\n";
}

const json* Expectation(const json& report, const std::string& scope, const std::string& check) {
  for (const json& v : report["expectations"]) {
    if (v["scope"] == scope && v["check"] == check) return &v;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("lab e2e: a failover to a stale copy of the LUN loses writes, and every lost write is found" *
          doctest::test_suite("integration")) {
  if (!CanRunLab()) return;
  lab::LabOptions opt;
  opt.lun_size_bytes = 16ull << 20;
  LabSession lab(opt);
  REQUIRE_MESSAGE(lab.error().empty(), lab.error());
  TempDir tmp;
  std::string plan = tmp.path() + "/plan.yaml", out = tmp.path() + "/runs";
  {
    std::ofstream f(plan);
    f << Plan(lab, tmp.path());
  }
  CommandResult r = RunCli({"run", plan, "--out", out, "--quiet"}, 90 * kNsPerSec);
  MESSAGE(r.out);
  CHECK_MESSAGE(r.exit_code == 1, r.out << r.err);  // lost writes fail the plan
  std::string dir = OnlyRunDir(out);
  REQUIRE_MESSAGE(!dir.empty(), r.out << r.err);

  std::vector<json> events = ReadJsonl(dir + "/events.jsonl");
  auto run_text = ReadFile(dir + "/run.json");
  REQUIRE(run_text.ok());
  json run = json::parse(*run_text, nullptr, false);
  int64_t load_start = run["load_start"]["t_utc_ns"].get<int64_t>();
  // Fault times: fault_injected is stamped when the inject command returned;
  // the copy was taken at the command's start.
  int64_t stale_end = 0, stale_begin = 0, cut = 0;
  for (const json& e : events) {
    if (e["kind"] != "fault_injected") continue;
    if (e["source"] == "stale-b") {
      stale_end = e["t_utc_ns"].get<int64_t>();
      stale_begin = stale_end - int64_t(e["attrs"]["command_ms"].get<double>() * 1e6);
    }
    if (e["source"] == "path-a") cut = e["t_utc_ns"].get<int64_t>();
  }
  REQUIRE(stale_end > 0);
  REQUIRE(cut > stale_end);
  MESSAGE("stale-b inject took " << Ms(stale_end - stale_begin) << " ms");

  // The load failed over to site B, without an I/O error.
  bool failed_over = false;
  for (const json& e : events) {
    failed_over |= e["kind"] == "path_failed" && e["attrs"].value("url", "") == lab.site(0).url &&
                   e["t_utc_ns"].get<int64_t>() >= cut;
  }
  CHECK(failed_over);
  CHECK(run["load_summary"]["errors_total"] == 0);
  CHECK(run["load_summary"]["verify"]["final_pass_complete"] == true);

  // What must be lost, from the ack log: every block whose last acknowledged
  // write came after the copy and before the cut (with 100 ms of margin on
  // both sides: writes in flight around either act may or may not be lost).
  auto acks = ReadAckLog(tmp.path() + "/acks.log");
  REQUIRE_MESSAGE(acks.ok(), acks.status().message());
  auto ack_utc = [&](uint32_t ack_ms) { return load_start + int64_t(ack_ms) * kMs; };
  std::set<uint64_t> must_lose;
  for (const auto& [offset, entry] : acks->last) {
    int64_t t = ack_utc(entry.ack_ms);
    if (t > stale_end + 100 * kMs && t < cut - 100 * kMs) must_lose.insert(offset);
  }
  REQUIRE(must_lose.size() > 500);

  std::map<uint64_t, int64_t> found;  // offset -> acked_utc_ns of the lost write
  int other_findings = 0;
  for (const json& e : events) {
    if (e["kind"] == "misdirected_write" || e["kind"] == "phantom_write" || e["kind"] == "corrupt_block")
      ++other_findings;
    if (e["kind"] != "lost_write") continue;
    uint64_t offset = e["attrs"]["offset_bytes"].get<uint64_t>();
    CHECK_MESSAGE(!found.count(offset), "block " << offset << " reported lost twice");
    found[offset] = e["attrs"].value("acked_utc_ns", int64_t(0));
  }
  size_t missed = 0;
  for (uint64_t offset : must_lose) missed += !found.count(offset);
  MESSAGE(must_lose.size() << " blocks had their last write acknowledged between the copy and the cut; "
                           << found.size() << " lost_write events, " << missed
                           << " of the lost blocks not reported");
  CHECK(missed == 0);
  CHECK(other_findings == 0);
  // Every lost write was acknowledged inside stale-b's window, before the cut
  // (writes acknowledged by site B after it are not lost).
  int outside = 0, during_inject = 0;
  for (const auto& [offset, acked] : found) {
    if (acked >= stale_begin - 100 * kMs && acked < stale_end) ++during_inject;
    if (acked < stale_begin - 100 * kMs || acked > cut + 100 * kMs) ++outside;
  }
  CHECK(outside == 0);

  // The report: the lost_writes expectations fail where the writes were lost.
  auto report_text = ReadFile(dir + "/report.json");
  REQUIRE(report_text.ok());
  json report = json::parse(*report_text, nullptr, false);
  CHECK(report["verdict"] == "fail");
  const json* whole = Expectation(report, "run", "lost_writes");
  const json* stale = Expectation(report, "fault stale-b#1", "lost_writes");
  const json* path = Expectation(report, "fault path-a#1", "lost_writes");
  REQUIRE(whole);
  REQUIRE(stale);
  REQUIRE(path);
  CHECK((*whole)["pass"] == false);
  CHECK((*whole)["measured_value"].get<double>() == double(found.size()));
  CHECK((*stale)["pass"] == false);
  // Placed by acknowledgement time: those acknowledged while the inject command
  // ran fall before the window (stamped at the command's end).
  CHECK((*stale)["measured_value"].get<double>() == double(found.size() - size_t(during_inject)));
  int in_path_window = 0;
  for (const auto& [offset, acked] : found) in_path_window += acked >= cut;
  CHECK((*path)["measured_value"].get<double>() == double(in_path_window));
  CHECK(double(in_path_window) < 0.05 * double(found.size()));
  auto junit = ReadFile(dir + "/junit.xml");
  REQUIRE(junit.ok());
  CHECK(junit->find("type=\"lost_writes\"") != std::string::npos);
  // The report's integrity section says the same, window by window.
  const json& in = report["integrity"];
  CHECK(in["verified"] == true);
  CHECK(in["lost"].get<double>() == double(found.size()));
  CHECK(in["findings"].size() == found.size());
  double in_stale = 0;
  for (const auto& w : in["windows"]) {
    if (w["name"] == "during stale-b#1") in_stale = w["lost"].get<double>();
  }
  CHECK(in_stale == (*stale)["measured_value"].get<double>());
  MESSAGE("lost writes: " << found.size() << " in the run, " << (*stale)["measured_value"]
                          << " in stale-b's window, " << in_path_window << " in path-a's, " << during_inject
                          << " during the inject command");
}

}  // namespace fb::labtest
