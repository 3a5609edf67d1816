#include "reference/nse/config.h"

#include <cctype>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "api/mechanisms.h"
#include "core/callback_threads.h"
#include "core/malloc_tuning.h"

namespace nsm::nse {

const std::vector<reference::Variable>& Variables() {
  static const auto* vars = new std::vector<reference::Variable>{
      {"NSM_NAME", "string", "icmp-server", "name of this endpoint (path segment, registration)"},
      {"NSM_LISTEN_ON", "URL", "",
       "URL to serve on: unix:///path or tcp://host:port; empty: a unix socket in a new "
       "temporary directory"},
      {"NSM_CONNECT_TO", "URL", "unix:///var/lib/networkservicemesh/nsm.io.sock",
       "the nsmgr to register with"},
      {"NSM_SERVICE_NAMES", "list of string", "icmp-responder",
       "network services provided, comma-separated"},
      {"NSM_LABELS", "map", "",
       "labels of the registration for every service, key:value pairs separated by commas "
       "(key=value also accepted)"},
      {"NSM_PAYLOAD", "string", "ETHERNET",
       "payload of the services registered here: ETHERNET or IP"},
      {"NSM_REGISTER_SERVICE", "bool", "true",
       "register each service (with NSM_PAYLOAD) unless it is registered already"},
      {"NSM_CIDR_PREFIX", "list of string", "169.254.0.0/16",
       "prefixes to assign point-to-point address pairs from, comma-separated (IPv4 or IPv6); "
       "empty: no addresses"},
      {"NSM_MECHANISMS", "list of string", "KERNEL,MEMIF,NOOP", "mechanism types accepted"},
      {"NSM_MAX_TOKEN_LIFETIME", "duration", "10m", "lifetime of the path tokens this hop issues"},
      {"NSM_IDLE_TIMEOUT", "duration", "0", "accepted for compatibility, not used yet"},
      {"NSM_DNS_CONFIGS", "string", "[]", "accepted for compatibility, not used yet"},
      reference::FromShared(env::LogLevelVariable("NSM_LOG_LEVEL")),
      reference::FromShared(env::LogFormatVariable("NSM_LOG_FORMAT")),
      reference::FromShared(malloc_tuning::HelpRow()),
      reference::FromShared(callback_threads::HelpRow()),
      {"SPIFFE_ENDPOINT_SOCKET", "string", "",
       "SPIFFE Workload API socket; mTLS is not implemented yet: plaintext gRPC with a warning"},
  };
  return *vars;
}

absl::StatusOr<Config> ParseConfig(const reference::Getenv& getenv) {
  reference::EnvReader env(getenv, Variables());
  Config c;
  Options& o = c.options;
  o.name = env.String("NSM_NAME");
  if (env.status().ok() && o.name.empty()) env.Fail("NSM_NAME", "the name must not be empty");
  c.listen_on = env.Url("NSM_LISTEN_ON", /*listen=*/true, /*optional=*/true);
  o.nsmgr_url = env.Url("NSM_CONNECT_TO", /*listen=*/false, /*optional=*/false);
  o.service_names = env.List("NSM_SERVICE_NAMES");
  if (env.status().ok() && o.service_names.empty()) {
    env.Fail("NSM_SERVICE_NAMES", "at least one network service is needed");
  }
  o.labels = env.Labels("NSM_LABELS");
  o.payload = env.String("NSM_PAYLOAD");
  if (env.status().ok() && o.payload != api::payload::kEthernet && o.payload != api::payload::kIP) {
    env.Fail("NSM_PAYLOAD", "want ETHERNET or IP");
  }
  o.register_service = env.Bool("NSM_REGISTER_SERVICE");
  o.cidr_prefixes = env.List("NSM_CIDR_PREFIX");
  for (const auto& p : o.cidr_prefixes) {
    if (auto parsed = Prefix::Parse(p); !parsed.ok() && env.status().ok()) {
      env.Fail("NSM_CIDR_PREFIX", parsed.status().message());
    }
  }
  o.mechanisms = env.List("NSM_MECHANISMS");
  for (auto& type : o.mechanisms) {
    for (char& ch : type) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    if (env.status().ok() && type != "KERNEL" && type != "MEMIF" && type != "NOOP" &&
        type != "VFIO") {
      env.Fail("NSM_MECHANISMS", absl::StrCat("\"", type, "\" is not KERNEL, MEMIF, NOOP or VFIO"));
    }
  }
  o.max_token_lifetime = env.Duration("NSM_MAX_TOKEN_LIFETIME");
  if (env.status().ok() && o.max_token_lifetime <= absl::ZeroDuration()) {
    env.Fail("NSM_MAX_TOKEN_LIFETIME", "must be longer than 0");
  }
  env.Duration("NSM_IDLE_TIMEOUT");
  env.String("NSM_DNS_CONFIGS");
  c.log_level = env.LogLevel("NSM_LOG_LEVEL");
  c.log_format = env.LogFormat("NSM_LOG_FORMAT");
  c.spiffe_endpoint_socket = env.String("SPIFFE_ENDPOINT_SOCKET");
  if (!env.status().ok()) return env.status();
  return c;
}

std::string HelpText() {
  return reference::HelpText(
      "nse: the NSM reference network service endpoint, control plane only (like\n"
      "cmd-nse-icmp-responder without a data plane). It accepts KERNEL, MEMIF and NOOP\n"
      "connections, assigns each a point-to-point address pair from NSM_CIDR_PREFIX, serves\n"
      "networkservice.NetworkService, connection.MonitorConnection and grpc.health.v1, and\n"
      "registers with its nsmgr for NSM_SERVICE_NAMES.\n\n"
      "Usage: nse [--help]\n",
      Variables(),
      absl::StrCat(
          "\nSignals: SIGTERM, SIGINT, SIGHUP and SIGQUIT unregister the endpoint and stop it.\n",
          log::kLevelSignalsHelp));
}

std::string Describe(const Config& c) {
  const Options& o = c.options;
  std::vector<std::string> labels;
  for (const auto& [k, v] : o.labels) labels.push_back(absl::StrCat(k, ":", v));
  return absl::StrCat(
      "name=", o.name, " listen_on=", c.listen_on.empty() ? "(temp)" : c.listen_on,
      " connect_to=", o.nsmgr_url, " services=[", absl::StrJoin(o.service_names, ","), "] labels=[",
      absl::StrJoin(labels, ","), "] payload=", o.payload,
      " register_service=", o.register_service ? "true" : "false", " cidr_prefix=[",
      absl::StrJoin(o.cidr_prefixes, ","), "] mechanisms=[", absl::StrJoin(o.mechanisms, ","),
      "] log_level=", log::LevelName(c.log_level), " log_format=", log::FormatName(c.log_format));
}

}  // namespace nsm::nse
