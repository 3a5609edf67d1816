// nsc configuration from the environment (cmd-nsc's NSM_ variables: name, nsmgr URL, network
// service URLs, labels, timeouts) plus the output format, --help and precise errors
// (binaries.md §0.1; mechanisms.md §14 for the URLs).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/log.h"
#include "reference/common/env.h"
#include "reference/nsc/nsc.h"

namespace nsm::nsc {

enum class Output { kText, kJson };

struct Config {
  Options options;  // everything but credentials, tokens, clock, pool and hooks
  Output output = Output::kText;
  log::Level log_level = log::Level::kInfo;
  log::Format log_format = log::Format::kText;
  std::string spiffe_endpoint_socket;
  std::string metrics_listen_on;  // host:port; empty: no metrics server (heal series)
};

const std::vector<reference::Variable>& Variables();
absl::StatusOr<Config> ParseConfig(const reference::Getenv& getenv);
std::string HelpText();
std::string Describe(const Config& config);

}  // namespace nsm::nsc
