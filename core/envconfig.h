// Configuration from environment variables as NSM's binaries read it (envconfig: prefixes, the
// default only for unset variables), value parsers with precise errors, --help text (binaries.md
// §0.1).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace nsm::env {

using Getenv = std::function<std::optional<std::string>(const std::string& name)>;
// The process environment.
Getenv ProcessEnvironment();
// A fixed environment (tests).
Getenv FromMap(std::map<std::string, std::string> values);

struct Variable {
  const char* name;  // without prefix when `prefixed`
  const char* type;  // "string", "duration", "bool", "URL", "list of URL", ...
  const char* default_value;
  const char* description;
  bool prefixed = true;
};

// The log level and format rows every binary lists (docs/logging.md), under the name its table
// uses ("LOG_LEVEL" when the table's names are prefixed, "NSM_LOG_LEVEL" when written out).
Variable LogLevelVariable(const char* name);
Variable LogFormatVariable(const char* name);

// A value read from the environment and the variable it came from.
struct Value {
  std::string variable;  // e.g. NSM_LISTEN_ON (the first prefix's name when unset)
  std::string value;
  bool set = false;
};

// Reads prefixed variables under each of `prefixes` (the first is the current name); when several
// are set they must agree. Unset: the default (set to "" is the empty value).
class Reader {
 public:
  Reader(Getenv getenv, std::vector<std::string> prefixes)
      : getenv_(std::move(getenv)), prefixes_(std::move(prefixes)) {}
  absl::StatusOr<Value> Read(const Variable& v) const;

 private:
  Getenv getenv_;
  std::vector<std::string> prefixes_;
};

// INVALID_ARGUMENT `<VAR>="<value>" is invalid: <why>`.
absl::Status Invalid(const Value& v, absl::string_view why);
// "" is zero; otherwise a Go-style duration (300ms, 1m30s); infinite is refused.
absl::StatusOr<absl::Duration> ParseDuration(const Value& v);
// As Go's strconv.ParseBool.
absl::StatusOr<bool> ParseBool(const Value& v);
// An NSM URL (unix:// or tcp://) that can be listened on (`listen`) or dialled; normalised.
absl::StatusOr<std::string> ParseUrl(const Value& v, bool listen);
// Comma-separated URLs, at least one.
absl::StatusOr<std::vector<std::string>> ParseUrlList(const Value& v, bool listen);
// "k:v,k2:v2" as envconfig maps (k=v accepted too; spaces around items ignored); "" is none.
absl::StatusOr<std::map<std::string, std::string>> ParseLabels(const Value& v);

// Usage text: `intro`, then every variable with its names, type, default and description, then
// `outro`.
std::string HelpText(absl::string_view intro, const std::vector<Variable>& vars,
                     const std::vector<std::string>& prefixes, absl::string_view outro);

}  // namespace nsm::env
