// The pool hosts' BMCs: each host has one, on the management network
// (fb-pool-net, 198.18.10.(100+i)), out of band as a real BMC is: cutting the
// host's management NIC does not cut its BMC.
//
//   IPMI     Debian's OpenIPMI `ipmi_sim`, a real IPMI v2.0 (lanplus) BMC on
//            udp/623 of its address, user "admin", the lab's BMC password
//            (<state>/pool/bmc_password). Its chassis control runs
//            `faultbench lab bmc-power host-i`: power on starts it (it powers the
//            lab host on when it is off, lab/pool.h PowerOnHost), power off sends
//            it SIGTERM (it powers the host off, PowerOffHost), and the power is
//            on exactly while it runs. A host powered off by other means
//            (`faultbench lab host power-off`) ends it, so the BMC says off.
//            `chassis power on|off|cycle|status`; ipmitool needs `-C 3` (else
//            it spends 10 s looking for cipher suites).
//   Redfish  `faultbench lab bmc-redfish` on tcp/80 of the same addresses
//            (DSP0266 shapes, plain HTTP): sessions, /redfish/v1/Systems/1 with
//            PowerState and ComputerSystem.Reset, each done through that BMC's
//            own IPMI (one machine behind two protocols, as on a real BMC).
//
// Every BMC process runs in fb-pool-net; `lab down` kills them with the
// namespace's other processes. Files: <state>/pool/bmc-<i>/{lan.conf,sim.emu,
// state/,ipmi_sim.pid,ipmi_sim.log}, <state>/pool/bmc-redfish.{pid,log}.
#pragma once

#include <string>

#include "core/status.h"
#include "lab/pool.h"

namespace fb::lab {

inline constexpr const char* kIpmiSimExecutable = "ipmi_sim";
inline constexpr const char* kBmcUser = "admin";
inline constexpr int kBmcRedfishPort = 80;

std::string PoolBmcAddr(int host);  // "198.18.10.101"
std::string PoolBmcPasswordFile(const std::string& state_dir);

// Whether ipmi_sim and ipmitool are installed (BMCs are skipped without them,
// and `lab up` says so).
bool HaveBmcTools();

// Starts every host's ipmi_sim and the Redfish front, writes the password
// file, and returns once each BMC answers `chassis power status` (bounded).
Status StartBmcs(const PoolConfig& pool);

// `faultbench lab bmc-power host-i` (ipmi_sim's startcmd): the host's power.
// Returns the process' exit code.
int RunBmcPower(const std::string& state_dir, int host);
// `faultbench lab bmc-redfish`: serves every BMC's Redfish until SIGTERM.
int RunBmcRedfish(const std::string& state_dir);

// `chassis power <what>` on host i's BMC through ipmitool, as the lab's own
// Redfish front and the tests do; the output on success.
Result<std::string> BmcIpmi(const std::string& state_dir, int host, const std::string& what);

}  // namespace fb::lab
