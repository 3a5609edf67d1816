"""Macros for nsm-cpp folders: one library and one test per source folder.

The library is every non-test *.cc / *.h of the folder (globbed, so new files need no BUILD
edit) and is named after the folder; the test is one cc_test of all *_test.cc files, linked
with gtest_main and gmock, named <folder>_test (as in CMake). Sources include each other from
the repository root ("api/path.h", "core/context.h"), which Bazel puts on the include path for
the main repository. -Wall -Wextra -Werror come from .bazelrc (--per_file_copt, our files only).
"""

def nsm_library(name, deps = [], srcs = None, hdrs = None, **kwargs):
    """cc_library of the folder's non-test sources.

    Args:
      name: the folder name (the library target is //<folder path>:<name>).
      deps: other nsm libraries and system libraries (@absl//:status, @grpc//:grpc++ ...).
      srcs: defaults to glob(["*.cc"]) minus tests.
      hdrs: defaults to glob(["*.h"]).
      **kwargs: passed to cc_library.
    """
    if srcs == None:
        srcs = native.glob(["*.cc"], exclude = ["*_test.cc"])
    if hdrs == None:
        hdrs = native.glob(["*.h"])
    kwargs.setdefault("visibility", ["//visibility:public"])
    native.cc_library(
        name = name,
        srcs = srcs,
        hdrs = hdrs,
        deps = deps,
        **kwargs
    )

def nsm_test(name, deps = [], srcs = None, **kwargs):
    """cc_test of the folder's *_test.cc files (skipped while the folder has none).

    Args:
      name: test target name, by convention <folder>_test.
      deps: usually [":<folder>"] plus anything the tests use directly.
      srcs: defaults to glob(["*_test.cc"]).
      **kwargs: passed to cc_test (size, tags, data, ...).
    """
    if srcs == None:
        srcs = native.glob(["*_test.cc"])
    if not srcs:
        return
    native.cc_test(
        name = name,
        srcs = srcs,
        deps = deps + [
            "@googletest//:gmock",
            "@googletest//:gtest_main",
        ],
        **kwargs
    )
