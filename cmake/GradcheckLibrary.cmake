# gradcheck_add_library(NAME [DIR dir] [PUBLIC_LIBS ...] [PRIVATE_LIBS ...] [TEST_LIBS ...])
# One library per folder (docs/architecture.md): a static library gradcheck_NAME,
# exported as gradcheck::NAME, from DIR/src/*.cpp with its public headers in
# DIR/include; with tests on, its GoogleTest suite NAME_tests from DIR/tests/*.cpp,
# linked with the library and TEST_LIBS. DIR defaults to the current folder's NAME/.
function(gradcheck_add_library name)
  cmake_parse_arguments(ARG "" "DIR" "PUBLIC_LIBS;PRIVATE_LIBS;TEST_LIBS" ${ARGN})
  if(NOT ARG_DIR)
    set(ARG_DIR ${CMAKE_CURRENT_SOURCE_DIR}/${name})
  endif()
  file(GLOB sources CONFIGURE_DEPENDS ${ARG_DIR}/src/*.cpp)
  add_library(gradcheck_${name} STATIC ${sources})
  add_library(gradcheck::${name} ALIAS gradcheck_${name})
  set_target_properties(gradcheck_${name} PROPERTIES EXPORT_NAME ${name} OUTPUT_NAME gradcheck_${name})
  target_include_directories(gradcheck_${name} PUBLIC
    $<BUILD_INTERFACE:${ARG_DIR}/include>
    $<INSTALL_INTERFACE:include>)
  target_link_libraries(gradcheck_${name} PUBLIC ${ARG_PUBLIC_LIBS}
                        PRIVATE ${ARG_PRIVATE_LIBS} $<BUILD_INTERFACE:gradcheck_warnings>)
  target_compile_features(gradcheck_${name} PUBLIC cxx_std_17)
  if(GRADCHECK_BUILD_TESTS)
    file(GLOB tests CONFIGURE_DEPENDS ${ARG_DIR}/tests/*.cpp)
    gradcheck_add_test_suite(${name}_tests SOURCES ${tests} LIBS gradcheck::${name} ${ARG_TEST_LIBS})
  endif()
endfunction()
