// The process logger: logrus level names (binaries.md §0.4), text or JSON lines (NSM_LOG_FORMAT),
// structured fields, rate-limited repeats, level changes at run time, token redaction (issue #8).
#include "core/log.h"

#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"

namespace nsm::log {
namespace {

// At most this many (component, key) pairs are tracked at once; beyond, lines are not limited.
constexpr size_t kMaxRepeats = 1024;

bool NeedsQuotes(absl::string_view v) {
  if (v.empty()) return true;
  for (unsigned char c : v) {
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f) return true;
  }
  return false;
}

// The message and component of a text line: control characters (a newline from a peer's error
// text could forge a log line) are written as C escapes; everything else, UTF-8 included, stays.
std::string EscapeControl(absl::string_view v) {
  bool clean = true;
  for (unsigned char c : v) clean = clean && c >= ' ' && c != 0x7f;
  if (clean) return std::string(v);
  std::string out;
  for (unsigned char c : v) {
    if (c >= ' ' && c != 0x7f) {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppend(&out, absl::CEscape(absl::string_view(reinterpret_cast<const char*>(&c), 1)));
    }
  }
  return out;
}

std::string RepeatKey(absl::string_view component, absl::string_view key) {
  return absl::StrCat(component, "\x1f", key);
}

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

absl::StatusOr<Format> ParseFormat(absl::string_view name) {
  std::string n = absl::AsciiStrToLower(name);
  if (n == "text") return Format::kText;
  if (n == "json") return Format::kJson;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown log format \"", name, "\" (want text or json)"));
}

absl::string_view FormatName(Format format) { return format == Format::kJson ? "json" : "text"; }

struct Logger::Repeat {
  Level level;
  std::string component;
  std::string message;  // the latest suppressed one
  Fields fields;
  int64_t count = 0;
  std::unique_ptr<Timer> timer;
};

Logger::Logger(Sink sink, std::shared_ptr<Clock> clock)
    : sink_(std::move(sink)),
      clock_(clock ? std::move(clock) : RealClock()),
      level_(static_cast<int>(Level::kInfo)),
      format_(static_cast<int>(Format::kText)) {}

Logger::~Logger() {
  std::map<std::string, std::unique_ptr<Repeat>> repeats;
  {
    absl::MutexLock lock(&mu_);
    repeats.swap(repeats_);
  }
  // Timers stop when `repeats` goes, outside the lock.
}

void Logger::SetLevel(Level level) { level_.store(static_cast<int>(level)); }
Level Logger::level() const { return static_cast<Level>(level_.load()); }
bool Logger::Enabled(Level level) const {
  return static_cast<int>(level) <= level_.load(std::memory_order_relaxed);
}

Level Logger::RaiseLevel() {
  int l = level_.load();
  while (l < static_cast<int>(Level::kTrace) && !level_.compare_exchange_weak(l, l + 1)) {
  }
  return level();
}

Level Logger::LowerLevel() {
  int l = level_.load();
  while (l > static_cast<int>(Level::kPanic) && !level_.compare_exchange_weak(l, l - 1)) {
  }
  return level();
}

void Logger::SetFormat(Format format) { format_.store(static_cast<int>(format)); }
Format Logger::format() const { return static_cast<Format>(format_.load()); }

void Logger::SetRepeatWindow(absl::Duration window) {
  absl::MutexLock lock(&mu_);
  window_ = window;
}

