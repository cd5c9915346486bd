#include "probes/poll_probe.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "core/clock.h"
#include "plugin/command_target.h"
#include "probes/poll_parsers.h"
#include "probes/probe_base.h"

namespace fb {

namespace {

using nlohmann::json;
using namespace poll_parsers;

enum class Parser { kPaths, kMaps, kSessions, kKeyValue };

struct Config {
  std::string name;
  Parser parser = Parser::kKeyValue;
  std::vector<std::string> argv;  // empty: iscsi_sessions read locally
  std::string shown;              // the command as the plan wrote it
  int64_t interval_ns = 0, timeout_ns = 0;
  std::string kind, sysfs_root;
};

class PollProbe : public ProbeBase {
 public:
  PollProbe(Config c, CommandTarget target)
      : ProbeBase(c.name), c_(std::move(c)), target_(std::move(target)) {}
  ~PollProbe() override { Stop(); }

  std::vector<std::string> EventKinds() const override {
    std::vector<std::string> kinds;
    switch (c_.parser) {
      case Parser::kPaths:
        kinds = {"path_failed", "path_reinstated", "path_state", "path_added", "path_removed"};
        break;
      case Parser::kMaps:
        kinds = {"path_failed", "path_reinstated", "map_state", "map_added", "map_removed"};
        break;
      case Parser::kSessions:
        kinds = {"session_lost", "session_restored", "session_state", "session_added", "session_removed"};
        break;
      case Parser::kKeyValue:
        kinds = {c_.kind};
        break;
    }
    kinds.insert(kinds.end(), {"initial", "probe_error", "probe_recovered"});
    return kinds;
  }

 private:
  void Run() override {
    // A failed ssh master shows as the first poll's error; later polls connect anew.
    if (target_.remote() && !c_.argv.empty()) (void)target_.Prepare();
    int64_t next = MonoNs();
    while (true) {
      if (WaitStop(next - MonoNs())) break;
      next += c_.interval_ns;
      if (next < MonoNs()) next = MonoNs() + c_.interval_ns;  // overran: skip, do not burst
      if (!Poll()) break;
    }
  }

  // The raw output, or why there is none. Sets stopped_ when Stop() cut it short.
  Result<std::string> Fetch() {
    if (c_.argv.empty()) return ReadSessionsLocal(c_.sysfs_root);
    auto r = RunCommand(target_.Wrap(c_.argv), {.timeout_ns = c_.timeout_ns, .stop_fd = stop_fd()});
    if (!r.ok()) return r.status();
    if (r->stopped) {
      stopped_ = true;
      return Status::Unavailable("stopped");
    }
    if (!r->success()) return Status::IoError(r->Describe());
    return std::move(r->out);
  }

  Result<Table> Parse(const std::string& out) {
    switch (c_.parser) {
      case Parser::kPaths:
        return ParsePaths(out);
      case Parser::kMaps:
        return ParseMaps(out);
      case Parser::kSessions:
        return ParseSessions(out);
      case Parser::kKeyValue:
        return ParseKeyValue(out);
    }
    return Table{};
  }

  // Returns false once stopped.
  bool Poll() {
    int64_t start = MonoNs();
    Result<std::string> out = Fetch();
    if (stopped_) return false;
    Result<Table> table = out.ok() ? Parse(*out) : Result<Table>(out.status());
    int64_t now = MonoNs();
    if (!table.ok()) {
      if (blind_since_ == 0) {
        blind_since_ = start;
        Emit(now, "probe_error", Severity::kWarning,
             "probe " + c_.name + " on " + target_.where() + ": `" + c_.shown +
                 "`: " + table.status().message(),
             {{"command", c_.shown},
              {"where", target_.where()},
              {"error", table.status().message()},
              {"raw", out.ok() ? out->substr(0, 4096) : ""}});
      }
      return true;
    }
    if (blind_since_ != 0) {
      Emit(now, "probe_recovered", Severity::kInfo,
           "probe " + c_.name + " on " + target_.where() + ": `" + c_.shown + "` answers again",
           {{"blind_ms", double(now - blind_since_) / double(kNsPerMs)}, {"where", target_.where()}});
      blind_since_ = 0;
    }
    if (last_poll_ == 0) {
      Emit(now, "initial", Severity::kDebug,
           "probe " + c_.name + ": baseline of " + std::to_string(table->size()) + " entries",
           {{"entries", table->size()}, {"raw", out->substr(0, 4096)}});
      for (const auto& [k, e] : *table) health_[k] = Healthy(e, Health::kUnknown);
    } else {
      window_ms_ = double(now - last_poll_) / double(kNsPerMs);
      Diff(*table, now);
    }
    last_poll_ = now;
    prev_ = std::move(*table);
    return true;
  }

  Health Healthy(const Entry& e, Health before) const {
    Health h = c_.parser == Parser::kPaths      ? PathHealth(e)
               : c_.parser == Parser::kSessions ? SessionHealth(e.Get("state"))
                                                : Health::kUnknown;
    return h == Health::kUnknown ? before : h;
  }

