# Build-time test discovery for the doctest binary (run as the test binary's
# POST_BUILD step, see tests/CMakeLists.txt). Every doctest case belongs to
# exactly one label, its doctest TEST_SUITE:
#   unit         no root, no network, under a second: run in parallel
#   integration  root, namespaces, tgtd, sshd, Prometheus, Chromium
#   slow         an integration test of 20 s or more (over 30 s on a busy machine)
# Writes CTEST_FILE: one ctest test per case, with its label, and the skip
# marker that tests/support/skip.h prints (a skip counts as skipped, never as
# passed). A case in no label or in two fails the build and is named.
#
# Inputs: TEST_EXECUTABLE, CTEST_FILE, WORKING_DIR.
cmake_minimum_required(VERSION 3.20)  # IN_LIST, in script mode too
set(labels unit integration slow)

function(fb_list_cases out)
  execute_process(COMMAND "${TEST_EXECUTABLE}" --list-test-cases --no-version ${ARGN}
    OUTPUT_VARIABLE text RESULT_VARIABLE rc WORKING_DIRECTORY "${WORKING_DIR}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${TEST_EXECUTABLE} --list-test-cases failed (${rc}):\n${text}")
  endif()
  # A ';' in a name is refused at configure time (tests/CMakeLists.txt), so the
  # lines can become a CMake list.
  string(REPLACE "\n" ";" lines "${text}")
  set(cases "")
  foreach(line IN LISTS lines)
    if(line STREQUAL "" OR line MATCHES "^\\[doctest\\]" OR line MATCHES "^=+$")
      continue()
    endif()
    list(APPEND cases "${line}")
  endforeach()
  set(${out} "${cases}" PARENT_SCOPE)
endfunction()

fb_list_cases(all_cases)
set(script "")
set(labelled "")
foreach(label IN LISTS labels)
  fb_list_cases(cases "--test-suite=${label}")
  foreach(name IN LISTS cases)
    if(name IN_LIST labelled)
      message(FATAL_ERROR "test case \"${name}\" is in two labels (one of: ${labels})")
    endif()
    list(APPEND labelled "${name}")
    # doctest reads ',' in --test-case as a filter separator: escape it; a
    # bracket argument keeps every other character as written.
    string(REPLACE "," "\\," filter "${name}")
    string(APPEND script
      "add_test([==[${name}]==] \"${TEST_EXECUTABLE}\" [==[--test-case=${filter}]==])\n"
      "set_tests_properties([==[${name}]==] PROPERTIES LABELS ${label} WORKING_DIRECTORY \"${WORKING_DIR}\""
      " SKIP_REGULAR_EXPRESSION \"FB_SKIPPED: \")\n")
  endforeach()
endforeach()

set(missing "")
foreach(name IN LISTS all_cases)
  if(NOT name IN_LIST labelled)
    string(APPEND missing "\n  ${name}")
  endif()
endforeach()
if(missing)
  message(FATAL_ERROR "test cases without a label (put them in TEST_SUITE(\"unit\"), \"integration\" or \"slow\"):${missing}")
endif()
file(WRITE "${CTEST_FILE}" "${script}")
