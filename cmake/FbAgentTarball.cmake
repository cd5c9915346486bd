# Packs the self-contained agent (cli/CMakeLists.txt: faultbench-agent-static)
# as a tarball to unpack at / on any x86-64 Linux with glibc: usr/bin/faultbench-agent,
# usr/lib/systemd/system/faultbench-agent.service, usr/share/doc/faultbench-agent/README.md.
# cmake -D BINARY=... -D OUT=... -D UNIT=... -D README=... -D STAGE=... -P FbAgentTarball.cmake
file(REMOVE_RECURSE ${STAGE})
file(MAKE_DIRECTORY ${STAGE}/usr/bin ${STAGE}/usr/lib/systemd/system ${STAGE}/usr/share/doc/faultbench-agent)
file(COPY_FILE ${BINARY} ${STAGE}/usr/bin/faultbench-agent)
file(CHMOD ${STAGE}/usr/bin/faultbench-agent PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ
     GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
file(READ ${UNIT} unit)
string(REPLACE "@FB_AGENT_EXEC@" "/usr/bin/faultbench-agent" unit "${unit}")
file(WRITE ${STAGE}/usr/lib/systemd/system/faultbench-agent.service "${unit}")
file(COPY_FILE ${README} ${STAGE}/usr/share/doc/faultbench-agent/README.md)
execute_process(COMMAND ${CMAKE_COMMAND} -E tar czf ${OUT} usr WORKING_DIRECTORY ${STAGE} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cannot write ${OUT}")
endif()
