// Environment configuration of the reference binaries (forwarder, nse, nsc): NSM_ variables read
// as envconfig does, their --help table, and errors naming variable and value (binaries.md §0.1).
// Built on core/envconfig's parsers, plus aliases, key:value maps, IPs, ranges and log levels.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/envconfig.h"
#include "core/log.h"

namespace nsm::reference {

// One environment variable of a binary.
struct Variable {
  std::string name;           // e.g. "NSM_NAME"
  std::string type;           // shown in --help: "string", "duration", "URL", ...
  std::string default_value;  // applies only when the variable is unset
  std::string description;
  std::vector<std::string> aliases = {};  // other accepted names; set ones must agree
};

// One of the rows the binaries share (core/envconfig.h, e.g. env::LogLevelVariable), as a row
// of the reference binaries' tables.
inline Variable FromShared(const nsm::env::Variable& v) {
  return {v.name, v.type, v.default_value, v.description};
}

using Getenv = std::function<std::optional<std::string>(const std::string& name)>;
// The process environment.
Getenv ProcessEnvironment();
// A fixed environment (tests).
Getenv MapEnvironment(std::map<std::string, std::string> vars);

// Reads the variables of one binary. Each accessor returns the parsed value of the variable, or
// of its default when it is unset (set to "" means the empty value, as envconfig). The first
// invalid value is kept in status() as InvalidArgument `NAME="value" is invalid: why`; accessors
// called after an error still return something (a zero value) so parsing code stays linear.
class EnvReader {
 public:
  EnvReader(Getenv getenv, const std::vector<Variable>& variables);

  std::string String(absl::string_view name);
  // Go duration syntax (300ms, 1m30s, 1h); negative values are invalid.
  absl::Duration Duration(absl::string_view name);
  // An NSM URL (unix:///path, tcp://host:port), normalised; "" when empty and `optional`.
  // `listen` accepts tcp URLs without a host (every address).
  std::string Url(absl::string_view name, bool listen, bool optional);
  // Comma-separated, no empty items; "" is the empty list.
  std::vector<std::string> List(absl::string_view name);
  // Comma-separated key:value pairs as envconfig maps ("app:icmp,version:v1"); key=value is
  // accepted too (the first ':' or '=' separates key and value). Empty keys and repeated keys are
  // invalid; "" is the empty map.
  std::map<std::string, std::string> Labels(absl::string_view name);
  // 1/0/t/f/true/false in Go's spellings.
  bool Bool(absl::string_view name);
  // Unsigned decimal in [min, max].
  uint64_t Uint(absl::string_view name, uint64_t min, uint64_t max);
  // An IPv4 or IPv6 address (normalised text); "" when empty and `optional`.
  std::string Ip(absl::string_view name, bool optional);
  // logrus level names, any case.
  log::Level LogLevel(absl::string_view name);
  // "text" or "json", any case.
  log::Format LogFormat(absl::string_view name);

  // Records `why` against the variable's current value (for checks made by the caller).
  void Fail(absl::string_view name, absl::string_view why);
  absl::Status status() const { return status_; }

  // The raw value and the name it was read from (an alias when only that one is set).
  struct Raw {
    std::string variable;
    std::string value;
    bool set = false;
  };
  Raw Read(absl::string_view name);

 private:
  const Variable* Find(absl::string_view name) const;
  void Invalid(const Raw& raw, absl::string_view why);
  void Keep(const absl::Status& s);  // the first error wins

  Getenv getenv_;
  const std::vector<Variable>& variables_;
  absl::Status status_;
};

// --help: `intro`, then every variable with its other names, type, default and description, then
// `outro`.
std::string HelpText(absl::string_view intro, const std::vector<Variable>& variables,
                     absl::string_view outro);

}  // namespace nsm::reference
