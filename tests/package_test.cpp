// The packages as a user gets them (cmake/FbPackaging.cmake): cpack builds
// faultbench and faultbench-agent from this build; each is unpacked into a
// throwaway root (dpkg-deb -x) and run from there: --version, an example plan
// validated, and a plan run whose load is an agent session of the installed
// faultbench-agent over ssh. Then `faultbench deploy` puts the agent package
// on an agent host (the test's sshd, unpacked under a prefix: nothing of this
// machine's own packages is touched) and checks it, twice. And `cmake
// --install --prefix` writes the unit for the prefix it installs to.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/jsonl_writer.h"
#include "core/version.h"
#include "tests/support/skip.h"
#include "tests/support/sshd_fixture.h"
#include "tests/support/test_util.h"

namespace fb {
namespace {

std::string Run(const std::vector<std::string>& argv, int64_t timeout_ns = 60 * kNsPerSec) {
  auto r = RunCommand(argv, {.timeout_ns = timeout_ns});
  REQUIRE_MESSAGE(r.ok(), r.status().message());
  INFO(argv[0] << ": " << r->err);
  REQUIRE_MESSAGE(r->success(), argv[0] << " " << (argv.size() > 1 ? argv[1] : "") << ": exit " << r->exit_code
                                        << ": " << r->out << r->err);
  return r->out;
}

std::string Deb(const std::string& dir, const std::string& package) {
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (name.rfind(package + "_" + kVersion + "_", 0) == 0 && name.size() > 4 &&
        name.compare(name.size() - 4, 4, ".deb") == 0)
      return e.path().string();
  }
  return "";
}

std::string AgentPlan(const SshdFixture& sshd, const std::string& dir, const std::string& agent_binary) {
  return "name: packaged\n"
         "description: one agent of the installed package, over ssh\n"
         "workload: {bs: 4k, rw: randrw, queue_depth: 2, duration: 2s, interval: 250ms, direct: false, "
         "rate_iops: 400}\n"
         "agent_defaults: {user: root, command: " +
         agent_binary + " --stdio, clock_every: 1s}\n" +
         "agents:\n  - {name: vm, host: 127.0.0.1, ssh_port: " + std::to_string(sshd.port()) +
         ", identity_file: " + sshd.identity_file() + ", known_hosts: " + sshd.known_hosts() + ", state_dir: " + dir +
         "/agent-state, target: {path: " + dir + "/agent-file, create_size: 8MiB}}\n"
         "steps:\n  - {at: 0s, phase: load}\n";
}

}  // namespace

