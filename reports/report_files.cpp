// Formats by name and writing the chosen ones into a directory.
#include <unistd.h>

#include "core/jsonl_writer.h"
#include "reports/report.h"

namespace fb::reports {

Result<std::vector<Format>> ParseFormats(const std::string& text) {
  if (text == "all") return std::vector<Format>{Format::kSummary, Format::kJson, Format::kJunit, Format::kHtml};
  if (text == "summary") return std::vector<Format>{Format::kSummary};
  if (text == "json") return std::vector<Format>{Format::kJson};
  if (text == "junit") return std::vector<Format>{Format::kJunit};
  if (text == "html") return std::vector<Format>{Format::kHtml};
  return Status::InvalidInput("--format " + text + ": expected summary, json, junit, html or all");
}

const char* FileNameOf(Format f) {
  switch (f) {
    case Format::kSummary: return "summary.txt";
    case Format::kJson: return "report.json";
    case Format::kJunit: return "junit.xml";
    case Format::kHtml: return "report.html";
  }
  return "report";
}

Status WriteReports(const Analysis& a, const std::string& dir, const std::vector<Format>& formats) {
  for (Format f : formats) {
    std::string text;
    switch (f) {
      case Format::kSummary: text = FormatSummary(a, /*color=*/false); break;
      case Format::kJson: text = ReportToJson(a).dump(2) + "\n"; break;
      case Format::kJunit: text = FormatJunit(a); break;
      case Format::kHtml: text = FormatHtml(a); break;
    }
    std::string path = dir + "/" + FileNameOf(f);
    Status st = WriteFileAtomic(path, text);
    if (!st.ok()) return Status::IoError("cannot write " + path + ": " + st.message());
  }
  return Status::Ok();
}

}  // namespace fb::reports
