// glibc malloc tuning for the binaries (docs/PERFORMANCE.md, "malloc's thread cache"): a larger
// per-thread cache of freed blocks (glibc.malloc.tcache_count). glibc reads its tunables only from
// GLIBC_TUNABLES when a program starts, so a binary re-executes itself once with the tunable added.
#pragma once

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/envconfig.h"

namespace nsm::malloc_tuning {

// The variable that sets the count; 0 leaves glibc's default (7) and never re-executes.
inline constexpr char kVariable[] = "NSM_MALLOC_TCACHE_COUNT";
inline constexpr char kDefaultCount[] = "256";
inline constexpr char kTunable[] = "glibc.malloc.tcache_count";

// The GLIBC_TUNABLES value to re-execute with, or nullopt when the process goes on as it is: the
// count is 0, or `tunables` (GLIBC_TUNABLES; nullptr when unset) already sets the tunable (the
// operator's choice wins). `setting`: kVariable's value, nullptr when unset (kDefaultCount).
// INVALID_ARGUMENT naming the variable when the setting is not a count from 0 to 65535.
absl::StatusOr<std::optional<std::string>> TunablesFor(const char* setting, const char* tunables);

// Re-executes /proc/self/exe with `argv` and the environment plus the tunable, when TunablesFor
// asks for it and glibc's malloc is the one in use (not with LD_PRELOAD, under a sanitizer, or
// after one re-execution already); the re-executed process takes back the name the first one had
// (exec would name it "exe"). Call it first in main, before any thread starts. Returns only when
// it does not re-execute: OK, or the setting's error. A failed exec is reported on stderr and the
// process goes on with glibc's defaults.
absl::Status ReexecWithTunables(char** argv);

// One line for the start-up log: the malloc settings in effect.
std::string Describe();

// kVariable's row in a binary's --help (not prefixed).
env::Variable HelpRow();

}  // namespace nsm::malloc_tuning
