// Where an injector's commands run: on this host, in a network namespace of this
// host (`ip netns exec NS`), or on a remote host through the OpenSSH client.
// Shared settings (read by FromSettings):
//   host              remote host; absent = this host
//   user, ssh_port    remote login (default: ssh's own defaults)
//   identity_file     private key; absent = ssh-agent / ssh's defaults
//   known_hosts       UserKnownHostsFile (default: ssh's own)
//   strict_host_key_checking  default true (never accepts an unknown host key)
//   netns             network namespace to run in (on the target host)
//   timeout           per command, default 30s
// Over ssh every command runs in BatchMode (never prompts) through a
// ControlMaster socket that Prepare() opens, so a revert does not pay for a new
// handshake; keep-alives (ServerAliveInterval 5 s x 3) end a session whose host
// died silently, so a follower over ssh reports it instead of hanging. Errors name the host, the command and
// its stderr.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/subprocess.h"
#include "plugin/fault_context.h"
#include "plugin/settings.h"

namespace fb {

class CommandTarget {
 public:
  // Reads the shared settings; problems go to `settings`. `owner` names the
  // injector instance (for messages and the control socket name).
  static CommandTarget FromSettings(const std::string& owner, Settings* settings);
  ~CommandTarget();
  CommandTarget(CommandTarget&&) noexcept;
  CommandTarget& operator=(CommandTarget&&) noexcept;

  bool remote() const { return !host_.empty(); }
  // "localhost", "localhost netns fb-a", "root@host-a", "root@host-a netns ns1"
  std::string where() const;
  int64_t timeout_ns() const { return timeout_ns_; }
  void Bind(const FaultContext& context);

  // Opens (or checks) the ssh ControlMaster connection; no-op locally.
  Status Prepare();
  // Runs argv on the target (quoted for the remote shell when over ssh).
  Result<CommandResult> Run(const std::vector<std::string>& argv, const std::string& stdin_text = "") const;
  // Like Run, but an unsuccessful command is an error: "<owner> on <where>:
  // <action> `<command>`: exit 1: <stderr>".
  Result<std::string> RunOk(const char* action, const std::vector<std::string>& argv,
                            const std::string& stdin_text = "") const;
  std::string Describe(const char* action, const std::vector<std::string>& argv) const;

  // The full local argv that runs `argv` on the target (for tests and messages).
  std::vector<std::string> Wrap(const std::vector<std::string>& argv) const;

 private:
  CommandTarget() = default;
  std::vector<std::string> SshArgs(bool master) const;

  std::string owner_, host_, user_, ssh_port_, identity_file_, known_hosts_, netns_, control_path_;
  bool strict_ = true;
  bool master_open_ = false;
  int64_t timeout_ns_ = 30'000'000'000;
  int64_t persist_s_ = 3600;
};

// Quotes one word for a POSIX shell: 'it'\''s'.
std::string ShellQuote(const std::string& word);
// [A-Za-z0-9_] kept, anything else '_'; for nftables table names and the like.
std::string IdentifierChars(const std::string& text);

}  // namespace fb
