# gradcheck_add_test_suite(<name> SOURCES ... LIBS ...)
# One GoogleTest binary per folder; each TEST becomes its own ctest entry.
# Under ctest the RapidCheck properties draw from GRADCHECK_RC_PARAMS (a fixed
# seed by default, so that a commit's CI verdict does not depend on the draw;
# empty: RapidCheck's own random seed). docs/ci.md#property-tests-and-their-seeds
set(GRADCHECK_RC_PARAMS "seed=1" CACHE STRING "RC_PARAMS for the property tests under ctest (empty: random seeds)")
function(gradcheck_add_test_suite name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main rapidcheck gradcheck_warnings)
  target_compile_definitions(${name} PRIVATE GRADCHECK_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  set(properties LABELS ${name})
  if(GRADCHECK_RC_PARAMS)
    list(APPEND properties ENVIRONMENT "RC_PARAMS=${GRADCHECK_RC_PARAMS}")
  endif()
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES ${properties})
endfunction()
