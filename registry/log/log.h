// A minimal leveled logger for the registry elements and binaries: one line per event on stderr,
// level names as logrus (binaries.md §0.4), process-wide level set once at start-up.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace nsm::log {

enum class Level { kPanic = 0, kFatal, kError, kWarn, kInfo, kDebug, kTrace };

// "panic", "fatal", "error", "warn"/"warning", "info", "debug", "trace" (any case).
absl::StatusOr<Level> ParseLevel(absl::string_view name);
absl::string_view LevelName(Level level);

void SetLevel(Level level);
Level GetLevel();
bool Enabled(Level level);

// Writes "<RFC 3339 time> [<LEVEL>] <component>: <message>" to stderr if `level` is enabled.
void Write(Level level, absl::string_view component, absl::string_view message);

inline void Error(absl::string_view component, absl::string_view message) {
  Write(Level::kError, component, message);
}
inline void Warn(absl::string_view component, absl::string_view message) {
  Write(Level::kWarn, component, message);
}
inline void Info(absl::string_view component, absl::string_view message) {
  Write(Level::kInfo, component, message);
}
inline void Debug(absl::string_view component, absl::string_view message) {
  Write(Level::kDebug, component, message);
}

}  // namespace nsm::log
