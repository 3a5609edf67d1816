# Small helpers so every folder declares its library and tests in a few lines.

# nsm_library(NAME <target> SRCS ... HDRS ... DEPS ...)
# An installable static library exported as nsm::<target>. Headers keep their folder
# (relative to the source root) under <prefix>/include/nsm.
function(nsm_library)
  cmake_parse_arguments(A "" "NAME" "SRCS;HDRS;DEPS" ${ARGN})
  add_library(${A_NAME} ${A_SRCS} ${A_HDRS})
  add_library(nsm::${A_NAME} ALIAS ${A_NAME})
  target_compile_options(${A_NAME} PRIVATE ${NSM_WARNINGS})
  target_include_directories(${A_NAME} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}>
    $<INSTALL_INTERFACE:${NSM_INSTALL_INCLUDEDIR}>)
  target_link_libraries(${A_NAME} PUBLIC ${A_DEPS})
  set_target_properties(${A_NAME} PROPERTIES OUTPUT_NAME nsm_${A_NAME})
  set_property(GLOBAL APPEND PROPERTY NSM_LIBRARIES nsm_${A_NAME})
  install(TARGETS ${A_NAME} EXPORT nsmTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
  file(RELATIVE_PATH rel ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR})
  install(FILES ${A_HDRS} DESTINATION ${NSM_INSTALL_INCLUDEDIR}/${rel})
endfunction()

# nsm_test(NAME <target> SRCS ... DEPS ...)
# A GoogleTest binary; each TEST becomes one ctest entry (discovered when ctest runs).
function(nsm_test)
  if(NOT NSM_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(A "" "NAME;TIMEOUT" "SRCS;DEPS" ${ARGN})
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 120)
  endif()
  add_executable(${A_NAME} ${A_SRCS})
  target_compile_options(${A_NAME} PRIVATE ${NSM_WARNINGS})
  target_link_libraries(${A_NAME} PRIVATE ${A_DEPS} GTest::gmock GTest::gtest_main)
  gtest_discover_tests(${A_NAME} DISCOVERY_MODE PRE_TEST PROPERTIES TIMEOUT ${A_TIMEOUT})
endfunction()

# Adds every immediate subfolder that has a CMakeLists.txt, so a new element folder needs no edit
# of its parent.
function(nsm_add_subfolders)
  file(GLOB children LIST_DIRECTORIES true RELATIVE ${CMAKE_CURRENT_SOURCE_DIR}
       ${CMAKE_CURRENT_SOURCE_DIR}/*)
  list(SORT children)
  foreach(child ${children})
    if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${child}/CMakeLists.txt)
      add_subdirectory(${child})
    endif()
  endforeach()
endfunction()
