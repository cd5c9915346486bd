// The writers through the real CLI: report.json against report.schema.json
// (python3-jsonschema), junit.xml through a real JUnit parser
// (python3-junitparser), summary.txt, exit codes, compare.
#include <doctest/doctest.h>

#include <fstream>

#include "core/jsonl_writer.h"
#include "tests/support/journal_fixture.h"
#include "tests/support/skip.h"
#include "tests/support/test_util.h"

namespace fb::reports {

namespace {

// Debian's python3 with its packages, whatever python3 is first on PATH.
const char* kPython = "/usr/bin/python3";

CommandResult Python(const std::string& script, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {kPython, "-c", script};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = RunCommand(argv);
  REQUIRE(r.ok());
  return *r;
}

bool HavePythonModule(const std::string& module) {
  auto r = RunCommand({kPython, "-c", "import " + module});
  return r.ok() && r->success();
}

}  // namespace

TEST_CASE("faultbench report: all formats from a hand-made journal, exit 1 when an expectation fails" *
          doctest::test_suite("integration")) {
  TempDir tmp;
  testing::WriteCutJournal(tmp.path());
  auto r = RunCli({"report", tmp.path()});
  CHECK(r.exit_code == 1);
  CHECK(r.out.find("Verdict: FAIL") != std::string::npos);
  CHECK(r.out.find("FAIL  fault cut#1") != std::string::npos);
  for (const char* f : {"summary.txt", "report.json", "junit.xml", "report.html"}) {
    CHECK_MESSAGE(ReadFile(tmp.path() + "/" + f).ok(), f);
  }
  auto summary = ReadFile(tmp.path() + "/summary.txt");
  REQUIRE(summary.ok());
  CHECK(summary->find("\033[") == std::string::npos);  // no colour in the file
  CHECK(summary->find("+1.910s  mediator_won") != std::string::npos);
  // The baseline's stall, outside the fault, has its own lines.
  CHECK(summary->find("Stalls outside the faults (1, from the load's start):\n  stall +6.000s .. +6.150s    150.000 ms  "
                      "job 0, ") != std::string::npos);
  auto html = ReadFile(tmp.path() + "/report.html");
  REQUIRE(html.ok());
  CHECK(html->find("<h2>Stalls outside the faults</h2>") != std::string::npos);

  SUBCASE("report.json validates against report.schema.json") {
    if (!HavePythonModule("jsonschema")) {
      Skip("python3-jsonschema is not installed");
      return;
    }
    auto v = Python(
        "import json, sys, jsonschema\n"
        "schema = json.load(open(sys.argv[1]))\n"
        "jsonschema.Draft202012Validator.check_schema(schema)\n"
        "doc = json.load(open(sys.argv[2]))\n"
        "jsonschema.Draft202012Validator(schema).validate(doc)\n"
        "f = doc['faults'][0]\n"
        "o = doc['other_stalls'][0]\n"
        "print(doc['schema_version'], doc['verdict'], f['stalls'][0]['length_ms'], f['chain'][3]['kind'], "
        "o['start_offset_ms'], o['started_by'])\n",
        {std::string(FB_SOURCE_DIR) + "/reports/report.schema.json", tmp.path() + "/report.json"});
    INFO(v.err);
    CHECK(v.exit_code == 0);
    CHECK(v.out == "2 fail 1911.0 mediator_won 6000.0 None\n");
  }
  SUBCASE("junit.xml parses with junitparser: one case per expectation, failures carry the measured value") {
    if (!HavePythonModule("junitparser")) {
      Skip("python3-junitparser is not installed");
      return;
    }
    auto v = Python(
        "import sys\n"
        "from junitparser import JUnitXml, Failure\n"
        "xml = JUnitXml.fromfile(sys.argv[1])\n"
        "for suite in xml:\n"
        "  for case in suite:\n"
        "    bad = [r for r in case.result if isinstance(r, Failure)]\n"
        "    print(suite.name, case.name, 'FAIL ' + bad[0].message if bad else 'ok')\n",
        {tmp.path() + "/junit.xml"});
    INFO(v.err);
    CHECK(v.exit_code == 0);
    CHECK(v.out ==
          "faultbench.cut-fixture.run completed ok\n"
          "faultbench.cut-fixture.run max_stall ok\n"
          "faultbench.cut-fixture.fault cut#1 max_stall FAIL max_stall: measured 1.911s, limit <= 1.000s\n"
          "faultbench.cut-fixture.fault cut#1 io_errors ok\n"
          "faultbench.cut-fixture.fault cut#1 recovery ok\n");
  }
}

TEST_CASE("faultbench report: bad input exits 2 with a clear message, --format picks one file" *
          doctest::test_suite("integration")) {
  TempDir tmp;
  auto r = RunCli({"report", tmp.path() + "/missing"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("missing: not a run directory") != std::string::npos);
  r = RunCli({"report", tmp.path()});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("run.json: missing") != std::string::npos);
  testing::WriteCutJournal(tmp.path());
  r = RunCli({"report", tmp.path(), "--format", "pdf"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("--format pdf: expected summary, json, junit, html or all") != std::string::npos);
  r = RunCli({"report", tmp.path(), "--format", "json", "-q"});
  CHECK(r.exit_code == 1);
  CHECK(r.out.empty());
  CHECK(ReadFile(tmp.path() + "/report.json").ok());
  CHECK_FALSE(ReadFile(tmp.path() + "/report.html").ok());
}

TEST_CASE("faultbench report: a run that did not complete exits 3, compare puts two runs side by side" *
          doctest::test_suite("integration")) {
  TempDir a, b;
  testing::WriteCutJournal(a.path());
  testing::WriteCutJournal(b.path(), /*recovers=*/false);
  {
    testing::JournalFixture j(b.path());
    j.Run(0.1, "aborted");  // rewrites run.json only
  }
  auto r = RunCli({"report", b.path(), "-q"});
  CHECK(r.exit_code == 3);
  r = RunCli({"compare", a.path(), b.path()});
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("fault cut#1") != std::string::npos);
  CHECK(r.out.find("longest stall ms") != std::string::npos);
  CHECK(r.out.find("1911.000") != std::string::npos);
  CHECK(r.out.find("recovered ms after revert          1600.000                -") != std::string::npos);
}

}  // namespace fb::reports
