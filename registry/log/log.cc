#include "registry/log/log.h"

#include <atomic>
#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace nsm::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::kInfo)};

}  // namespace

absl::StatusOr<Level> ParseLevel(absl::string_view name) {
  std::string n = absl::AsciiStrToLower(name);
  if (n == "panic") return Level::kPanic;
  if (n == "fatal") return Level::kFatal;
  if (n == "error") return Level::kError;
  if (n == "warn" || n == "warning") return Level::kWarn;
  if (n == "info") return Level::kInfo;
  if (n == "debug") return Level::kDebug;
  if (n == "trace") return Level::kTrace;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown log level \"", name,
                   "\" (want panic, fatal, error, warn, warning, info, debug or trace)"));
}

absl::string_view LevelName(Level level) {
  switch (level) {
    case Level::kPanic:
      return "PANIC";
    case Level::kFatal:
      return "FATAL";
    case Level::kError:
      return "ERROR";
    case Level::kWarn:
      return "WARN";
    case Level::kInfo:
      return "INFO";
    case Level::kDebug:
      return "DEBUG";
    case Level::kTrace:
      return "TRACE";
  }
  return "?";
}

void SetLevel(Level level) { g_level.store(static_cast<int>(level)); }
Level GetLevel() { return static_cast<Level>(g_level.load()); }
bool Enabled(Level level) { return static_cast<int>(level) <= g_level.load(); }

void Write(Level level, absl::string_view component, absl::string_view message) {
  if (!Enabled(level)) return;
  static absl::Mutex mu(absl::kConstInit);
  std::string line =
      absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()), " [",
                   LevelName(level), "] ", component, ": ", message, "\n");
  absl::MutexLock lock(&mu);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace nsm::log