TEST_CASE("packages: cpack builds faultbench and faultbench-agent with their Depends, both run from an unpacked "
          "root, deploy installs and checks the agent" *
          doctest::test_suite("integration")) {
  for (const char* tool : {"cpack", "dpkg-deb", "dpkg-shlibdeps"}) {
    if (!HaveCommand(tool)) {
      Skip(std::string("needs ") + tool + " (scripts/setup installs dpkg-dev)");
      return;
    }
  }
  if (!SshdFixture::Available()) {
    Skip("needs root and /usr/sbin/sshd");
    return;
  }
  TempDir tmp;
  const std::string dist = tmp.path() + "/dist", root = tmp.path() + "/root";
  Run({"cpack", "--config", std::string(FB_BUILD_DIR) + "/CPackConfig.cmake", "-B", dist}, 300 * kNsPerSec);
  const std::string controller = Deb(dist, "faultbench"), agent = Deb(dist, "faultbench-agent");
  REQUIRE_MESSAGE(!controller.empty(), "no faultbench_" << kVersion << "_*.deb in " << dist);
  REQUIRE_MESSAGE(!agent.empty(), "no faultbench-agent_" << kVersion << "_*.deb in " << dist);

  // Depends from the binaries: the agent needs its I/O libraries and not the controller's.
  std::string cdeps = Run({"dpkg-deb", "-f", controller, "Depends"});
  std::string adeps = Run({"dpkg-deb", "-f", agent, "Depends"});
  MESSAGE("faultbench Depends: " << cdeps << "faultbench-agent Depends: " << adeps);
  for (const char* lib : {"libaio1", "libiscsi7", "libc6", "libyaml-cpp", "libprometheus-cpp", "openssh-client"})
    CHECK_MESSAGE(cdeps.find(lib) != std::string::npos, lib);
  CHECK(cdeps.find(std::string("faultbench-agent (= ") + kVersion + ")") != std::string::npos);
  for (const char* lib : {"libaio1", "libiscsi7", "libc6"}) CHECK_MESSAGE(adeps.find(lib) != std::string::npos, lib);
  for (const char* lib : {"libyaml-cpp", "libprometheus-cpp", "libcurl", "libcpp-httplib"})
    CHECK_MESSAGE(adeps.find(lib) == std::string::npos, lib);
  CHECK(Run({"dpkg-deb", "-f", agent, "Version"}) == std::string(kVersion) + "\n");
  std::string files = Run({"dpkg-deb", "-c", controller}) + Run({"dpkg-deb", "-c", agent});
  for (const char* f :
       {"./usr/bin/faultbench", "./usr/libexec/faultbench/fb-array-sim", "./usr/libexec/faultbench/fb-ha-sim",
        "./usr/share/faultbench/plans/lab-live-migration.yaml", "./usr/share/faultbench/dashboards/faultbench.json",
        "./usr/share/faultbench/dashboards/faultbench.rules.yml", "./usr/share/bash-completion/completions/faultbench",
        "./usr/bin/faultbench-agent", "./usr/lib/systemd/system/faultbench-agent.service"})
    CHECK_MESSAGE(files.find(std::string(f) + "\n") != std::string::npos, f);
  Run({"sh", "-c", "dpkg-deb -I " + agent + " postinst | grep -q 'install -d -m 0700 /var/lib/faultbench/agent'"});

  // Unpacked, both run from their own root.
  Run({"dpkg-deb", "-x", controller, root});
  Run({"dpkg-deb", "-x", agent, root});
  CHECK(Run({root + "/usr/bin/faultbench", "--version"}) == std::string("faultbench ") + kVersion + "\n");
  CHECK(Run({root + "/usr/bin/faultbench-agent", "--version"}) == std::string("faultbench-agent ") + kVersion + "\n");
  auto unit = ReadFile(root + "/usr/lib/systemd/system/faultbench-agent.service");
  REQUIRE(unit.ok());
  CHECK(unit->find("ExecStart=/usr/bin/faultbench-agent --boot\n") != std::string::npos);
  Run({"env", "FB_XAPI_PASSWORD=x", root + "/usr/bin/faultbench", "validate",
       root + "/usr/share/faultbench/plans/lab-live-migration.yaml"});

  // A run of the installed controller on an agent session of the installed agent.
  SshdFixture sshd;
  const std::string plan = tmp.path() + "/packaged.yaml";
  REQUIRE(WriteFileAtomic(plan, AgentPlan(sshd, tmp.path(), root + "/usr/bin/faultbench-agent")).ok());
  std::string out = Run({root + "/usr/bin/faultbench", "run", plan, "--out", tmp.path() + "/runs", "--quiet"},
                        120 * kNsPerSec);
  CHECK(out.find("Verdict: PASS") != std::string::npos);

  // deploy: nothing there yet (check fails naming the agent), then installed, then harmless.
  const std::string prefix = tmp.path() + "/vm-root";
  const std::string deploy_plan = tmp.path() + "/deploy.yaml";
  REQUIRE(WriteFileAtomic(deploy_plan, AgentPlan(sshd, tmp.path(), prefix + "/usr/bin/faultbench-agent")).ok());
  auto check = RunCommand({root + "/usr/bin/faultbench", "deploy", deploy_plan, "--check"}, {.timeout_ns = 60 * kNsPerSec});
  REQUIRE(check.ok());
  MESSAGE(check->out << check->err);
  CHECK(check->exit_code == 1);
  CHECK(check->err.find("deploy: failed on vm") != std::string::npos);
  CHECK(check->out.find("none") != std::string::npos);
  std::string first = Run({root + "/usr/bin/faultbench", "deploy", deploy_plan, "--package", agent, "--prefix", prefix},
                          120 * kNsPerSec);
  MESSAGE(first);
  CHECK(first.find(std::string("none -> ") + kVersion) != std::string::npos);
  CHECK(first.find("ok (installed)") != std::string::npos);
  CHECK(access((prefix + "/usr/bin/faultbench-agent").c_str(), X_OK) == 0);
  std::string again = Run({root + "/usr/bin/faultbench", "deploy", deploy_plan, "--package", agent, "--prefix", prefix},
                          120 * kNsPerSec);
  CHECK(again.find(std::string("ok (already ") + kVersion + ")") != std::string::npos);
  auto bad = RunCommand({root + "/usr/bin/faultbench", "deploy", deploy_plan, "--package", tmp.path() + "/nothing.deb"},
                        {.timeout_ns = 30 * kNsPerSec});
  REQUIRE(bad.ok());
  CHECK(bad->exit_code == 2);
  CHECK(bad->err.find("nothing.deb") != std::string::npos);

  // The self-contained agent tarball: of this build's libraries only glibc's stay shared.
  Run({"cmake", "--build", FB_BUILD_DIR, "--target", "agent-tarball"}, 300 * kNsPerSec);
  std::string tarball;
  for (const auto& e : std::filesystem::directory_iterator(FB_BUILD_DIR)) {
    std::string name = e.path().filename().string();
    if (name.rfind(std::string("faultbench-agent-") + kVersion + "-", 0) == 0 && name.find(".tar.gz") != std::string::npos)
      tarball = e.path().string();
  }
  REQUIRE_MESSAGE(!tarball.empty(), "no agent tarball in " << FB_BUILD_DIR);
  const std::string troot = tmp.path() + "/tarball-root";
  Run({"mkdir", "-p", troot});
  Run({"tar", "-xzf", tarball, "-C", troot});
  std::string needed = Run({"sh", "-c", "readelf -d " + troot + "/usr/bin/faultbench-agent | grep NEEDED"});
  MESSAGE("the tarball's agent needs:\n" << needed);
  for (const char* lib : {"libaio", "libiscsi", "libblkid", "libgcrypt", "libstdc++", "libgcc_s"})
    CHECK_MESSAGE(needed.find(lib) == std::string::npos, lib);
  CHECK(needed.find("libc.so.6") != std::string::npos);
  CHECK(needed.find("librdmacm.so.1") != std::string::npos);  // libiscsi's iSER: shared only (agent/README.md)
  CHECK(Run({troot + "/usr/bin/faultbench-agent", "--version"}) == std::string("faultbench-agent ") + kVersion + "\n");
  const std::string prefix2 = tmp.path() + "/other-vm-root";
  REQUIRE(WriteFileAtomic(deploy_plan, AgentPlan(sshd, tmp.path(), prefix2 + "/usr/bin/faultbench-agent")).ok());
  std::string from_tarball =
      Run({root + "/usr/bin/faultbench", "deploy", deploy_plan, "--package", tarball, "--prefix", prefix2},
          120 * kNsPerSec);
  MESSAGE(from_tarball);
  CHECK(from_tarball.find("ok (installed)") != std::string::npos);

  // cmake --install: the unit names the binary where the prefix puts it.
  const std::string inst = tmp.path() + "/inst";
  Run({"cmake", "--install", FB_BUILD_DIR, "--prefix", inst, "--component", "agent"});
  auto installed_unit = ReadFile(inst + "/lib/systemd/system/faultbench-agent.service");
  REQUIRE(installed_unit.ok());
  CHECK(installed_unit->find("ExecStart=" + inst + "/bin/faultbench-agent --boot\n") != std::string::npos);
}

}  // namespace fb
