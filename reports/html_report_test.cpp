// report.html opened in headless Chromium (Debian's chromium): no page or
// console errors, both charts drawn with the expected series, the fault
// windows shaded, the timeline's labels never overlapping however close their
// events; a screenshot is left in the build directory for people.
#include <doctest/doctest.h>

#include <fstream>

#include "core/jsonl_writer.h"

#include "tests/support/chromium.h"
#include "tests/support/journal_fixture.h"
#include "tests/support/skip.h"
#include "tests/support/test_util.h"

namespace fb::reports {

namespace {

// The build directory: the CLI is <build>/cli/faultbench.
std::string BuildDir() {
  std::string cli = FB_CLI_PATH;
  return cli.substr(0, cli.rfind("/cli/"));
}

}  // namespace

TEST_CASE("report.html: drawn in headless Chromium without errors, labels apart, screenshot saved" *
          doctest::test_suite("integration")) {
  if (!HaveCommand("chromium")) {
    Skip("chromium is not installed");
    return;
  }
  TempDir tmp;
  testing::WriteCutJournal(tmp.path());
  {
    // A burst around the cut: six events of two sources within 40 ms, and a
    // third source at the same instant, as a real failover writes them.
    std::ofstream ev(tmp.path() + "/events.jsonl", std::ios::app);
    for (int i = 0; i < 6; ++i) {
      nlohmann::json e = {{"t_utc_ns", testing::At(8001 + i * 8)},
                          {"source", i % 2 ? "multipath" : "kernel"},
                          {"kind", i % 2 ? "path_failed" : "path_down"},
                          {"severity", "warning"},
                          {"message", "burst " + std::to_string(i)},
                          {"attrs", nlohmann::json::object()}};
      ev << e.dump() << "\n";
    }
    nlohmann::json e = {{"t_utc_ns", testing::At(8001)}, {"source", "lab"},        {"kind", "io_paused"},
                        {"severity", "warning"},         {"message", "site-a"}, {"attrs", nlohmann::json::object()}};
    ev << e.dump() << "\n";
    // The read-back after the run ends after the load.
    e = {{"t_utc_ns", testing::At(20400)}, {"source", "loadgen"}, {"kind", "verify_pass"},
         {"severity", "info"},            {"message", "read back"}, {"attrs", nlohmann::json::object()}};
    ev << e.dump() << "\n";
  }
  auto r = RunCli({"report", tmp.path(), "--format", "html", "-q"});
  REQUIRE(r.exit_code == 1);
  std::string file = tmp.path() + "/report.html";
  auto html = ReadFile(file);
  REQUIRE(html.ok());
  // Self-contained: nothing is fetched from anywhere.
  CHECK(html->find("src=\"http") == std::string::npos);
  CHECK(html->find("href=\"http") == std::string::npos);

  auto page = fb::testing::ChromiumDom(file);
  REQUIRE(page.ok());
  const std::string& dom = page->dom;
  INFO(page->stderr_text.substr(0, 2000));
  REQUIRE(page->exit_code == 0);
  CHECK(fb::testing::BodyAttr(dom, "data-chart-ready") == "1");
  CHECK(fb::testing::BodyAttr(dom, "data-series") == "4");  // IOPS; p50, p99 and max
  CHECK(fb::testing::BodyAttr(dom, "data-shaded") == "1");  // one fault window
  CHECK(fb::testing::BodyAttr(dom, "data-errors").empty());
  CHECK(page->stderr_text.find("Uncaught") == std::string::npos);
  CHECK(page->stderr_text.find(":CONSOLE") == std::string::npos);
  // Both charts hold a canvas drawn by dygraphs.
  size_t canvases = 0;
  for (size_t p = dom.find("<canvas"); p != std::string::npos; p = dom.find("<canvas", p + 1)) ++canvases;
  CHECK(canvases >= 2);
  // Timeline labels: one lane per source, the burst clustered, no two boxes
  // intersecting.
  auto boxes = fb::testing::LabelBoxes(dom);
  CHECK(std::to_string(boxes.size()) == fb::testing::BodyAttr(dom, "data-labels"));
  CHECK(boxes.size() >= 6);
  CHECK(fb::testing::Overlaps(boxes).empty());
  CHECK(dom.find("class=\"ev-label cluster\"") != std::string::npos);
  CHECK(dom.find(">path_failed +2<") != std::string::npos);  // the three multipath events of the burst
  // The event list holds every marker, all in view before any zoom.
  size_t note = dom.find("id=\"event-list-note\"");
  REQUIRE(note != std::string::npos);
  std::string note_text = dom.substr(dom.find('>', note) + 1, 40);
  INFO("event list note: " << note_text);
  CHECK(note_text.rfind("18 of 18 events in view", 0) == 0);

  std::string shot = BuildDir() + "/report_screenshot.png";
  REQUIRE(fb::testing::ChromiumScreenshot(file, shot).ok());
  auto png = ReadFile(shot);
  REQUIRE(png.ok());
  CHECK(png->size() > 20000);
  MESSAGE("screenshot: " << shot);
}

}  // namespace fb::reports
