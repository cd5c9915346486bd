// `log`: follows a file (tail -F: waits for it to appear, follows rotation by
// rename and truncation in place, loses no line) or a shell command's output,
// and turns lines into events with regex rules.
//
// Settings:
//   path: FILE | command: "shell line"   exactly one
//   from_start: false     read the file from its beginning instead of its end
//   poll_interval: 100ms  how often the file is checked for growth/rotation
//   unmatched: log|drop   lines no rule matches become kind "log" (default) or vanish
//   rules: - {match: REGEX, kind: path_failed, severity: warning, message: "path $1 down"}
// The first matching rule wins. In `message`, $0 is the whole match, $1..$9 the
// capture groups, $line the raw line; the default message is the raw line. Every
// event carries attrs {line, captures, rule} and source = the probe's name.
#pragma once

#include "probes/probe.h"

namespace fb {

std::unique_ptr<Probe> NewLogProbe(const std::string& name, Settings* settings);

}  // namespace fb