  void Diff(const Table& cur, int64_t now) {
    std::set<std::string> keys;
    for (const auto& [k, e] : prev_) keys.insert(k);
    for (const auto& [k, e] : cur) keys.insert(k);
    for (const std::string& k : keys) {
      auto p = prev_.find(k);
      auto c = cur.find(k);
      const Entry* was = p == prev_.end() ? nullptr : &p->second;
      const Entry* is = c == cur.end() ? nullptr : &c->second;
      if (was && is && was->f == is->f) continue;
      Health before = health_[k];
      Health after = is ? Healthy(*is, before) : Health::kUnknown;
      if (is)
        health_[k] = after;
      else
        health_.erase(k);
      switch (c_.parser) {
        case Parser::kPaths:
          PathChange(k, was, is, before, after, now);
          break;
        case Parser::kMaps:
          MapChange(k, was, is, now);
          break;
        case Parser::kSessions:
          SessionChange(k, was, is, before, after, now);
          break;
        case Parser::kKeyValue:
          KeyChange(k, was, is, now);
          break;
      }
    }
  }

  json RowAttrs(const Entry* was, const Entry* is) {
    json a = json::object();
    if (is) a["line"] = is->line;
    if (was) a["previous_line"] = was->line;
    return a;
  }

  void PathChange(const std::string& dev, const Entry* was, const Entry* is, Health before, Health after,
                  int64_t now) {
    json a = RowAttrs(was, is);
    a["device"] = dev;
    for (const char* f : {"dm_state", "chk_state", "dev_state"}) {
      if (is) a[f] = is->Get(f);
      if (was) a[std::string("previous_") + f] = was->Get(f);
    }
    auto state = [](const Entry* e) {
      return e->Get("dm_state") + "/" + e->Get("chk_state") + "/" + e->Get("dev_state");
    };
    std::string msg =
        "path " + dev + ": " + (was ? state(was) : "absent") + " -> " + (is ? state(is) : "absent");
    if (!was)
      Emit(now, "path_added", after == Health::kDown ? Severity::kWarning : Severity::kInfo, msg, a);
    else if (!is)
      Emit(now, "path_removed", Severity::kWarning, msg, a);
    else if (before != Health::kDown && after == Health::kDown)
      Emit(now, "path_failed", Severity::kWarning, msg, a);
    else if (before == Health::kDown && after == Health::kUp)
      Emit(now, "path_reinstated", Severity::kInfo, msg, a);
    else
      Emit(now, "path_state", Severity::kDebug, msg, a);
  }

  void MapChange(const std::string& map, const Entry* was, const Entry* is, int64_t now) {
    json a = RowAttrs(was, is);
    a["map"] = map;
    auto count = [](const Entry* e) -> json {
      std::string v = e->Get("paths");
      if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos) return v;
      return std::stoll(v);
    };
    if (is) {
      a["paths"] = count(is);
      a["dm_st"] = is->Get("dm-st");
      a["columns"] = is->f;
    }
    if (was) {
      a["previous_paths"] = count(was);
      a["previous_dm_st"] = was->Get("dm-st");
    }
    if (!was || !is) {
      Emit(now, is ? "map_added" : "map_removed", is ? Severity::kInfo : Severity::kWarning,
           "map " + map + (is ? " appeared" : " disappeared"), a);
      return;
    }
    json n = a["paths"], pn = a["previous_paths"];
    if (n != pn) {
      std::string msg = "map " + map + ": active paths " + pn.dump() + " -> " + n.dump();
      if (n.is_number() && pn.is_number() && n.get<int64_t>() > pn.get<int64_t>())
        Emit(now, "path_reinstated", Severity::kInfo, msg, a);
      else
        Emit(now, "path_failed", n == json(0) ? Severity::kError : Severity::kWarning, msg, a);
    }
    if (is->Get("dm-st") != was->Get("dm-st")) {
      Emit(now, "map_state", is->Get("dm-st") == "active" ? Severity::kInfo : Severity::kWarning,
           "map " + map + ": dm-st " + was->Get("dm-st") + " -> " + is->Get("dm-st"), a);
    }
  }

  void SessionChange(const std::string& sid, const Entry* was, const Entry* is, Health before, Health after,
                     int64_t now) {
    json a = RowAttrs(was, is);
    a["session"] = sid;
    a["state"] = is ? json(is->Get("state")) : json(nullptr);
    a["previous"] = was ? json(was->Get("state")) : json(nullptr);
    std::string target = (is ? is : was)->Get("targetname");
    if (!target.empty()) a["targetname"] = target;
    std::string msg = sid + (target.empty() ? "" : " (" + target + ")") + ": " +
                      (was ? was->Get("state") : "absent") + " -> " + (is ? is->Get("state") : "absent");
    if (!was)
      Emit(now, "session_added", Severity::kInfo, msg, a);
    else if (!is)
      Emit(now, "session_removed", Severity::kWarning, msg, a);
    else if (before != Health::kDown && after == Health::kDown)
      Emit(now, "session_lost", Severity::kError, msg, a);
    else if (before == Health::kDown && after == Health::kUp)
      Emit(now, "session_restored", Severity::kInfo, msg, a);
    else
      Emit(now, "session_state", Severity::kDebug, msg, a);
  }

