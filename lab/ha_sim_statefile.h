// The HA statefile as fb-ha-sim reaches it: LUN 2 of the lab's target over
// libiscsi, through each URL in turn (site-a, then site-b), synchronously with
// short timeouts, so a cut or paused storage path costs at most one timeout per
// URL. A broken session is dropped and logged in again on the next call. Used
// by one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace fb::lab {

class HaStatefile {
 public:
  // timeout_ns bounds each login and each command, per URL.
  HaStatefile(std::vector<std::string> urls, int64_t timeout_ns);
  ~HaStatefile();
  HaStatefile(const HaStatefile&) = delete;
  HaStatefile& operator=(const HaStatefile&) = delete;

  // Writes one 512-byte block (data padded with zeros). Ok once one URL took it.
  Status WriteBlock(uint64_t lba, const std::string& data);
  // Reads `blocks` 512-byte blocks from LBA 0, from the first URL that answers.
  Result<std::string> ReadBlocks(int blocks);

  static constexpr int kBlockBytes = 512;

 private:
  struct Conn;
  Status Connect(Conn& c);
  Result<std::string> Run(Conn& c, bool write, uint64_t lba, std::string data, int blocks);

  int64_t timeout_ns_;
  std::vector<std::unique_ptr<Conn>> conns_;
};

}  // namespace fb::lab
