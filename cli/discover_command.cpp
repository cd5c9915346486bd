// faultbench discover: reads a pool (XAPI) and its arrays (REST 2.x), read-only,
// prints them as tables and writes the inventory (qualify/inventory.h). Exit 0
// when everything was read, 3 when a part could not be (the inventory is still
// written, marked incomplete), 2 for bad flags or a missing secret.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>

#include "cli/commands.h"
#include "core/clock.h"
#include "core/units.h"
#include "qualify/inventory.h"

namespace fb::cli {

namespace {

using nlohmann::json;

struct DiscoverFlags {
  std::vector<std::string> xapi, arrays;
  std::string user = "root", password_env = "FB_XAPI_PASSWORD", token_env = "FB_ARRAY_API_TOKEN";
  std::string ca_file, timeout = "5s", out = "inventory.yaml";
  std::string ssh_user = "root", identity_file, known_hosts;  // dom0 over ssh: multipath
  bool no_tls_verify = false;
};

int Discover(const DiscoverFlags& f) {
  auto timeout = ParseDuration(f.timeout);
  if (!timeout.ok() || *timeout < 10 * kNsPerMs) {
    PrintError("--timeout: " +
               (timeout.ok() ? std::string("must be at least 10ms") : timeout.status().message()));
    return kExitUsage;
  }
  const char* password = std::getenv(f.password_env.c_str());
  if (!f.xapi.empty() && (!password || !*password)) {
    PrintError("no XAPI password: $" + f.password_env +
               " is not set (--password-env names another variable)");
    return kExitUsage;
  }
  const char* token = std::getenv(f.token_env.c_str());
  if (!f.arrays.empty() && (!token || !*token)) {
    PrintError("no array API token: $" + f.token_env +
               " is not set (--array-token-env names another variable)");
    return kExitUsage;
  }
  Settings url_check(nlohmann::json::object());
  for (const auto& u : f.xapi) CheckedBaseUrl(&url_check, "--xapi " + u, u);
  for (const auto& u : f.arrays) CheckedBaseUrl(&url_check, "--array " + u, u);
  if (!url_check.problems().empty()) {
    for (const auto& p : url_check.problems()) PrintError(p.key + ": " + p.message);
    return kExitUsage;
  }

  std::vector<std::string> problems;
  nlohmann::json inv = {{"complete", true}, {"problems", nlohmann::json::array()}};
  if (!f.xapi.empty()) {
    XapiEndpoint e;
    for (const auto& u : f.xapi) e.urls.push_back(CheckedBaseUrl(&url_check, "", u));
    e.user = f.user;
    e.password = password;
    e.ca_file = f.ca_file;
    e.tls_verify = !f.no_tls_verify;
    e.timeout_ns = *timeout;
    XapiClient xapi(e, "discover");
    fprintf(stderr, "discover: reading the pool through %s ...\n", e.urls[0].c_str());
    Status st = xapi.Connect();
    if (!st.ok()) {
      problems.push_back(st.message());
      inv["xapi"] = nullptr;
    } else {
      if (xapi.url() != e.urls[0]) fprintf(stderr, "discover: %s is the pool master\n", xapi.url().c_str());
      inv["xapi"] = ReadXapiInventory(xapi, &problems);
      xapi.Logout();
    }
    // Each host's dom0 over ssh, when given a key: what dm-multipath sees.
    if (inv["xapi"].is_object() && !f.identity_file.empty()) {
      for (json& h : inv["xapi"]["hosts"]) {
        std::string addr = h.value("address", "");
        if (addr.empty()) continue;
        Settings s(json{{"host", addr},
                        {"user", f.ssh_user},
                        {"identity_file", f.identity_file},
                        {"known_hosts", f.known_hosts},
                        {"timeout", f.timeout}});
        CommandTarget dom0 = CommandTarget::FromSettings("discover", &s);
        fprintf(stderr, "discover: reading multipath on %s (%s) ...\n", h.value("name", "").c_str(),
                addr.c_str());
        dom0.Bind({"discover", 0});
        Status st = dom0.Prepare();
        auto mp = st.ok() ? ReadMultipath(dom0, inv["xapi"]["srs"]) : Result<json>(st);
        if (mp.ok()) {
          h["multipath"] = *mp;
        } else {
          h["multipath"] = nullptr;
          problems.push_back(h.value("name", "") + " (" + addr + "): " + mp.status().message());
        }
      }
    }
    if (inv["xapi"].is_object()) {  // how it was reached, for plan new (names, never the secret)
      inv["xapi"]["user"] = f.user;
      inv["xapi"]["password_env"] = f.password_env;
      inv["xapi"]["tls_verify"] = !f.no_tls_verify;
      inv["xapi"]["ca_file"] = f.ca_file;
    }
  }
  inv["arrays"] = nlohmann::json::array();
  for (const auto& u : f.arrays) {
    ArrayEndpoint e;
    e.url = CheckedBaseUrl(&url_check, "", u);
    e.token = token;
    e.ca_file = f.ca_file;
    e.tls_verify = !f.no_tls_verify;
    e.timeout_ns = *timeout;
    ArrayClient array(e, "discover");
    fprintf(stderr, "discover: reading the array at %s ...\n", e.url.c_str());
    inv["arrays"].push_back(ReadArrayInventory(array, &problems));
    inv["arrays"].back()["token_env"] = f.token_env;
    inv["arrays"].back()["tls_verify"] = !f.no_tls_verify;
    inv["arrays"].back()["ca_file"] = f.ca_file;
    array.Logout();
  }
  LinkVolumesToSrs(&inv);
  inv["complete"] = problems.empty();
  inv["problems"] = problems;

  std::string header =
      "faultbench inventory, read-only at " + FormatUtcIso(UtcNs(), 0) +
      (inv["complete"].get<bool>() ? "" : "\nINCOMPLETE: see problems") +
      "\nNo secret is in this file: the XAPI password and the array token stay in the environment.";
  std::string tmp = f.out + ".tmp";
  {
    std::ofstream out(tmp);
    out << InventoryYaml(inv, header);
    if (!out.flush()) {
      PrintError("cannot write " + tmp);
      return kExitRunFailed;
    }
  }
  if (std::rename(tmp.c_str(), f.out.c_str()) != 0) {
    PrintError("cannot write " + f.out);
    return kExitRunFailed;
  }
  printf("%s\ninventory written to %s%s\n", InventoryTables(inv).c_str(), f.out.c_str(),
         inv["complete"].get<bool>() ? "" : " (INCOMPLETE)");
  return problems.empty() ? kExitOk : kExitRunFailed;
}

}  // namespace

void RegisterDiscoverCommand(CLI::App& app, int* exit_code) {
  auto f = std::make_shared<DiscoverFlags>();
  CLI::App* cmd = app.add_subcommand(
      "discover",
      "Read a pool (XAPI) and its arrays (REST 2.x), read-only; print tables, write inventory.yaml");
  cmd->add_option(
      "--xapi", f->xapi,
      "Pool master URL (https://HOST); repeat for the other members, tried when it does not answer");
  cmd->add_option("--array", f->arrays, "Array management URL (https://HOST); repeatable");
  cmd->add_option("--user", f->user, "XAPI user")->capture_default_str();
  cmd->add_option("--password-env", f->password_env, "Variable holding the XAPI password")
      ->capture_default_str();
  cmd->add_option("--array-token-env", f->token_env, "Variable holding the arrays' API token")
      ->capture_default_str();
  cmd->add_option("--ca-file", f->ca_file, "CA bundle for https (default: the system's)");
  cmd->add_flag("--no-tls-verify", f->no_tls_verify, "Do not check https certificates (labs only)");
  cmd->add_option("--identity-file", f->identity_file,
                  "ssh key for each host's dom0: also read its multipath state (multipathd show paths)");
  cmd->add_option("--known-hosts", f->known_hosts,
                  "known_hosts file with the hosts' keys (unknown keys are refused)");
  cmd->add_option("--ssh-user", f->ssh_user, "dom0 user for ssh")->capture_default_str();
  cmd->add_option("--timeout", f->timeout, "Limit of each call")->capture_default_str();
  cmd->add_option("--out", f->out, "Inventory file (YAML)")->capture_default_str();
  cmd->callback([f, exit_code] {
    if (f->xapi.empty() && f->arrays.empty()) {
      PrintError("discover: give --xapi URL and/or --array URL");
      *exit_code = kExitUsage;
      return;
    }
    *exit_code = Discover(*f);
  });
}

}  // namespace fb::cli
