#include "tests/support/chromium.h"

#include <regex>

#include "core/subprocess.h"
#include "tests/support/test_util.h"

namespace fb::testing {

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

}  // namespace

Result<ChromiumPage> ChromiumDom(const std::string& html_file) {
  TempDir profile;
  std::vector<std::string> argv = Chromium(profile.path());
  argv.insert(argv.end(), {"--window-size=1280,1700", "--enable-logging=stderr", "--v=0",
                           "--virtual-time-budget=10000", "--dump-dom", "file://" + html_file});
  auto r = RunCommand(argv, {.timeout_ns = 90'000'000'000});
  if (!r.ok()) return r.status();
  return ChromiumPage{r->out, r->err, r->exit_code};
}

Status ChromiumScreenshot(const std::string& html_file, const std::string& png, int height) {
  TempDir profile;
  std::vector<std::string> argv = Chromium(profile.path());
  argv.insert(argv.end(), {"--hide-scrollbars", "--window-size=1280," + std::to_string(height),
                           "--virtual-time-budget=10000", "--screenshot=" + png, "file://" + html_file});
  auto r = RunCommand(argv, {.timeout_ns = 90'000'000'000});
  if (!r.ok()) return r.status();
  if (r->exit_code != 0) return Status::IoError("chromium --screenshot exited " + std::to_string(r->exit_code));
  return Status::Ok();
}

std::string BodyAttr(const std::string& dom, const std::string& name) {
  std::smatch m;
  std::regex re("<body[^>]*\\s" + name + "=\"([^\"]*)\"");
  return std::regex_search(dom, m, re) ? m[1].str() : std::string();
}

std::vector<Box> LabelBoxes(const std::string& dom) {
  std::vector<Box> out;
  std::regex re("data-box=\"(-?[0-9.]+),(-?[0-9.]+),(-?[0-9.]+),(-?[0-9.]+)\"");
  for (auto it = std::sregex_iterator(dom.begin(), dom.end(), re); it != std::sregex_iterator(); ++it) {
    out.push_back({std::stod((*it)[1]), std::stod((*it)[2]), std::stod((*it)[3]), std::stod((*it)[4])});
  }
  return out;
}

std::vector<std::string> Overlaps(const std::vector<Box>& b) {
  std::vector<std::string> out;
  for (size_t i = 0; i < b.size(); ++i) {
    for (size_t j = i + 1; j < b.size(); ++j) {
      if (b[i].left < b[j].right && b[j].left < b[i].right && b[i].top < b[j].bottom && b[j].top < b[i].bottom)
        out.push_back(std::to_string(i) + "/" + std::to_string(j));
    }
  }
  return out;
}

}  // namespace fb::testing
