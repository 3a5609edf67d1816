#include "nsmgr/config.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "api/nsm_url.h"
#include "core/callback_threads.h"
#include "core/malloc_tuning.h"
#include "core/metrics/metrics.h"

namespace nsm::nsmgr {
namespace {

const std::vector<std::string> kPrefixes = {"NSM_"};
constexpr char kUnused[] = "accepted for compatibility, not used yet";

}  // namespace

const std::vector<env::Variable>& Variables() {
  static const auto* vars = new std::vector<env::Variable>{
      {"NAME", "string", "nsmgr-<hostname>",
       "the manager's name: its path segment name and log name; unique per node (NSM v1.1.1's "
       "default was \"nmgr\")"},
      {"LISTEN_ON", "list of URL", "unix:///var/lib/networkservicemesh/nsm.io.sock",
       "URLs to listen on, comma-separated: unix:///path or tcp://host:port. The first tcp URL "
       "(else the first URL) is the public URL local endpoints are published with; tcp://:port "
       "publishes the first non-loopback IPv4 address"},
      {"REGISTRY_URL", "URL", "tcp://localhost:5001",
       "the domain registry (registry-memory); empty: no registry (network services kept here, "
       "endpoints only local)"},
      {"MAX_TOKEN_LIFETIME", "duration", "10m", "lifetime of the tokens this nsmgr issues"},
      {"DIAL_TIMEOUT", "duration", "750ms",
       "how long to wait for a forwarder or remote nsmgr to accept a connection, apart from the "
       "request deadline (v1.1.1: 100ms, later NSM: 750ms)"},
      {"RESTART_GRACE", "duration", "20s",
       "for this long after the start, a refresh, heal or Close of an established connection "
       "waits until the forwarder and local endpoint named in its path have registered again, so "
       "a restart keeps live data paths; 0 turns it off (not in NSM)"},
      {"FIBERS", "bool", "true",
       "run each NetworkService call on a fiber that parks while it waits for the next hop; false: "
       "each call holds a worker thread until it ends (not in NSM)"},
      {"FORWARDER_NETWORK_SERVICE_NAME", "string", "forwarder",
       "the network service forwarders register for"},
      {"FORWARDER_POLICY", "string", "registration-order",
       "order among the forwarders a connection may use: registration-order (as NSM) or "
       "least-connections"},
      {"EXCLUDED_PREFIXES_FILE", "string",
       "/var/lib/networkservicemesh/config/excluded_prefixes.yaml",
       "YAML file with `prefixes:` (CIDRs) added to every connection's excluded prefixes; "
       "reloaded when it changes; missing = none"},
      env::LogLevelVariable("LOG_LEVEL"),
      env::LogFormatVariable("LOG_FORMAT"),
      malloc_tuning::HelpRow(),
      callback_threads::HelpRow(),
      metrics::ListenOnVariable(),
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
      {"NODE_NAME", "string", "", "label nodeName of incoming connections and registrations",
       false},
      {"POD_NAME", "string", "", "label podName of incoming connections and registrations", false},
      {"CLUSTER_NAME", "string", "", "label clusterName of incoming connections and registrations",
       false},
      {"SPIFFE_ENDPOINT_SOCKET", "string", "",
       "SPIFFE Workload API socket; mTLS is not implemented yet: the nsmgr serves plaintext gRPC "
       "and logs a warning saying so",
       false},
      {"TRACER_ENABLED", "bool", "true", kUnused, false},
      {"TELEMETRY", "bool", "false", kUnused, false},
  };
  return *vars;
}

absl::StatusOr<Config> ParseConfig(const env::Getenv& getenv, const std::string& hostname) {
  env::Reader reader(getenv, kPrefixes);
  Config c;
  for (const auto& v : Variables()) {
    auto raw = reader.Read(v);
    if (!raw.ok()) return raw.status();
    const std::string name = v.name;
    const std::string type = v.type;
    if (name == "NAME") {
      c.name = raw->set ? raw->value : absl::StrCat("nsmgr-", hostname);
      if (c.name.empty()) return env::Invalid(*raw, "the name must not be empty");
    } else if (name == "LISTEN_ON") {
      auto urls = env::ParseUrlList(*raw, /*listen=*/true);
      if (!urls.ok()) return urls.status();
      c.listen_on = *urls;
    } else if (name == "REGISTRY_URL") {
      if (!raw->value.empty()) {
        auto url = env::ParseUrl(*raw, /*listen=*/false);
        if (!url.ok()) return url.status();
        c.registry_url = *url;
      }
    } else if (name == "MAX_TOKEN_LIFETIME" || name == "DIAL_TIMEOUT") {
      auto d = env::ParseDuration(*raw);
      if (!d.ok()) return d.status();
      if (*d <= absl::ZeroDuration()) return env::Invalid(*raw, "must be longer than 0");
      (name == "DIAL_TIMEOUT" ? c.dial_timeout : c.max_token_lifetime) = *d;
    } else if (name == "RESTART_GRACE") {
      auto d = env::ParseDuration(*raw);
      if (!d.ok()) return d.status();
      if (*d < absl::ZeroDuration()) return env::Invalid(*raw, "must not be negative");
      c.restart_grace = *d;
    } else if (name == "FIBERS") {
      auto b = env::ParseBool(*raw);
      if (!b.ok()) return b.status();
      c.fibers = *b;
    } else if (name == "FORWARDER_NETWORK_SERVICE_NAME") {
      if (raw->value.empty()) return env::Invalid(*raw, "the service name must not be empty");
      c.forwarder_service_name = raw->value;
    } else if (name == "FORWARDER_POLICY") {
      if (raw->value != "registration-order" && raw->value != "least-connections") {
        return env::Invalid(*raw, "want registration-order or least-connections");
      }
      c.forwarder_policy = raw->value;
    } else if (name == "EXCLUDED_PREFIXES_FILE") {
      c.excluded_prefixes_file = raw->value;
    } else if (name == "LOG_LEVEL") {
      auto level = log::ParseLevel(raw->value);
      if (!level.ok()) return env::Invalid(*raw, level.status().message());
      c.log_level = *level;
    } else if (name == "LOG_FORMAT") {
      auto format = log::ParseFormat(raw->value);
      if (!format.ok()) return env::Invalid(*raw, format.status().message());
      c.log_format = *format;
    } else if (name == metrics::ListenOnVariable().name) {
      auto listen = metrics::ParseListenOn(*raw);
      if (!listen.ok()) return listen.status();
      c.metrics_listen_on = *listen;
    } else if (name == "SPIFFE_ENDPOINT_SOCKET") {
      c.spiffe_endpoint_socket = raw->value;
    } else if (type == "duration") {
      auto d = env::ParseDuration(*raw);
      if (!d.ok()) return d.status();
      if (*d < absl::ZeroDuration()) return env::Invalid(*raw, "must not be negative");
    } else if (type == "bool") {
      if (auto b = env::ParseBool(*raw); !b.ok()) return b.status();
    }
  }
  return c;
}

std::string HelpText() {
  return env::HelpText(
      "nsmgr: the NSM network service manager of a node. Serves networkservice.NetworkService "
      "(forwarder\nselection, connect), connection.MonitorConnection, "
      "registry.NetworkServiceRegistry and\nregistry.NetworkServiceEndpointRegistry (local "
      "endpoints and forwarders, forwarded to the\ndomain registry) and grpc.health.v1.Health.\n\n"
      "Usage: nsmgr [--help]\n\n"
      "Configuration comes from the environment. The default applies when a variable is unset;\n"
      "set to \"\" it means the empty value. Invalid values stop the start-up with a message "
      "naming\nthe variable.\n",
      Variables(), kPrefixes,
      absl::StrCat("\nSignals: SIGTERM, SIGINT, SIGHUP and SIGQUIT stop the nsmgr cleanly (monitor "
                   "and watch\n"
                   "streams end with UNAVAILABLE, unix socket files are removed).\n",
                   log::kLevelSignalsHelp));
}

std::string Describe(const Config& c) {
  return absl::StrCat(
      "name=", c.name, " listen_on=[", absl::StrJoin(c.listen_on, ","), "] registry_url=\"",
      c.registry_url, "\" max_token_lifetime=", absl::FormatDuration(c.max_token_lifetime),
      " dial_timeout=", absl::FormatDuration(c.dial_timeout),
      " restart_grace=", absl::FormatDuration(c.restart_grace),
      " fibers=", c.fibers ? "true" : "false", " forwarder_service=", c.forwarder_service_name,
      " forwarder_policy=", c.forwarder_policy, " excluded_prefixes_file=\"",
      c.excluded_prefixes_file, "\" log_level=", log::LevelName(c.log_level),
      " log_format=", log::FormatName(c.log_format), " metrics_listen_on=\"", c.metrics_listen_on,
      "\"");
}

absl::StatusOr<std::string> PublicUrl(const std::vector<std::string>& listen_on,
                                      const std::string& host_ip) {
  if (listen_on.empty()) return absl::InvalidArgumentError("no URL to listen on");
  std::optional<api::NsmUrl> chosen;
  for (const auto& u : listen_on) {
    auto url = api::ParseNsmUrl(u);
    if (!url.ok()) return url.status();
    if (url->scheme == api::NsmUrl::Scheme::kTcp) {
      chosen = *url;
      break;
    }
    if (!chosen) chosen = *url;
  }
  if (chosen->scheme == api::NsmUrl::Scheme::kTcp &&
      (chosen->host.empty() || chosen->host == "0.0.0.0" || chosen->host == "::")) {
    if (host_ip.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot publish ", chosen->ToString(),
          ": no non-loopback IPv4 address on this machine; give a host in NSM_LISTEN_ON"));
    }
    chosen->host = host_ip;
  }
  return chosen->ToString();
}

std::string FirstNonLoopbackIPv4() {
  struct ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return "";
  std::string found;
  for (auto* a = list; a != nullptr && found.empty(); a = a->ifa_next) {
    if (a->ifa_addr == nullptr || a->ifa_addr->sa_family != AF_INET) continue;
    if ((a->ifa_flags & IFF_UP) == 0 || (a->ifa_flags & IFF_LOOPBACK) != 0) continue;
    char buf[INET_ADDRSTRLEN];
    const auto* in = reinterpret_cast<const sockaddr_in*>(a->ifa_addr);
    if (inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf) != nullptr) found = buf;
  }
  freeifaddrs(list);
  return found;
}

}  // namespace nsm::nsmgr
