// Rule packs shipped with faultbench: regex rules for the exact log lines of
// docs/platform.md, named in a `log` probe's plan (`rules: [multipathd, iscsi,
// kernel, xapi]`). A rule turns one line into one normalized event kind and names its
// capture groups, so the event's attrs carry {map, device, dev_t, remaining, session,
// connection, error_code, timeout_s, ...} instead of positional captures.
#pragma once

#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "core/event.h"
#include "core/status.h"
#include "plugin/settings.h"

namespace fb {

struct LogRule {
  std::regex re;
  std::string pattern, kind, message;
  Severity severity = Severity::kInfo;
  std::vector<std::string> fields;                  // names of capture groups 1..n ("" = unnamed)
  nlohmann::json extra = nlohmann::json::object();  // constant attrs, e.g. {"by": "operator"}
  std::string pack;                                 // "" for the plan's own rules
};

// The rules of a named pack, in match order, or an error naming the known packs.
Result<std::vector<LogRule>> RulePack(const std::string& name);
std::vector<std::string> RulePackNames();

// Adds the named captures of `m` (and the rule's constant attrs) to `attrs`; for an
// open-iscsi `error_code` also its name (1020 -> "ISCSI_ERR_TCP_CONN_CLOSE").
void AddRuleFields(const LogRule& rule, const std::smatch& m, nlohmann::json* attrs);

// The `rules:` list of a log probe's settings, in match order: pack names and
// maps {match, kind, severity, message}. Problems go to `settings` with their
// key ("rules[1].match").
std::vector<LogRule> ParseLogRules(Settings* settings);

// A rule's message template: $0 the whole match, $1..$9 the groups, $line the line.
std::string ExpandMessage(const std::string& tmpl, const std::smatch& m, const std::string& line);

}  // namespace fb
