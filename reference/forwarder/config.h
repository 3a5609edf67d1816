// forwarder configuration from the environment: cmd-forwarder-vpp's NSM_ variables (name,
// labels, service name, URLs, tunnel IP, VXLAN port, timeouts) plus the remote mechanisms of this
// reference forwarder, --help and precise errors (binaries.md §0.1; mechanisms.md §8-10).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/log.h"
#include "reference/common/env.h"
#include "reference/forwarder/forwarder.h"

namespace nsm::forwarder {

struct Config {
  // Everything but credentials, tokens, clock, pools and registry clients.
  Options options;
  std::string listen_on;
  log::Level log_level = log::Level::kInfo;
  log::Format log_format = log::Format::kText;
  std::string spiffe_endpoint_socket;  // accepted; mTLS is not implemented yet
  std::string metrics_listen_on;       // host:port; empty: no metrics server
};

const std::vector<reference::Variable>& Variables();

// InvalidArgument `NSM_X="value" is invalid: why` for the first bad variable.
absl::StatusOr<Config> ParseConfig(const reference::Getenv& getenv);

std::string HelpText();
// One line for the start-up log.
std::string Describe(const Config& config);

}  // namespace nsm::forwarder
