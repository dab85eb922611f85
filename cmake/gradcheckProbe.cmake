# gradcheck_add_probe_test(NAME <name> COMMAND <cmd> [args...] [CASES <n>] [SEED <s>] [OPTIONS <probe options>...])
#
# Registers a ctest test that runs `gradcheck probe` against your implementation:
# gradcheck starts COMMAND once, sends it random cases as JSON lines and checks
# every gradient it replies (docs/probe.md). The test fails when a gradient
# diverges or the implementation misbehaves; the report goes to
# <build dir>/gradcheck-<name>/.
function(gradcheck_add_probe_test)
  cmake_parse_arguments(ARG "" "NAME;CASES;SEED" "COMMAND;OPTIONS" ${ARGN})
  if(NOT ARG_NAME OR NOT ARG_COMMAND)
    message(FATAL_ERROR "gradcheck_add_probe_test: NAME and COMMAND are required")
  endif()
  set(args probe --report ${CMAKE_CURRENT_BINARY_DIR}/gradcheck-${ARG_NAME})
  if(ARG_CASES)
    list(APPEND args --cases ${ARG_CASES})
  endif()
  if(ARG_SEED)
    list(APPEND args --seed ${ARG_SEED})
  endif()
  list(APPEND args ${ARG_OPTIONS} -- ${ARG_COMMAND})
  if(TARGET gradcheck::gradcheck)
    set(exe $<TARGET_FILE:gradcheck::gradcheck>)
  else()
    set(exe $<TARGET_FILE:gradcheck>)
  endif()
  add_test(NAME ${ARG_NAME} COMMAND ${exe} ${args})
endfunction()