  void KeyChange(const std::string& key, const Entry* was, const Entry* is, int64_t now) {
    json a = RowAttrs(was, is);
    a["key"] = key;
    a["value"] = is ? json(is->Get("value")) : json(nullptr);
    a["previous"] = was ? json(was->Get("value")) : json(nullptr);
    Emit(now, c_.kind, Severity::kInfo,
         key + ": " + (was ? was->Get("value") : "(absent)") + " -> " + (is ? is->Get("value") : "(absent)"),
         a);
  }

  void Decorate(const std::string& kind, json* attrs) const override {
    if (kind != "probe_error" && kind != "probe_recovered" && kind != "initial")
      (*attrs)["window_ms"] = window_ms_;
  }

  Config c_;
  CommandTarget target_;
  bool stopped_ = false;
  int64_t last_poll_ = 0, blind_since_ = 0;
  double window_ms_ = 0;
  Table prev_;
  std::map<std::string, Health> health_;
};

}  // namespace

std::unique_ptr<Probe> NewPollProbe(const std::string& name, Settings* s) {
  Config c;
  c.name = name;
  std::string parser = s->String("parser", /*required=*/true);
  static const std::map<std::string, Parser> kParsers = {{"multipathd_paths", Parser::kPaths},
                                                         {"multipathd_maps", Parser::kMaps},
                                                         {"iscsi_sessions", Parser::kSessions},
                                                         {"key_value", Parser::kKeyValue}};
  auto it = kParsers.find(parser);
  if (it != kParsers.end()) {
    c.parser = it->second;
  } else if (!parser.empty()) {
    std::vector<std::string> known;
    for (const auto& [k, v] : kParsers) known.push_back(k);
    s->Problem("parser", "unknown parser \"" + parser +
                             "\" (multipathd_paths, multipathd_maps, iscsi_sessions, "
                             "key_value)" +
                             DidYouMean(parser, known));
  }
  std::string command = s->String("command");
  std::vector<std::string> argv;
  if (const json* list = s->List("argv")) {
    for (const json& w : *list) {
      if (w.is_string())
        argv.push_back(w.get<std::string>());
      else
        s->Problem("argv", "every word must be a single value");
    }
    if (list->empty()) s->Problem("argv", "must not be empty");
  }
  if (!command.empty() && !argv.empty()) s->Problem("argv", "give command or argv, not both");
  if (!command.empty()) {
    argv = {"sh", "-c", command};
    c.shown = command;
  } else if (!argv.empty()) {
    c.shown = JoinArgv(argv);
  }
  c.interval_ns = s->DurationNs("interval", kNsPerSec);
  if (c.interval_ns < 10 * kNsPerMs) s->Problem("interval", "must be at least 10ms");
  c.kind = s->String("kind", false, "changed");
  if (c.kind.empty()) s->Problem("kind", "must not be empty");
  if (s->Has("kind") && c.parser != Parser::kKeyValue) s->Problem("kind", "only for parser key_value");
  c.sysfs_root = s->String("sysfs_root", false, "/sys");
  if (s->Has("sysfs_root") && c.parser != Parser::kSessions)
    s->Problem("sysfs_root", "only for parser iscsi_sessions");
  bool has_timeout = s->Has("timeout");
  CommandTarget target = CommandTarget::FromSettings(name, s);
  c.timeout_ns = has_timeout ? target.timeout_ns() : 5 * kNsPerSec;
  switch (c.parser) {
    case Parser::kPaths:
      if (argv.empty()) argv = {"multipathd", "show", "paths", "format", "%d %t %T %o"};
      break;
    case Parser::kMaps:
      if (argv.empty()) argv = {"multipathd", "show", "maps", "status"};
      break;
    case Parser::kKeyValue:
      if (argv.empty() && it != kParsers.end())
        s->Problem("", "parser key_value needs \"command\" or \"argv\"");
      break;
    case Parser::kSessions: {
      if (!argv.empty())
        s->Problem(command.empty() ? "argv" : "command", "parser iscsi_sessions runs no command");
      if (s->Has("netns"))
        s->Problem("netns", "parser iscsi_sessions reads sysfs, which no network namespace changes");
      argv.clear();
      std::string dir = ShellQuote(c.sysfs_root + "/class/iscsi_session");
      c.shown = "read " + c.sysfs_root + "/class/iscsi_session/session*/state";
      if (target.remote()) {
        argv = {"sh", "-c",
                "cd " + dir +
                    " 2>/dev/null || exit 0; for s in session*; do [ -r \"$s/state\" ] || continue; "
                    "printf '%s %s %s\\n' \"$s\" \"$(cat \"$s/state\")\" \"$(cat \"$s/targetname\" "
                    "2>/dev/null)\"; done"};
      }
      break;
    }
  }
  if (c.shown.empty()) c.shown = JoinArgv(argv);
  c.argv = std::move(argv);
  return std::make_unique<PollProbe>(std::move(c), std::move(target));
}

}  // namespace fb
