#include "registry/registry-memory/config.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/callback_threads.h"
#include "core/malloc_tuning.h"
#include "core/metrics/metrics.h"

namespace nsm::reg::registry_memory {
namespace {

const std::vector<std::string> kPrefixes = {"NSM_", "REGISTRY_MEMORY_"};
constexpr char kUnused[] = "accepted for compatibility, not used yet";

}  // namespace

const std::vector<env::Variable>& Variables() {
  static const auto* vars = new std::vector<env::Variable>{
      {"LISTEN_ON", "list of URL", "unix:///listen.on.socket",
       "URLs to listen on, comma-separated: unix:///path/to.sock or tcp://host:port (tcp://:5002 "
       "= every address)"},
      {"PROXY_REGISTRY_URL", "URL", "",
       "registry proxy (e.g. registry-proxy-dns) for inter-domain name@domain entries; empty: "
       "inter-domain calls fail with FAILED_PRECONDITION"},
      {"EXPIRE_PERIOD", "duration", "1m",
       "longest lifetime of an endpoint registration: expiration_time is capped at now + this "
       "(NSM v1.1.1 declared this variable, default 1s, without using it, and hard-coded 1m)"},
      env::LogLevelVariable("LOG_LEVEL"),
      env::LogFormatVariable("LOG_FORMAT"),
      malloc_tuning::HelpRow(),
      callback_threads::HelpRow(),
      nsm::metrics::ListenOnVariable(),
      {"MAX_TOKEN_LIFETIME", "duration", "10m", kUnused},
      {"OPEN_TELEMETRY_ENDPOINT", "string", "otel-collector.observability.svc.cluster.local:4317",
       kUnused},
      {"METRICS_EXPORT_INTERVAL", "duration", "10s", kUnused},
      {"REGISTRY_SERVER_POLICIES", "list of string",
       "etc/nsm/opa/common/.*.rego,etc/nsm/opa/registry/.*.rego,etc/nsm/opa/server/.*.rego",
       kUnused},
      {"REGISTRY_CLIENT_POLICIES", "list of string",
       "etc/nsm/opa/common/.*.rego,etc/nsm/opa/registry/.*.rego,etc/nsm/opa/client/.*.rego",
       kUnused},
      {"PPROF_ENABLED", "bool", "false", kUnused},
      {"PPROF_LISTEN_ON", "string", "localhost:6060", kUnused},
      {"SPIFFE_ENDPOINT_SOCKET", "string", "",
       "SPIFFE Workload API socket; mTLS is not implemented yet: the registry serves plaintext "
       "gRPC and logs a warning saying so",
       false},
      {"TRACER_ENABLED", "bool", "true", kUnused, false},
      {"TELEMETRY", "bool", "false", kUnused, false},
  };
  return *vars;
}

absl::StatusOr<Config> ParseConfig(const Getenv& getenv) {
  env::Reader reader(getenv, kPrefixes);
  Config c;
  for (const auto& v : Variables()) {
    auto raw = reader.Read(v);
    if (!raw.ok()) return raw.status();
    const std::string name = v.name;
    const std::string type = v.type;
    if (name == "LISTEN_ON") {
      auto urls = env::ParseUrlList(*raw, /*listen=*/true);
      if (!urls.ok()) return urls.status();
      c.listen_on = *urls;
    } else if (name == "PROXY_REGISTRY_URL") {
      if (!raw->value.empty()) {
        auto url = env::ParseUrl(*raw, /*listen=*/false);
        if (!url.ok()) return url.status();
        c.proxy_registry_url = *url;
      }
    } else if (name == "EXPIRE_PERIOD") {
      auto d = env::ParseDuration(*raw);
      if (!d.ok()) return d.status();
      if (*d <= absl::ZeroDuration()) return env::Invalid(*raw, "must be longer than 0");
      c.expire_period = *d;
    } else if (name == nsm::metrics::ListenOnVariable().name) {
      auto listen = nsm::metrics::ParseListenOn(*raw);
      if (!listen.ok()) return listen.status();
      c.metrics_listen_on = *listen;
    } else if (name == "LOG_LEVEL") {
      auto level = log::ParseLevel(raw->value);
      if (!level.ok()) return env::Invalid(*raw, level.status().message());
      c.log_level = *level;
    } else if (name == "LOG_FORMAT") {
      auto format = log::ParseFormat(raw->value);
      if (!format.ok()) return env::Invalid(*raw, format.status().message());
      c.log_format = *format;
    } else if (name == "SPIFFE_ENDPOINT_SOCKET") {
      c.spiffe_endpoint_socket = raw->value;
    } else if (type == "duration") {
      auto d = env::ParseDuration(*raw);
      if (!d.ok()) return d.status();
      if (*d < absl::ZeroDuration()) return env::Invalid(*raw, "must not be negative");
      if (name == "MAX_TOKEN_LIFETIME") c.max_token_lifetime = *d;
    } else if (type == "bool") {
      if (auto b = env::ParseBool(*raw); !b.ok()) return b.status();
    }
  }
  return c;
}

std::string HelpText() {
  return env::HelpText(
      "registry-memory: the NSM registry (network services and endpoints in memory, watch\n"
      "streams, expiry, inter-domain proxying), serving registry.NetworkServiceRegistry,\n"
      "registry.NetworkServiceEndpointRegistry and grpc.health.v1.Health.\n\n"
      "Usage: registry-memory [--help]\n\n"
      "Configuration comes from the environment. Most variables have two names: NSM_<NAME>\n"
      "(current NSM) and REGISTRY_MEMORY_<NAME> (NSM v1.1.1); if both are set they must agree.\n"
      "The default applies when a variable is unset; set to \"\" it means the empty value.\n"
      "Invalid values stop the start-up with a message naming the variable.\n",
      Variables(), kPrefixes,
      absl::StrCat(
          "\nSignals: SIGTERM, SIGINT, SIGHUP and SIGQUIT stop the server cleanly (open watch\n"
          "streams end with UNAVAILABLE, unix socket files are removed).\n",
          log::kLevelSignalsHelp));
}

std::string Describe(const Config& c) {
  return absl::StrCat(
      "listen_on=[", absl::StrJoin(c.listen_on, ","), "] proxy_registry_url=\"",
      c.proxy_registry_url, "\" expire_period=", absl::FormatDuration(c.expire_period),
      " log_level=", log::LevelName(c.log_level), " log_format=", log::FormatName(c.log_format),
      " metrics_listen_on=\"", c.metrics_listen_on, "\"");
}

}  // namespace nsm::reg::registry_memory
