// registry-memory configuration from the environment: REGISTRY_MEMORY_ (v1.1.1) or NSM_
// variables, defaults, --help, precise errors (binaries.md §0.1, §2.1, §3.2).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "registry/log/log.h"

namespace nsm::reg::registry_memory {

struct Config {
  std::vector<std::string> listen_on;  // NSM URLs, at least one
  std::string proxy_registry_url;      // empty: no proxy registry
  absl::Duration expire_period;        // the cap of NSE registrations
  log::Level log_level = log::Level::kInfo;
  // Accepted for manifests of later NSM versions; parsed and checked, not used yet.
  std::string spiffe_endpoint_socket;
  absl::Duration max_token_lifetime;
};

// One environment variable. `prefixed` variables are read as REGISTRY_MEMORY_<name> or
// NSM_<name>; the others by their bare name.
struct Variable {
  const char* name;
  bool prefixed;
  const char* type;
  const char* default_value;
  const char* description;
};

const std::vector<Variable>& Variables();

using Getenv = std::function<std::optional<std::string>(const std::string& name)>;
// The process environment.
Getenv ProcessEnvironment();

// As envconfig: the default applies only to unset variables (set to "" is the empty value).
// Both prefixes set to different values is an error. InvalidArgument names the variable and value.
absl::StatusOr<Config> ParseConfig(const Getenv& getenv);

// Usage: every variable with type, default and description.
std::string HelpText();
// One line for the start-up log.
std::string Describe(const Config& config);

}  // namespace nsm::reg::registry_memory