std::string Logger::FormatLine(absl::Time time, Level level, absl::string_view component,
                               absl::string_view message, const Fields& fields) const {
  const std::string ts = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", time, absl::UTCTimeZone());
  if (format() == Format::kJson) {
    nlohmann::ordered_json j;
    j["time"] = ts;
    j["level"] = absl::AsciiStrToLower(LevelName(level));
    j["component"] = std::string(component);
    j["msg"] = std::string(message);
    for (const auto& f : fields) {
      std::string key = f.key;
      if (key == "time" || key == "level" || key == "component" || key == "msg") {
        key = absl::StrCat("fields.", key);
      }
      if (f.number) {
        j[key] = nlohmann::ordered_json::parse(f.value, nullptr, /*allow_exceptions=*/false);
        if (j[key].is_discarded()) j[key] = f.value;
      } else {
        j[key] = f.value;
      }
    }
    return absl::StrCat(j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace),
                        "\n");
  }
  std::string line = absl::StrCat(ts, " [", LevelName(level), "] ", EscapeControl(component), ": ",
                                  EscapeControl(message));
  for (const auto& f : fields) {
    if (NeedsQuotes(f.value)) {
      absl::StrAppend(&line, " ", f.key, "=\"", absl::CEscape(f.value), "\"");
    } else {
      absl::StrAppend(&line, " ", f.key, "=", f.value);
    }
  }
  line.push_back('\n');
  return line;
}

void Logger::Emit(Level level, absl::string_view component, absl::string_view message,
                  const Fields& fields) {
  std::string line = FormatLine(clock_->Now(), level, component, message, fields);
  if (sink_) {
    sink_(line);
  } else {
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
  }
}

void Logger::Write(Level level, absl::string_view component, absl::string_view message,
                   const Fields& fields) {
  if (!Enabled(level)) return;
  if (level <= Level::kError) {
    WriteKeyed(level, component, message, message, fields);
    return;
  }
  absl::MutexLock lock(&mu_);
  Emit(level, component, message, fields);
}

void Logger::WriteKeyed(Level level, absl::string_view component, absl::string_view key,
                        absl::string_view message, const Fields& fields) {
  if (!Enabled(level)) return;
  absl::MutexLock lock(&mu_);
  if (window_ <= absl::ZeroDuration()) {
    Emit(level, component, message, fields);
    return;
  }
  std::string k = RepeatKey(component, key);
  if (auto it = repeats_.find(k); it != repeats_.end()) {
    Repeat& r = *it->second;
    ++r.count;
    r.level = level;
    r.message = std::string(message);
    r.fields = fields;
    return;
  }
  Emit(level, component, message, fields);
  if (repeats_.size() >= kMaxRepeats) return;
  auto r = std::make_unique<Repeat>();
  r->level = level;
  r->component = std::string(component);
  r->timer = clock_->AfterFunc(window_, [this, k] { FlushRepeat(k); });
  repeats_.emplace(std::move(k), std::move(r));
}

void Logger::FlushRepeat(const std::string& key) {
  std::unique_ptr<Repeat> done;
  {
    absl::MutexLock lock(&mu_);
    auto it = repeats_.find(key);
    if (it == repeats_.end()) return;
    done = std::move(it->second);
    repeats_.erase(it);
    if (done->count > 0) {
      Fields fields = done->fields;
      fields.emplace_back("repeated", done->count);
      Emit(done->level, done->component,
           absl::StrCat(done->message, " (repeated ", done->count, " times in the last ",
                        absl::FormatDuration(window_), ")"),
           fields);
    }
  }
  // Our own timer: stopping it from inside its callback is allowed (core/clock.h).
  done->timer->Stop();
}

void Logger::Notice(absl::string_view component, absl::string_view message, const Fields& fields) {
  absl::MutexLock lock(&mu_);
  Emit(Level::kInfo, component, message, fields);
}

Logger& Default() {
  static Logger* logger = new Logger();
  return *logger;
}

std::string HopNames(const ::connection::Path& path) {
  return absl::StrJoin(path.path_segments(), ">",
                       [](std::string* out, const ::connection::PathSegment& s) {
                         absl::StrAppend(out, s.name().empty() ? "?" : s.name());
                       });
}

::connection::Connection Redacted(const ::connection::Connection& conn) {
  ::connection::Connection copy = conn;
  for (auto& s : *copy.mutable_path()->mutable_path_segments()) {
    if (!s.token().empty()) s.set_token("<redacted>");
  }
  return copy;
}

std::string ConnectionForLog(const ::connection::Connection& conn) {
  return Redacted(conn).ShortDebugString();
}

}  // namespace nsm::log
