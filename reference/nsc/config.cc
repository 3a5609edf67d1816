#include "reference/nsc/config.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/callback_threads.h"
#include "core/malloc_tuning.h"
#include "core/metrics/metrics.h"

namespace nsm::nsc {

const std::vector<reference::Variable>& Variables() {
  static const auto* vars = new std::vector<reference::Variable>{
      {"NSM_NAME", "string", "nsc", "name of this client: its path segment, ids <name>-<i>"},
      {"NSM_CONNECT_TO", "URL", "unix:///var/lib/networkservicemesh/nsm.io.sock",
       "the nsmgr to request from"},
      {"NSM_NETWORK_SERVICES", "list of URL", "",
       "the requests, comma-separated: <mechanism>://<service>[/<interface>][?label=value&...], "
       "e.g. kernel://icmp-responder/nsm-1?app=a"},
      {"NSM_LABELS", "map", "",
       "labels of every request, key=value pairs separated by commas (key:value also accepted); "
       "a URL's labels override them"},
      {"NSM_DIAL_TIMEOUT", "duration", "5s", "how long to wait for the nsmgr's connection"},
      {"NSM_REQUEST_TIMEOUT", "duration", "15s",
       "time for each request, retries included (every 200 ms, doubling up to 5 s)"},
      {"NSM_MAX_TOKEN_LIFETIME", "duration", "10m",
       "lifetime of the path tokens this client issues"},
      {"NSM_MECHANISM", "string", "kernel",
       "accepted for compatibility; each URL's scheme names its mechanism"},
      {"NSM_OUTPUT", "string", "text",
       "how connections are printed on stdout: text, or json (one object per line)"},
      reference::FromShared(env::LogLevelVariable("NSM_LOG_LEVEL")),
      reference::FromShared(env::LogFormatVariable("NSM_LOG_FORMAT")),
      reference::FromShared(malloc_tuning::HelpRow()),
      reference::FromShared(callback_threads::HelpRow()),
      {"NSM_METRICS_LISTEN_ON", metrics::ListenOnVariable().type,
       metrics::ListenOnVariable().default_value, metrics::ListenOnVariable().description},
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
  o.nsmgr_url = env.Url("NSM_CONNECT_TO", /*listen=*/false, /*optional=*/false);
  for (const auto& text : env.List("NSM_NETWORK_SERVICES")) {
    auto u = api::ParseNscRequestUrl(text);
    if (!u.ok()) {
      env.Fail("NSM_NETWORK_SERVICES", u.status().message());
      break;
    }
    o.network_services.push_back(*u);
  }
  if (env.status().ok() && o.network_services.empty()) {
    env.Fail("NSM_NETWORK_SERVICES", "at least one network service URL is needed");
  }
  o.labels = env.Labels("NSM_LABELS");
  o.dial_timeout = env.Duration("NSM_DIAL_TIMEOUT");
  o.request_timeout = env.Duration("NSM_REQUEST_TIMEOUT");
  if (env.status().ok() && o.request_timeout <= absl::ZeroDuration()) {
    env.Fail("NSM_REQUEST_TIMEOUT", "must be longer than 0");
  }
  o.max_token_lifetime = env.Duration("NSM_MAX_TOKEN_LIFETIME");
  if (env.status().ok() && o.max_token_lifetime <= absl::ZeroDuration()) {
    env.Fail("NSM_MAX_TOKEN_LIFETIME", "must be longer than 0");
  }
  const std::string mechanism = absl::AsciiStrToLower(env.String("NSM_MECHANISM"));
  if (env.status().ok() && mechanism != "kernel" && mechanism != "vfio" && mechanism != "memif" &&
      mechanism != "noop") {
    env.Fail("NSM_MECHANISM", "want kernel, vfio, memif or noop");
  }
  const std::string output = absl::AsciiStrToLower(env.String("NSM_OUTPUT"));
  if (output == "json") {
    c.output = Output::kJson;
  } else if (output != "text" && env.status().ok()) {
    env.Fail("NSM_OUTPUT", "want text or json");
  }
  c.log_level = env.LogLevel("NSM_LOG_LEVEL");
  c.log_format = env.LogFormat("NSM_LOG_FORMAT");
  c.spiffe_endpoint_socket = env.String("SPIFFE_ENDPOINT_SOCKET");
  if (auto listen = metrics::NormalizeListenOn(env.String("NSM_METRICS_LISTEN_ON")); listen.ok()) {
    c.metrics_listen_on = *listen;
  } else if (env.status().ok()) {
    env.Fail("NSM_METRICS_LISTEN_ON", listen.status().message());
  }
  if (!env.status().ok()) return env.status();
  return c;
}

std::string HelpText() {
  return reference::HelpText(
      "nsc: the NSM reference network service client, control plane only. It requests each of\n"
      "NSM_NETWORK_SERVICES from its nsmgr, prints every connection (path, mechanism,\n"
      "addresses) on stdout, then holds them until a signal and closes them.\n\n"
      "Usage: nsc [--once] [--output=text|json] [--help]\n"
      "  --once          close the connections and exit after printing them\n"
      "  --output=FORMAT text or json; overrides NSM_OUTPUT\n",
      Variables(),
      absl::StrCat(
          "\nExit status: 0 when every request succeeded (and every close with --once), 1 when\n"
          "a request failed (the connections made are closed first), 2 for bad arguments.\n"
          "Signals: SIGTERM, SIGINT, SIGHUP and SIGQUIT close the connections and stop.\n",
          log::kLevelSignalsHelp));
}

std::string Describe(const Config& c) {
  const Options& o = c.options;
  std::vector<std::string> services;
  for (const auto& u : o.network_services) {
    services.push_back(absl::StrCat(u.mechanism_type, ":", u.network_service));
  }
  return absl::StrCat(
      "name=", o.name, " connect_to=", o.nsmgr_url, " network_services=[",
      absl::StrJoin(services, ","), "] dial_timeout=", absl::FormatDuration(o.dial_timeout),
      " request_timeout=", absl::FormatDuration(o.request_timeout),
      " output=", c.output == Output::kJson ? "json" : "text",
      " log_level=", log::LevelName(c.log_level), " log_format=", log::FormatName(c.log_format),
      " metrics_listen_on=\"", c.metrics_listen_on, "\"");
}

}  // namespace nsm::nsc
