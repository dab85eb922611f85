# gradcheck_add_test_suite(<name> SOURCES ... LIBS ...)
# One GoogleTest binary per folder; each TEST becomes its own ctest entry.
function(gradcheck_add_test_suite name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main rapidcheck gradcheck_warnings)
  target_compile_definitions(${name} PRIVATE GRADCHECK_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES LABELS ${name})
endfunction()
