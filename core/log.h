// The process logger: logrus level names (binaries.md §0.4), text or JSON lines (NSM_LOG_FORMAT),
// structured fields, rate-limited repeats, level changes at run time, token redaction (issue #8).
#pragma once

#include <atomic>
#include <concepts>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "connection.pb.h"
#include "core/clock.h"

namespace nsm::log {

enum class Level { kPanic = 0, kFatal, kError, kWarn, kInfo, kDebug, kTrace };
enum class Format { kText, kJson };

// "panic", "fatal", "error", "warn"/"warning", "info", "debug", "trace" (any case).
absl::StatusOr<Level> ParseLevel(absl::string_view name);
// "PANIC" ... "TRACE".
absl::string_view LevelName(Level level);
// "text" or "json" (any case).
absl::StatusOr<Format> ParseFormat(absl::string_view name);
absl::string_view FormatName(Format format);

// One structured field: text lines print key=value (quoted when needed), JSON lines carry it as a
// member (a number when built from an integer).
struct Field {
  Field(absl::string_view k, absl::string_view v) : key(k), value(v) {}
  Field(absl::string_view k, const char* v) : key(k), value(v) {}
  Field(absl::string_view k, const std::string& v) : key(k), value(v) {}
  template <std::integral T>
  Field(absl::string_view k, T v) : key(k), value(absl::StrCat(v)), number(true) {}
  Field(absl::string_view k, absl::Duration d) : key(k), value(absl::FormatDuration(d)) {}

  std::string key;
  std::string value;
  bool number = false;
};
using Fields = std::vector<Field>;

// A logger. The process has one (Default()); tests make their own with a capturing sink and a
// FakeClock. Thread-safe.
class Logger {
 public:
  // Gets one complete line, '\n' included. Called with the logger's lock held: keep it short.
  using Sink = std::function<void(absl::string_view line)>;

  // `sink` nullptr: stderr. `clock` nullptr: the real clock.
  explicit Logger(Sink sink = nullptr, std::shared_ptr<Clock> clock = nullptr);
  ~Logger();
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  void SetLevel(Level level);
  Level level() const;
  // Cheap (one atomic load): check it before building an expensive message.
  bool Enabled(Level level) const;
  // One step more (up to trace) or less (down to panic) verbose; returns the new level.
  Level RaiseLevel();
  Level LowerLevel();

  void SetFormat(Format format);
  Format format() const;

  // The window of repeat suppression (default 10s); zero turns it off.
  void SetRepeatWindow(absl::Duration window);

  // Writes one line if `level` is enabled. Errors (and worse) are rate-limited by (component,
  // message) as WriteKeyed does.
  void Write(Level level, absl::string_view component, absl::string_view message,
             const Fields& fields = {});
  // Rate-limited by (component, key) at any level: the first occurrence in a window is written,
  // later ones in the same window are counted, and when the window ends (on the clock) the last
  // of them is written once more with " (repeated N times in the last 10s)" and a "repeated"
  // field. `key` is the message template (e.g. "cannot dial forwarder"), so messages that differ
  // by an id still group.
  void WriteKeyed(Level level, absl::string_view component, absl::string_view key,
                  absl::string_view message, const Fields& fields = {});
  // Writes at info level whatever the level is (level changes, start-up notices).
  void Notice(absl::string_view component, absl::string_view message, const Fields& fields = {});

  // The line Write would produce at `time` (tests, and Write itself).
  std::string FormatLine(absl::Time time, Level level, absl::string_view component,
                         absl::string_view message, const Fields& fields) const;

 private:
  struct Repeat;
  void Emit(Level level, absl::string_view component, absl::string_view message,
            const Fields& fields);
  void FlushRepeat(const std::string& key);

  Sink sink_;
  std::shared_ptr<Clock> clock_;
  std::atomic<int> level_;
  std::atomic<int> format_;
  mutable absl::Mutex mu_;
  absl::Duration window_ ABSL_GUARDED_BY(mu_) = absl::Seconds(10);
  std::map<std::string, std::unique_ptr<Repeat>> repeats_ ABSL_GUARDED_BY(mu_);
};

// For --help texts: the signals that change the process-wide level.
inline constexpr char kLevelSignalsHelp[] =
    "SIGUSR1 makes the log one level more verbose (up to trace), SIGUSR2 one level less;\n"
    "each change is logged.\n";

// The process-wide logger (stderr, real clock); never destroyed.
Logger& Default();

// The process-wide logger's functions.
inline void SetLevel(Level level) { Default().SetLevel(level); }
inline Level GetLevel() { return Default().level(); }
inline bool Enabled(Level level) { return Default().Enabled(level); }
inline void SetFormat(Format format) { Default().SetFormat(format); }

inline void Write(Level level, absl::string_view component, absl::string_view message,
                  const Fields& fields = {}) {
  if (Default().Enabled(level)) Default().Write(level, component, message, fields);
}
inline void Error(absl::string_view component, absl::string_view message,
                  const Fields& fields = {}) {
  Write(Level::kError, component, message, fields);
}
inline void Warn(absl::string_view component, absl::string_view message,
                 const Fields& fields = {}) {
  Write(Level::kWarn, component, message, fields);
}
inline void Info(absl::string_view component, absl::string_view message,
                 const Fields& fields = {}) {
  Write(Level::kInfo, component, message, fields);
}
inline void Debug(absl::string_view component, absl::string_view message,
                  const Fields& fields = {}) {
  Write(Level::kDebug, component, message, fields);
}

// Never a token in a log line: these are the only ways a path or a connection is logged.
//
// The hop names of a path, "nsc>nsmgr-1>forwarder-a>nse" (segment names only).
std::string HopNames(const ::connection::Path& path);
// A copy of `conn` with every path segment token replaced by "<redacted>".
::connection::Connection Redacted(const ::connection::Connection& conn);
// Redacted(conn) as compact text (protobuf short debug string).
std::string ConnectionForLog(const ::connection::Connection& conn);

}  // namespace nsm::log
