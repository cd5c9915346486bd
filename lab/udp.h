// A small IPv4 UDP socket for the heartbeat and mediator protocols (one JSON
// datagram per message). Not thread-safe except that Send and Recv may run on
// different threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/status.h"

namespace fb::lab {

struct Datagram {
  std::string text;
  std::string from_addr;
  int from_port = 0;
};

class UdpSocket {
 public:
  UdpSocket() = default;
  ~UdpSocket();
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;

  // Binds to addr:port (port 0 = any free port).
  Status Bind(const std::string& addr, int port);
  // The port bound (the one the kernel chose for port 0); 0 when not bound.
  int port() const;
  Status SendTo(const std::string& addr, int port, const std::string& text);
  // Waits at most timeout_ns for one datagram; nullopt on timeout or error.
  std::optional<Datagram> Recv(int64_t timeout_ns);
  void Close();

 private:
  int fd_ = -1;
  std::string bound_;
};

}  // namespace fb::lab
