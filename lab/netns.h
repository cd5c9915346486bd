// Network namespaces, veth links and the lab's nftables tables, through the
// `ip` and `nft` commands. Every error names the command, namespace and link.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace fb::lab {

// Runs `ip ARGS` in the root namespace, or `ip -n NS ARGS` when ns is not empty.
Status Ip(const std::string& ns, const std::vector<std::string>& args);
// Feeds an nft script (`nft -f -`) in the namespace ns ("" = root namespace).
Status Nft(const std::string& ns, const std::string& script);

std::vector<std::string> ListNamespaces();
bool NamespaceExists(const std::string& ns);
Status AddNamespace(const std::string& ns);  // also brings lo up, disables IPv6
Status DeleteNamespace(const std::string& ns);

// Creates a veth pair: end a_name in namespace a_ns, end b_name in b_ns ("" =
// root). Both ends get no IPv6 link-local address; neither is brought up.
Status AddVethPair(const std::string& a_ns, const std::string& a_name, const std::string& b_ns,
                   const std::string& b_name);
// Adds addr/prefix_len to the link and brings it up.
Status ConfigureLink(const std::string& ns, const std::string& link, const std::string& addr, int prefix_len);

// Root-namespace links whose name starts with prefix.
std::vector<std::string> ListLinks(const std::string& ns, const std::string& prefix);
bool LinkExists(const std::string& ns, const std::string& link);
// "up", "down", "lowerlayerdown" ... (operstate, lower case), or "absent".
std::string LinkOperState(const std::string& ns, const std::string& link);
// Administrative state (IFF_UP) of the link.
Result<bool> LinkAdminUp(const std::string& ns, const std::string& link);
Status SetLinkUp(const std::string& ns, const std::string& link, bool up);

// The lab's cut table: `table inet fblab` with empty chains input and output
// (filter hooks, policy accept) that cut rules are added to.
Status CreateCutTable(const std::string& ns);
bool HasTable(const std::string& ns, const std::string& family, const std::string& table);
// The rules in the cut table, one per line as `nft list table` prints them.
std::vector<std::string> CutRules(const std::string& ns);

// Commands a person runs to cut and restore links by hand.
std::string CutPathCommand(const std::string& ns, const std::string& link);
std::string RestoreCutsCommand(const std::string& ns);

}  // namespace fb::lab
