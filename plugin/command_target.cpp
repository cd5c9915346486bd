#include "plugin/command_target.h"

#include <functional>

#include "core/clock.h"

namespace fb {

std::string ShellQuote(const std::string& word) {
  if (!word.empty() &&
      word.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:=@%+,") ==
          std::string::npos) {
    return word;
  }
  std::string out = "'";
  for (char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string IdentifierChars(const std::string& text) {
  std::string out;
  for (char c : text) out += (isalnum(static_cast<unsigned char>(c)) || c == '_') ? c : '_';
  return out;
}

CommandTarget CommandTarget::FromSettings(const std::string& owner, Settings* s) {
  CommandTarget t;
  t.owner_ = owner;
  t.host_ = s->String("host");
  t.user_ = s->String("user");
  t.ssh_port_ = s->String("ssh_port");
  t.identity_file_ = s->String("identity_file");
  t.known_hosts_ = s->String("known_hosts");
  t.strict_ = s->Bool("strict_host_key_checking", true);
  t.netns_ = s->String("netns");
  t.timeout_ns_ = s->DurationNs("timeout", 30 * kNsPerSec);
  if (t.timeout_ns_ <= 0) s->Problem("timeout", "must be more than 0");
  if (!t.ssh_port_.empty() && t.ssh_port_.find_first_not_of("0123456789") != std::string::npos) {
    s->Problem("ssh_port", "must be a port number");
  }
  if (t.host_.empty()) {
    for (const char* k : {"user", "ssh_port", "identity_file", "known_hosts"}) {
      if (s->Has(k)) s->Problem(k, std::string(k) + " needs host");
    }
  }
  t.Bind(FaultContext{});
  return t;
}

CommandTarget::~CommandTarget() {
  // Closes the control master this instance opened; an instance that only
  // reused one leaves it alone (its ControlPersist ends it).
  if (!master_open_) return;
  std::vector<std::string> a = SshArgs(false);
  a.insert(a.end() - 1, {"-O", "exit"});
  (void)RunCommand(a, {.timeout_ns = 5 * kNsPerSec});
}

CommandTarget::CommandTarget(CommandTarget&& o) noexcept { *this = std::move(o); }
CommandTarget& CommandTarget::operator=(CommandTarget&& o) noexcept {
  owner_ = std::move(o.owner_);
  host_ = std::move(o.host_);
  user_ = std::move(o.user_);
  ssh_port_ = std::move(o.ssh_port_);
  identity_file_ = std::move(o.identity_file_);
  known_hosts_ = std::move(o.known_hosts_);
  netns_ = std::move(o.netns_);
  control_path_ = std::move(o.control_path_);
  strict_ = o.strict_;
  master_open_ = o.master_open_;
  o.master_open_ = false;
  timeout_ns_ = o.timeout_ns_;
  persist_s_ = o.persist_s_;
  return *this;
}

void CommandTarget::Bind(const FaultContext& context) {
  // Short and stable (sun_path holds 108 bytes): the same run and injector map
  // to the same socket, in the guard too.
  size_t h =
      std::hash<std::string>{}(context.run_id + "\n" + owner_ + "\n" + user_ + "@" + host_ + ":" + ssh_port_);
  char buf[64];
  snprintf(buf, sizeof buf, "/tmp/fb-ssh-%016zx", h);
  control_path_ = buf;
  if (context.lease_ns > 0) persist_s_ = std::max<int64_t>(persist_s_, context.lease_ns / kNsPerSec + 600);
}

std::string CommandTarget::where() const {
  std::string w = host_.empty() ? "localhost" : (user_.empty() ? "" : user_ + "@") + host_;
  if (!netns_.empty()) w += " netns " + netns_;
  return w;
}

// ssh options and destination; the last element is the destination.
std::vector<std::string> CommandTarget::SshArgs(bool master) const {
  if (host_.empty()) return {};
  std::vector<std::string> a = {
      "ssh", "-o", "BatchMode=yes", "-o", std::string("StrictHostKeyChecking=") + (strict_ ? "yes" : "no"),
      "-o", "ConnectTimeout=" + std::to_string(std::max<int64_t>(1, timeout_ns_ / kNsPerSec)), "-o",
      // A host that dies silently ends the session within ~15 s.
      "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3", "-o", "ControlPath=" + control_path_, "-o",
      master ? "ControlMaster=auto" : "ControlMaster=no"};
  if (master) a.insert(a.end(), {"-o", "ControlPersist=" + std::to_string(persist_s_)});
  if (!known_hosts_.empty()) a.insert(a.end(), {"-o", "UserKnownHostsFile=" + known_hosts_});
  if (!identity_file_.empty()) a.insert(a.end(), {"-o", "IdentitiesOnly=yes", "-i", identity_file_});
  if (!ssh_port_.empty()) a.insert(a.end(), {"-p", ssh_port_});
  if (!user_.empty()) a.insert(a.end(), {"-l", user_});
  a.push_back(host_);
  return a;
}

std::vector<std::string> CommandTarget::Wrap(const std::vector<std::string>& argv) const {
  std::vector<std::string> inner;
  if (!netns_.empty()) inner = {"ip", "netns", "exec", netns_};
  inner.insert(inner.end(), argv.begin(), argv.end());
  if (host_.empty()) return inner;
  std::vector<std::string> a = SshArgs(false);
  std::string line;
  for (const auto& w : inner) line += (line.empty() ? "" : " ") + ShellQuote(w);
  a.push_back("--");
  a.push_back(line);
  return a;
}

Status CommandTarget::Prepare() {
  if (host_.empty()) return Status::Ok();
  std::vector<std::string> a = SshArgs(true);
  a.insert(a.end(), {"--", "true"});
  auto r = RunCommand(a, {.timeout_ns = timeout_ns_});
  if (!r.ok()) return r.status().With(owner_ + " on " + where() + ": open ssh connection");
  if (!r->success())
    return Status::Unavailable(Describe("open ssh connection", {"true"}) + ": " + r->Describe());
  master_open_ = true;
  return Status::Ok();
}

Result<CommandResult> CommandTarget::Run(const std::vector<std::string>& argv,
                                         const std::string& stdin_text) const {
  return RunCommand(Wrap(argv), {.timeout_ns = timeout_ns_, .stdin_text = stdin_text});
}

std::string CommandTarget::Describe(const char* action, const std::vector<std::string>& argv) const {
  return "injector " + owner_ + " on " + where() + ": " + action + " `" + JoinArgv(argv) + "`";
}

Result<std::string> CommandTarget::RunOk(const char* action, const std::vector<std::string>& argv,
                                         const std::string& stdin_text) const {
  auto r = Run(argv, stdin_text);
  if (!r.ok()) return r.status().With(Describe(action, argv));
  if (!r->success()) return Status::Unavailable(Describe(action, argv) + ": " + r->Describe());
  return r->out;
}

}  // namespace fb
