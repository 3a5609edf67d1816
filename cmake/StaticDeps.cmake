# NSM_STATIC_DEPS: link gRPC, protobuf, Abseil and what they use (OpenSSL, c-ares, re2, upb,
# zlib) from Debian's static archives (lib*.a, shipped in the same -dev packages) instead of
# their shared libraries. The idle RSS of every binary falls by 3.5-4 MB (the nsmgr's in the
# benchmark from 19.3 to 15.4 MB; issue #7: the pages it touched in shared libraries were most of
# it; docs/PERFORMANCE.md). The C and C++ runtimes and prometheus-cpp (no archive in Debian) stay
# shared.

# Points every imported library target of those packages at the archive next to its shared
# library. All or nothing: one copy of gRPC's or Abseil's globals per process.
function(nsm_use_static_archives)
  get_property(targets DIRECTORY ${PROJECT_SOURCE_DIR} PROPERTY IMPORTED_TARGETS)
  set(switched 0)
  foreach(t ${targets})
    if(NOT t MATCHES "^(gRPC|absl|protobuf|OpenSSL|ZLIB|c-ares|re2)::")
      continue()
    endif()
    get_target_property(type ${t} TYPE)
    if(type STREQUAL "INTERFACE_LIBRARY")
      # re2::re2 comes from pkg-config as INTERFACE_LINK_LIBRARIES "-lre2".
      get_target_property(links ${t} INTERFACE_LINK_LIBRARIES)
      if(NOT links)
        continue()
      endif()
      set(replaced)
      foreach(item ${links})
        if(item MATCHES "^-l(.+)$")
          # Compiler runtimes (-latomic) have no archive here and stay as they are.
          find_library(NSM_ARCHIVE_${CMAKE_MATCH_1} NAMES lib${CMAKE_MATCH_1}.a)
          if(NSM_ARCHIVE_${CMAKE_MATCH_1})
            set(item "${NSM_ARCHIVE_${CMAKE_MATCH_1}}")
            math(EXPR switched "${switched} + 1")
          endif()
        endif()
        list(APPEND replaced "${item}")
      endforeach()
      set_target_properties(${t} PROPERTIES INTERFACE_LINK_LIBRARIES "${replaced}")
      continue()
    endif()
    if(NOT type MATCHES "^(SHARED|UNKNOWN|STATIC)_LIBRARY$")
      continue()
    endif()
    get_target_property(configs ${t} IMPORTED_CONFIGURATIONS)
    set(props IMPORTED_LOCATION)
    if(configs)
      foreach(c ${configs})
        list(APPEND props IMPORTED_LOCATION_${c})
      endforeach()
    endif()
    foreach(p ${props})
      get_target_property(location ${t} ${p})
      if(NOT location OR NOT location MATCHES "^(.*/lib[^/]+)\\.so(\\.[0-9.]+)?$")
        continue()
      endif()
      set(archive "${CMAKE_MATCH_1}.a")
      if(NOT EXISTS "${archive}")
        message(FATAL_ERROR "NSM_STATIC_DEPS: ${t} has no archive ${archive} next to ${location}; "
                            "configure with -DNSM_STATIC_DEPS=OFF to link it shared")
      endif()
      set_target_properties(${t} PROPERTIES ${p} "${archive}")
      math(EXPR switched "${switched} + 1")
    endforeach()
  endforeach()
  message(STATUS "NSM_STATIC_DEPS: ${switched} imported libraries linked from their archives")
endfunction()
