// report.html in headless Chromium (Debian's `chromium`): the DOM after the
// page's scripts ran, a screenshot, and what the page says about itself
// (reports/html/chart.js: body data-* attributes, each timeline label's
// data-box).
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace fb::testing {

struct ChromiumPage {
  std::string dom;     // --dump-dom
  std::string stderr_text;
  int exit_code = -1;
};

// Renders `html_file` (an absolute path) with a fresh profile: --dump-dom.
Result<ChromiumPage> ChromiumDom(const std::string& html_file);
// Saves a screenshot of `html_file` to `png` (window 1280 x height).
Status ChromiumScreenshot(const std::string& html_file, const std::string& png, int height = 1700);

// <body NAME="..."> of a dumped DOM; "" when absent.
std::string BodyAttr(const std::string& dom, const std::string& name);

struct Box {
  double left = 0, top = 0, right = 0, bottom = 0;
};
// Every timeline label's page box (data-box="l,t,r,b").
std::vector<Box> LabelBoxes(const std::string& dom);
// Pairs of boxes that intersect (an area in common), as "i/j" strings.
std::vector<std::string> Overlaps(const std::vector<Box>& boxes);

}  // namespace fb::testing
