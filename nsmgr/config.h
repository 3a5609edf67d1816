// nsmgr configuration from the environment like cmd-nsmgr (NSM_ variables, defaults, --help,
// precise errors) and the public URL rule of binaries.md §1.1-1.2, §3.1.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/envconfig.h"
#include "core/log.h"

namespace nsm::nsmgr {

struct Config {
  std::string name;
  std::vector<std::string> listen_on;
  std::string registry_url;  // empty: no domain registry
  absl::Duration max_token_lifetime;
  absl::Duration dial_timeout;
  absl::Duration restart_grace;  // zero: off
  bool fibers = true;
  std::string forwarder_service_name;
  std::string forwarder_policy;  // "registration-order" or "least-connections"
  std::string excluded_prefixes_file;
  log::Level log_level = log::Level::kInfo;
  log::Format log_format = log::Format::kText;
  std::string spiffe_endpoint_socket;
  std::string metrics_listen_on;  // host:port; empty: no metrics server
};

const std::vector<env::Variable>& Variables();
// `hostname` makes the default name.
absl::StatusOr<Config> ParseConfig(const env::Getenv& getenv, const std::string& hostname);
std::string HelpText();
std::string Describe(const Config& config);

// The URL published for local endpoints: the first tcp URL of listen_on, else the first one; a tcp
// URL without host (tcp://:5001 or tcp://0.0.0.0:5001) gets `host_ip` (the first non-loopback
// IPv4 address of the machine; FAILED_PRECONDITION when there is none).
absl::StatusOr<std::string> PublicUrl(const std::vector<std::string>& listen_on,
                                      const std::string& host_ip);
// The first non-loopback IPv4 address of an interface that is up; "" when none.
std::string FirstNonLoopbackIPv4();

}  // namespace nsm::nsmgr
