// The report writers: one format each, all from the same Analysis
// (correlator.h). Each returns the file's text; WriteReports puts the chosen
// ones in a directory (normally the run directory).
//   summary.txt   FormatSummary   short, aligned; ANSI colour only when asked
//   report.json   ReportToJson    schema: report.schema.json (field "schema_version")
//   junit.xml     FormatJunit     one testcase per expectation per fault
//   report.html   FormatHtml      self-contained page with the charts (dygraphs)
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "reports/analysis.h"

namespace fb::reports {

enum class Format { kSummary, kJson, kJunit, kHtml };

// "summary", "json", "junit", "html", "all" -> formats; error for anything else.
Result<std::vector<Format>> ParseFormats(const std::string& text);
const char* FileNameOf(Format f);

std::string FormatSummary(const Analysis& a, bool color);
nlohmann::json ReportToJson(const Analysis& a);
std::string FormatJunit(const Analysis& a);
std::string FormatHtml(const Analysis& a);

// Two runs' fault metrics side by side (faults paired by injector and cycle).
std::string FormatCompare(const Analysis& a, const Analysis& b);

// ", read-back after the run complete" or which loads did not read back, and why.
std::string ReadBackText(const Integrity& in);
// A platform operation's tasks, each load's pause, what moved (summary lines).
std::string OperationText(const OperationView& op);
// A master change's "XAPI unavailable" line: when the new master answered the
// injector, how long the xapi probe was blind, whether any load paused.
std::string MasterChangeText(const OperationView& op);

// Escapes & < > " ' for XML and HTML text and attributes.
std::string EscapeXml(const std::string& text);

// Writes each format to `dir`/FileNameOf(format), atomically. Errors name the file.
Status WriteReports(const Analysis& a, const std::string& dir, const std::vector<Format>& formats);

}  // namespace fb::reports
