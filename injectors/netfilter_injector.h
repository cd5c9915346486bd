// `netfilter`: drops traffic with nftables, on this host, in a network namespace
// (netns) or over ssh (host, ...: see command_target.h), what it sends and
// receives and what it forwards (a hypervisor routing its VMs). Settings:
//   address    peer IPv4/IPv6 address or prefix (optional)
//   port       TCP/UDP port, either direction (optional); protocol tcp|udp (tcp)
//   interface  interface name (optional)
//   direction  in | out | both (both)
//   expire     last-resort expiry of the drop (default: lease + 30s; 0s = none)
// At least one of address, port, interface. Each fault is its own table,
// `inet faultbench_<run>_<injector>` (sanitized), so Revert() deletes exactly
// what this run added and check = the table exists. When the match can be a
// set element (a single address, or a port), the element carries a kernel
// timeout: if everything else failed, the drop ends by itself.
#pragma once

#include "injectors/injector.h"

namespace fb {

std::unique_ptr<Injector> NewNetfilterInjector(const std::string& name, Settings* settings);

}  // namespace fb
