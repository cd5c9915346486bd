// junit.xml: one <testsuite> per scope (run, each fault cycle, each phase) and
// one <testcase> per expectation in it; a failed one carries the measured value
// beside the limit. A "completed" testcase in the run suite fails when the run
// itself did not complete. Loads in Jenkins and GitLab JUnit parsers.
#include <map>

#include "reports/report.h"

namespace fb::reports {

std::string EscapeXml(const std::string& t) {
  std::string o;
  o.reserve(t.size());
  for (char c : t) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&#39;"; break;
      default:
        // Control characters are not allowed in XML 1.0.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t' && c != '\r') o += ' ';
        else o += c;
    }
  }
  return o;
}

std::string FormatJunit(const Analysis& a) {
  std::vector<std::string> order = {"run"};
  std::map<std::string, std::vector<const Verdict*>> by;
  for (const auto& v : a.verdicts) {
    if (!by.count(v.scope) && v.scope != "run") order.push_back(v.scope);
    by[v.scope].push_back(&v);
  }
  bool completed = a.verdict == "pass" || a.verdict == "fail";
  int tests = 1, failures = completed ? 0 : 1;
  for (const auto& v : a.verdicts) failures += !v.pass, ++tests;
  const std::string suite_prefix = "faultbench." + a.run_name;
  std::string x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  x += "<testsuites name=\"" + EscapeXml(suite_prefix) + "\" tests=\"" + std::to_string(tests) + "\" failures=\"" +
       std::to_string(failures) + "\" errors=\"0\">\n";
  for (const auto& scope : order) {
    const auto& vs = by[scope];
    int n = int(vs.size()) + (scope == "run"), f = 0;
    for (const Verdict* v : vs) f += !v->pass;
    if (scope == "run") f += !completed;
    std::string cls = suite_prefix + "." + scope;
    x += "  <testsuite name=\"" + EscapeXml(cls) + "\" tests=\"" + std::to_string(n) + "\" failures=\"" +
         std::to_string(f) + "\" errors=\"0\" skipped=\"0\">\n";
    if (scope == "run") {
      x += "    <testcase classname=\"" + EscapeXml(cls) + "\" name=\"completed\">\n";
      if (!completed) {
        x += "      <failure message=\"" + EscapeXml("the run did not complete: " + a.verdict) + "\" type=\"run\"/>\n";
      }
      x += "    </testcase>\n";
    }
    for (const Verdict* v : vs) {
      x += "    <testcase classname=\"" + EscapeXml(cls) + "\" name=\"" + EscapeXml(v->check) + "\">\n";
      std::string text = v->check + ": measured " + v->measured + ", limit " + v->limit;
      if (!v->pass) {
        x += "      <failure message=\"" + EscapeXml(text) + "\" type=\"" + EscapeXml(v->check) + "\">" + EscapeXml(text) +
             "</failure>\n";
      } else {
        x += "      <system-out>" + EscapeXml(text) + "</system-out>\n";
      }
      x += "    </testcase>\n";
    }
    x += "  </testsuite>\n";
  }
  x += "</testsuites>\n";
  return x;
}

}  // namespace fb::reports
