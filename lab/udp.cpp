#include "lab/udp.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace fb::lab {

namespace {
Result<sockaddr_in> MakeAddr(const std::string& addr, int port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(uint16_t(port));
  if (inet_pton(AF_INET, addr.c_str(), &sa.sin_addr) != 1) {
    return Status::InvalidInput("not an IPv4 address: \"" + addr + "\"");
  }
  return sa;
}
}  // namespace

UdpSocket::~UdpSocket() { Close(); }

void UdpSocket::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Status UdpSocket::Bind(const std::string& addr, int port) {
  Close();
  auto sa = MakeAddr(addr, port);
  if (!sa.ok()) return sa.status();
  bound_ = addr + ":" + std::to_string(port);
  fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return ErrnoStatus("socket for udp " + bound_, errno);
  int one = 1;
  setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd_, reinterpret_cast<const sockaddr*>(&*sa), sizeof(sockaddr_in)) != 0) {
    int err = errno;
    Close();
    return ErrnoStatus("bind udp " + bound_, err);
  }
  return Status::Ok();
}

int UdpSocket::port() const {
  sockaddr_in sa{};
  socklen_t len = sizeof sa;
  if (fd_ < 0 || getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len) != 0) return 0;
  return ntohs(sa.sin_port);
}

Status UdpSocket::SendTo(const std::string& addr, int port, const std::string& text) {
  if (fd_ < 0) return Status::Internal("udp send on a closed socket");
  auto sa = MakeAddr(addr, port);
  if (!sa.ok()) return sa.status();
  ssize_t n = ::sendto(fd_, text.data(), text.size(), MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&*sa),
                       sizeof(sockaddr_in));
  if (n < 0)
    return ErrnoStatus("udp send from " + bound_ + " to " + addr + ":" + std::to_string(port), errno);
  return Status::Ok();
}

std::optional<Datagram> UdpSocket::Recv(int64_t timeout_ns) {
  if (fd_ < 0) return std::nullopt;
  pollfd p{fd_, POLLIN, 0};
  int timeout_ms = int(timeout_ns / 1'000'000);
  if (::poll(&p, 1, timeout_ms < 0 ? 0 : timeout_ms) <= 0) return std::nullopt;
  char buf[2048];
  sockaddr_in from{};
  socklen_t len = sizeof from;
  ssize_t n = ::recvfrom(fd_, buf, sizeof buf, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &len);
  if (n < 0) return std::nullopt;
  char addr[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &from.sin_addr, addr, sizeof addr);
  return Datagram{std::string(buf, size_t(n)), addr, ntohs(from.sin_port)};
}

}  // namespace fb::lab
