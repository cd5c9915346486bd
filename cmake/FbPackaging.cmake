# Installation (`cmake --install build [--prefix P]`) and the Debian packages
# (`cpack --config build/CPackConfig.cmake`, or scripts/package): two
# components, each its own .deb:
#   controller -> faultbench        the controller, the lab and its helpers, reports,
#                                   example plans, dashboards, rules, completion, docs
#   agent      -> faultbench-agent  the agent alone for the test VMs: its binary,
#                                   its systemd unit, its state directory
# Depends: are computed from the binaries' shared libraries (dpkg-shlibdeps).
include(GNUInstallDirs)

# Where faultbench looks for fb-array-sim and fb-ha-sim when they are not beside
# it (lab/lab.cpp): relative to the directory of the faultbench binary.
set(FB_HELPER_DIR ${CMAKE_INSTALL_LIBEXECDIR}/faultbench)
file(RELATIVE_PATH FB_HELPER_DIR_FROM_BIN /${CMAKE_INSTALL_BINDIR} /${FB_HELPER_DIR})
target_compile_definitions(fb_lab PRIVATE FB_HELPER_DIR_FROM_BIN="${FB_HELPER_DIR_FROM_BIN}")

install(TARGETS faultbench RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT controller)
install(TARGETS fb-array-sim fb-ha-sim RUNTIME DESTINATION ${FB_HELPER_DIR} COMPONENT controller)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/plans/examples/ DESTINATION ${CMAKE_INSTALL_DATADIR}/faultbench/plans
        COMPONENT controller FILES_MATCHING PATTERN "*.yaml")
install(FILES ${PROJECT_SOURCE_DIR}/dashboards/faultbench.json ${PROJECT_SOURCE_DIR}/dashboards/faultbench.rules.yml
              ${PROJECT_SOURCE_DIR}/dashboards/README.md
        DESTINATION ${CMAKE_INSTALL_DATADIR}/faultbench/dashboards COMPONENT controller)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/faultbench.bash-completion
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME faultbench COMPONENT controller)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/METRICS.md ${PROJECT_SOURCE_DIR}/docs/design.md
              ${PROJECT_SOURCE_DIR}/docs/platform.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT controller)

install(TARGETS faultbench-agent RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT agent)
install(FILES ${PROJECT_SOURCE_DIR}/agent/README.md DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/faultbench-agent
        COMPONENT agent)
# The unit names the binary where this install puts it (the prefix is known
# only then: cmake --install --prefix, or the packages' /usr).
install(CODE "set(FB_AGENT_UNIT_TEMPLATE \"${PROJECT_SOURCE_DIR}/agent/faultbench-agent.service.in\")"
        COMPONENT agent)
install(CODE [[
  file(READ "${FB_AGENT_UNIT_TEMPLATE}" unit)
  string(REPLACE "@FB_AGENT_EXEC@" "${CMAKE_INSTALL_PREFIX}/bin/faultbench-agent" unit "${unit}")
  file(WRITE "$ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}/lib/systemd/system/faultbench-agent.service" "${unit}")
  message(STATUS "Installing: $ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}/lib/systemd/system/faultbench-agent.service")
]] COMPONENT agent)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME faultbench)
set(CPACK_PACKAGE_VENDOR faultbench)
set(CPACK_PACKAGE_CONTACT "faultbench developers <faultbench@example.invalid>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "storage resilience test harness")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL controller agent)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_CONTROLLER_PACKAGE_NAME faultbench)
set(CPACK_DEBIAN_AGENT_PACKAGE_NAME faultbench-agent)
set(CPACK_COMPONENT_CONTROLLER_DESCRIPTION
    "storage resilience test harness: the controller\n An async-I/O load with faults injected under a guard, probes of multipath, iSCSI,\n XAPI and the arrays, a correlator and a report; the local metro lab and its pool.")
set(CPACK_COMPONENT_AGENT_DESCRIPTION
    "storage resilience test harness: the load agent for test VMs\n Runs the load a faultbench controller drives over ssh or TCP, and resumes it\n after the VM restarts (systemd unit faultbench-agent.service).")
# What the controller runs besides its libraries: the agent of the same
# version (the default agent command), the lab's tools, ssh for agents and probes.
set(CPACK_DEBIAN_CONTROLLER_PACKAGE_DEPENDS "faultbench-agent (= ${PROJECT_VERSION}), openssh-client")
set(CPACK_DEBIAN_CONTROLLER_PACKAGE_RECOMMENDS "tgt, nftables, iproute2, ipmitool, openipmi, openssh-server, prometheus, chromium")
set(CPACK_DEBIAN_AGENT_PACKAGE_RECOMMENDS "openssh-server")  # how a controller reaches it
set(CPACK_DEBIAN_AGENT_PACKAGE_CONTROL_EXTRA
    "${PROJECT_SOURCE_DIR}/packaging/agent/postinst;${PROJECT_SOURCE_DIR}/packaging/agent/prerm")
set(CPACK_DEBIAN_AGENT_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
