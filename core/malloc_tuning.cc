// glibc malloc tuning for the binaries: the tunable's value, and the one re-execution that lets
// glibc read it (see malloc_tuning.h).
#include "core/malloc_tuning.h"

#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace nsm::malloc_tuning {
namespace {

// Set in the environment of the re-executed process to the name the process had: never a second
// time, even if the kernel or a wrapper dropped GLIBC_TUNABLES on the way.
constexpr char kReexecuted[] = "NSM_MALLOC_REEXECUTED";

bool SetsTunable(absl::string_view tunables) {
  for (absl::string_view item : absl::StrSplit(tunables, ':')) {
    if (absl::StartsWith(item, absl::StrCat(kTunable, "="))) return true;
  }
  return false;
}

// Whether something other than glibc's malloc serves this process, so the tunable means nothing.
bool MallocReplaced() {
#if !defined(__GLIBC__)
  return true;
#elif defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
  return true;
#endif
#endif
  const char* preload = std::getenv("LD_PRELOAD");  // jemalloc, tcmalloc, valgrind, heaptrack...
  return preload != nullptr && preload[0] != '\0';
}

// The process's name (what ps, top and pgrep show): exec names a process after the file executed,
// "exe" for /proc/self/exe, so the re-executed process takes back the name it had.
std::string ProcessName() {
  char name[17] = {};  // the kernel's limit: 15 characters and the NUL
  if (prctl(PR_GET_NAME, name) != 0) return "";
  return name;
}

}  // namespace

absl::StatusOr<std::optional<std::string>> TunablesFor(const char* setting, const char* tunables) {
  if (setting == nullptr) setting = kDefaultCount;
  int count = 0;
  if (!absl::SimpleAtoi(setting, &count) || count < 0 || count > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(kVariable, "=\"", setting,
                                                   "\" is invalid: want a count from 0 to 65535 "
                                                   "(0: glibc's default, no re-execution)"));
  }
  if (count == 0) return std::nullopt;
  const absl::string_view current = tunables != nullptr ? tunables : "";
  if (SetsTunable(current)) return std::nullopt;
  return absl::StrCat(current, current.empty() ? "" : ":", kTunable, "=", count);
}

absl::Status ReexecWithTunables(char** argv) {
  auto tunables = TunablesFor(std::getenv(kVariable), std::getenv("GLIBC_TUNABLES"));
  if (!tunables.ok()) return tunables.status();
  if (const char* name = std::getenv(kReexecuted)) {  // the re-executed process
    if (name[0] != '\0') prctl(PR_SET_NAME, name);
    // Not for child processes: they inherit GLIBC_TUNABLES (so they do not re-execute), and
    // their names are their own.
    unsetenv(kReexecuted);
    return absl::OkStatus();
  }
  if (!tunables->has_value() || MallocReplaced()) return absl::OkStatus();
  const char* before = std::getenv("GLIBC_TUNABLES");
  const std::optional<std::string> previous =
      before != nullptr ? std::optional<std::string>(before) : std::nullopt;
  if (setenv("GLIBC_TUNABLES", (*tunables)->c_str(), 1) == 0 &&
      setenv(kReexecuted, ProcessName().c_str(), 1) == 0) {
    execv("/proc/self/exe", argv);
    std::fprintf(stderr,
                 "%s: cannot re-execute /proc/self/exe to set GLIBC_TUNABLES=%s (%s); going on "
                 "with glibc's malloc defaults\n",
                 argv[0], (*tunables)->c_str(), std::strerror(errno));
  }
  // Put the environment back, so that Describe and child processes see what is in effect.
  unsetenv(kReexecuted);
  if (previous.has_value()) {
    setenv("GLIBC_TUNABLES", previous->c_str(), 1);
  } else {
    unsetenv("GLIBC_TUNABLES");
  }
  return absl::OkStatus();
}

std::string Describe() {
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (MallocReplaced()) return "malloc: not glibc's (LD_PRELOAD or a sanitizer)";
  if (tunables != nullptr && SetsTunable(tunables)) {
    return absl::StrCat("malloc: GLIBC_TUNABLES=", tunables);
  }
  return absl::StrCat("malloc: glibc's defaults (", kVariable, "=",
                      std::getenv(kVariable) != nullptr ? std::getenv(kVariable) : "unset", ")");
}

env::Variable HelpRow() {
  return {kVariable, "count", kDefaultCount,
          "freed blocks glibc's malloc keeps per thread and size (glibc.malloc.tcache_count; "
          "glibc's own default is 7): the binary re-executes itself once with it in "
          "GLIBC_TUNABLES, unless GLIBC_TUNABLES sets it already or LD_PRELOAD is set; 0: "
          "glibc's default, no re-execution (not in NSM)",
          /*prefixed=*/false};
}

}  // namespace nsm::malloc_tuning
