#include "qualify/deploy.h"

#include <unistd.h>

#include <cstdio>
#include <sstream>
#include <thread>

#include "agent/agent_client.h"
#include "agent/protocol.h"
#include "core/jsonl_writer.h"
#include "core/version.h"
#include "plans/agent_fleet.h"
#include "plugin/command_target.h"

namespace fb {

namespace {

constexpr const char* kUnit = "faultbench-agent.service";

bool EndsWith(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}
bool IsDeb(const std::string& p) { return EndsWith(p, ".deb"); }

std::string Trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r\n"), b = s.find_last_not_of(" \t\r\n");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

std::string FirstLine(const std::string& s) { return Trim(s.substr(0, s.find('\n'))); }

// The version `binary --version` prints ("faultbench-agent 0.1.0"), or "none".
std::string VersionOf(const CommandTarget& target, const std::string& binary) {
  auto r = target.Run({binary, "--version"});
  if (!r.ok() || !r->success()) return "none";
  std::string line = FirstLine(r->out);
  size_t sp = line.find_last_of(' ');
  return sp == std::string::npos ? line : line.substr(sp + 1);
}

DeployRow DeployOne(const AgentSpec& spec, const DeployOptions& o, const std::string& package_bytes) {
  DeployRow row;
  row.agent = spec.name;
  row.host = spec.ssh.value("host", std::string());
  row.before = row.after = "none";
  row.unit = "-";
  row.state_dir = spec.state_dir.empty() ? kAgentDefaultStateDir : spec.state_dir;
  if (spec.transport == "tcp") {
    row.result = "not deployed: a tcp agent (deploy goes over ssh: give the agent ssh settings)";
    return row;
  }
  Settings settings(spec.ssh.is_object() ? spec.ssh : nlohmann::json::object());
  CommandTarget target = CommandTarget::FromSettings("deploy " + spec.name, &settings);
  if (!settings.problems().empty()) {
    row.result = "ssh." + settings.problems().front().key + ": " + settings.problems().front().message;
    return row;
  }
  if (Status s = target.Prepare(); !s.ok()) {
    row.result = s.message();
    return row;
  }
  std::vector<std::string> command = SplitCommand(spec.command);
  const std::string binary = command.empty() ? "faultbench-agent" : command[0];
  row.before = row.after = VersionOf(target, binary);

  auto fail = [&](const std::string& why) {
    row.result = why;
    return row;
  };
  if (!o.check && row.before != kVersion) {
    const std::string tmp =
        "/tmp/faultbench-agent-deploy-" + std::to_string(getpid()) + (IsDeb(o.package) ? ".deb" : ".tar.gz");
    auto copied = target.RunOk("copy the package", {"sh", "-c", "umask 077 && cat > " + ShellQuote(tmp)},
                               package_bytes);
    if (!copied.ok()) return fail(copied.status().message());
    std::vector<std::string> install;
    if (!o.prefix.empty())
      install = IsDeb(o.package)
                    ? std::vector<std::string>{"sh", "-c",
                                               "mkdir -p " + ShellQuote(o.prefix) + " && dpkg-deb -x " +
                                                   ShellQuote(tmp) + " " + ShellQuote(o.prefix)}
                    : std::vector<std::string>{"sh", "-c",
                                               "mkdir -p " + ShellQuote(o.prefix) + " && tar -xzf " +
                                                   ShellQuote(tmp) + " -C " + ShellQuote(o.prefix)};
    else if (IsDeb(o.package))
      install = {"dpkg", "-i", tmp};
    else
      install = {"sh", "-c",
                 "tar -xzf " + ShellQuote(tmp) + " -C / && install -d -m 0700 " +
                     ShellQuote(kAgentDefaultStateDir) +
                     " && if [ -d /run/systemd/system ]; then systemctl daemon-reload && systemctl enable " +
                     kUnit + "; fi"};
    auto installed = target.RunOk("install the package", install);
    (void)target.Run({"rm", "-f", tmp});
    if (!installed.ok()) return fail(installed.status().message());
    row.after = VersionOf(target, binary);
  }
  if (o.prefix.empty()) {
    auto unit = target.Run({"sh", "-c",
                            std::string("if [ -d /run/systemd/system ]; then systemctl is-enabled ") + kUnit +
                                " 2>/dev/null || true; else echo 'no systemd'; fi"});
    row.unit = unit.ok() ? FirstLine(unit->out) : "unknown";
    if (row.unit.empty()) row.unit = "not-found";
  }
  auto dir = target.Run({"test", "-d", row.state_dir});
  row.state_dir += dir.ok() && dir->success() ? " (present)" : " (made at the first run)";

  // The hello of a real session, as a run makes it (its version checked).
  AgentClientOptions c;
  c.name = spec.name;
  c.ssh = spec.ssh;
  c.agent_argv = command;
  c.state_dir = spec.state_dir;
  c.own_journal = false;
  c.time_rounds = 1;
  AgentClient client(std::move(c));
  if (Status s = client.Connect(); !s.ok()) return fail(s.message());
  if (row.after != kVersion)
    return fail(binary + " --version says " + row.after + ", this controller is " + kVersion);
  if (o.prefix.empty() && row.unit != "enabled" && row.unit != "no systemd")
    return fail(std::string(kUnit) + " is " + row.unit + " (systemctl enable " + kUnit + ")");
  row.ok = true;
  row.result =
      row.before == kVersion ? (o.check ? "ok" : "ok (already " + row.before + ")") : "ok (installed)";
  return row;
}

}  // namespace

Status CheckDeployPackage(const DeployOptions& o) {
  if (o.check) return Status::Ok();
  if (o.package.empty())
    return Status::InvalidInput(
        "deploy: give --package FILE (faultbench-agent_" + std::string(kVersion) +
        "_<arch>.deb or the agent tarball .tar.gz: scripts/package builds both), or --check");
  if (!IsDeb(o.package) && !EndsWith(o.package, ".tar.gz"))
    return Status::InvalidInput("deploy: --package " + o.package + ": expected a .deb or a .tar.gz");
  if (access(o.package.c_str(), R_OK) != 0) return ErrnoStatus("deploy: --package " + o.package, errno);
  if (!o.prefix.empty() && o.prefix[0] != '/')
    return Status::InvalidInput("deploy: --prefix " + o.prefix + ": must be an absolute path");
  return Status::Ok();
}

std::vector<DeployRow> Deploy(const Plan& plan, const DeployOptions& o) {
  std::string bytes;
  if (!o.check) {
    auto b = ReadFile(o.package);
    if (b.ok()) bytes = *b;
  }
  std::vector<DeployRow> rows(plan.agents.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < plan.agents.size(); ++i)
    threads.emplace_back([&, i] { rows[i] = DeployOne(plan.agents[i], o, bytes); });
  for (auto& t : threads) t.join();
  return rows;
}

std::string DeployTable(const std::vector<DeployRow>& rows) {
  size_t wa = 5, wh = 4, wv = 7, wu = 4, ws = 9;
  auto version = [](const DeployRow& r) {
    return r.before == r.after ? r.after : r.before + " -> " + r.after;
  };
  for (const auto& r : rows) {
    wa = std::max(wa, r.agent.size());
    wh = std::max(wh, r.host.size());
    wv = std::max(wv, version(r).size());
    wu = std::max(wu, r.unit.size());
    ws = std::max(ws, r.state_dir.size());
  }
  std::ostringstream out;
  char line[1024];
  std::snprintf(line, sizeof line, "%-*s  %-*s  %-*s  %-*s  %-*s  %s\n", int(wa), "agent", int(wh), "host",
                int(wv), "version", int(wu), "unit", int(ws), "state dir", "result");
  out << line;
  for (const auto& r : rows) {
    std::snprintf(line, sizeof line, "%-*s  %-*s  %-*s  %-*s  %-*s  ", int(wa), r.agent.c_str(), int(wh),
                  r.host.c_str(), int(wv), version(r).c_str(), int(wu), r.unit.c_str(), int(ws),
                  r.state_dir.c_str());
    out << line << (r.ok ? "" : "FAIL: ") << r.result << "\n";
  }
  return out.str();
}

}  // namespace fb
