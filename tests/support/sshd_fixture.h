// A throwaway OpenSSH server on 127.0.0.1 for tests of what runs over ssh: its
// own host key, a client key in authorized_keys, a known_hosts file for it,
// root login by key only, in a temp dir. Stopped (and its sessions with it) on
// destruction. Needs root and /usr/sbin/sshd (openssh-server, scripts/setup).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "tests/support/test_util.h"

namespace fb {

class SshdFixture {
 public:
  // Throws std::runtime_error when sshd cannot be started.
  SshdFixture();
  ~SshdFixture();
  SshdFixture(const SshdFixture&) = delete;
  SshdFixture& operator=(const SshdFixture&) = delete;

  static bool Available();  // root and sshd present

  int port() const { return port_; }
  const std::string& identity_file() const { return identity_; }
  const std::string& known_hosts() const { return known_hosts_; }
  const std::string& dir() const { return dir_.path(); }
  // CommandTarget settings (plugin/command_target.h) that log in here as root.
  nlohmann::json Settings() const;

 private:
  TempDir dir_;
  std::string identity_, known_hosts_;
  int port_ = 0;
  int pid_ = -1;
};

}  // namespace fb
