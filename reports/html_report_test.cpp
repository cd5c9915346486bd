// report.html opened in headless Chromium (Debian's chromium): no page or
// console errors, both charts drawn with the expected series and the fault
// windows shaded; a screenshot is left in the build directory for people.
#include <doctest/doctest.h>

#include <regex>

#include "core/jsonl_writer.h"
#include "tests/support/journal_fixture.h"
#include "tests/support/skip.h"
#include "tests/support/test_util.h"

namespace fb::reports {

namespace {

std::vector<std::string> Chromium(const std::string& profile) {
  return {"chromium",
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
          "--no-first-run",
          "--user-data-dir=" + profile};
}

std::string BodyAttr(const std::string& dom, const std::string& name) {
  std::smatch m;
  std::regex re("<body[^>]*\\s" + name + "=\"([^\"]*)\"");
  return std::regex_search(dom, m, re) ? m[1].str() : std::string();
}

// The build directory: the CLI is <build>/cli/faultbench.
std::string BuildDir() {
  std::string cli = FB_CLI_PATH;
  return cli.substr(0, cli.rfind("/cli/"));
}

}  // namespace

TEST_CASE("report.html: drawn in headless Chromium without errors, screenshot saved" *
          doctest::test_suite("integration")) {
  if (!HaveCommand("chromium")) {
    Skip("chromium is not installed");
    return;
  }
  TempDir tmp, profile;
  testing::WriteCutJournal(tmp.path());
  auto r = RunCli({"report", tmp.path(), "--format", "html", "-q"});
  REQUIRE(r.exit_code == 1);
  std::string url = "file://" + tmp.path() + "/report.html";
  auto html = ReadFile(tmp.path() + "/report.html");
  REQUIRE(html.ok());
  // Self-contained: nothing is fetched from anywhere.
  CHECK(html->find("src=\"http") == std::string::npos);
  CHECK(html->find("href=\"http") == std::string::npos);

  std::vector<std::string> argv = Chromium(profile.path());
  argv.insert(argv.end(),
              {"--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000", "--dump-dom", url});
  auto dom = RunCommand(argv, {.timeout_ns = 90'000'000'000});
  REQUIRE(dom.ok());
  INFO(dom->err.substr(0, 2000));
  REQUIRE(dom->exit_code == 0);
  CHECK(BodyAttr(dom->out, "data-chart-ready") == "1");
  CHECK(BodyAttr(dom->out, "data-series") == "3");  // IOPS; p99 and max
  CHECK(BodyAttr(dom->out, "data-shaded") == "1");  // one fault window
  CHECK(BodyAttr(dom->out, "data-errors").empty());
  CHECK(dom->err.find("Uncaught") == std::string::npos);
  CHECK(dom->err.find(":CONSOLE") == std::string::npos);
  // Both charts hold a canvas drawn by dygraphs.
  size_t canvases = 0;
  for (size_t p = dom->out.find("<canvas"); p != std::string::npos; p = dom->out.find("<canvas", p + 1))
    ++canvases;
  CHECK(canvases >= 2);

  std::string shot = BuildDir() + "/report_screenshot.png";
  argv = Chromium(profile.path());
  argv.insert(argv.end(), {"--hide-scrollbars", "--window-size=1280,1700", "--virtual-time-budget=10000",
                           "--screenshot=" + shot, url});
  auto s = RunCommand(argv, {.timeout_ns = 90'000'000'000});
  REQUIRE(s.ok());
  CHECK(s->exit_code == 0);
  auto png = ReadFile(shot);
  REQUIRE(png.ok());
  CHECK(png->size() > 20000);
  MESSAGE("screenshot: " << shot);
}

}  // namespace fb::reports
