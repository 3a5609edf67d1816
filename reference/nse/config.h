// nse configuration from the environment: cmd-nse-icmp-responder's NSM_ variables (name,
// services, payload, labels, CIDR prefix, nsmgr URL) plus the listen URL and mechanisms, --help
// and precise errors (binaries.md §0.1).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/log.h"
#include "reference/common/env.h"
#include "reference/nse/nse.h"

namespace nsm::nse {

struct Config {
  // Everything but credentials, tokens, clock and pools.
  Options options;
  // Empty: a unix socket in a new temporary directory (as cmd-nse-icmp-responder).
  std::string listen_on;
  log::Level log_level = log::Level::kInfo;
  log::Format log_format = log::Format::kText;
  std::string spiffe_endpoint_socket;
};

const std::vector<reference::Variable>& Variables();
absl::StatusOr<Config> ParseConfig(const reference::Getenv& getenv);
std::string HelpText();
std::string Describe(const Config& config);

}  // namespace nsm::nse
