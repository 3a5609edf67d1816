// registry-memory configuration from the environment: REGISTRY_MEMORY_ (v1.1.1) or NSM_
// variables, defaults, --help, precise errors (binaries.md §0.1, §2.1, §3.2).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/envconfig.h"
#include "core/log.h"

namespace nsm::reg::registry_memory {

struct Config {
  std::vector<std::string> listen_on;  // NSM URLs, at least one
  std::string proxy_registry_url;      // empty: no proxy registry
  absl::Duration expire_period;        // the cap of NSE registrations
  log::Level log_level = log::Level::kInfo;
  log::Format log_format = log::Format::kText;
  // Accepted for manifests of later NSM versions; parsed and checked, not used yet.
  std::string spiffe_endpoint_socket;
  absl::Duration max_token_lifetime;
  std::string metrics_listen_on;  // host:port; empty: no metrics server
};

// Prefixed variables are read as NSM_<name> (current) or REGISTRY_MEMORY_<name> (v1.1.1).
const std::vector<env::Variable>& Variables();

using Getenv = env::Getenv;
// The process environment.
inline Getenv ProcessEnvironment() { return env::ProcessEnvironment(); }

// As envconfig: the default applies only to unset variables (set to "" is the empty value).
// Both prefixes set to different values is an error. InvalidArgument names the variable and value.
absl::StatusOr<Config> ParseConfig(const Getenv& getenv);

// Usage: every variable with type, default and description.
std::string HelpText();
// One line for the start-up log.
std::string Describe(const Config& config);

}  // namespace nsm::reg::registry_memory
