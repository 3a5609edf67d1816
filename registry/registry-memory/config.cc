#include "registry/registry-memory/config.h"

#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "api/nsm_url.h"

namespace nsm::reg::registry_memory {
namespace {

constexpr char kOldPrefix[] = "REGISTRY_MEMORY_";
constexpr char kNewPrefix[] = "NSM_";

// A value read from the environment, with the variable it came from.
struct Raw {
  std::string variable;  // e.g. NSM_LISTEN_ON, or the variable's name when unset
  std::string value;
  bool set = false;
};

absl::Status Invalid(const Raw& raw, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat(raw.variable, "=\"", raw.value, "\" is invalid: ", why));
}

absl::StatusOr<Raw> Read(const Getenv& getenv, const Variable& v) {
  Raw raw;
  if (!v.prefixed) {
    raw.variable = v.name;
    if (auto value = getenv(v.name)) {
      raw.value = *value;
      raw.set = true;
    } else {
      raw.value = v.default_value;
    }
    return raw;
  }
  const std::string old_name = absl::StrCat(kOldPrefix, v.name);
  const std::string new_name = absl::StrCat(kNewPrefix, v.name);
  auto old_value = getenv(old_name);
  auto new_value = getenv(new_name);
  if (old_value && new_value && *old_value != *new_value) {
    return absl::InvalidArgumentError(absl::StrCat(new_name, "=\"", *new_value, "\" and ", old_name,
                                                   "=\"", *old_value,
                                                   "\" disagree: set only one of them"));
  }
  if (new_value) {
    raw = Raw{new_name, *new_value, true};
  } else if (old_value) {
    raw = Raw{old_name, *old_value, true};
  } else {
    raw = Raw{new_name, v.default_value, false};
  }
  return raw;
}

absl::StatusOr<absl::Duration> ParseDuration(const Raw& raw) {
  absl::Duration d;
  if (raw.value.empty()) return absl::ZeroDuration();
  if (!absl::ParseDuration(raw.value, &d) || d == absl::InfiniteDuration() ||
      d == -absl::InfiniteDuration()) {
    return Invalid(raw, "want a duration such as 30s, 1m or 1h30m");
  }
  return d;
}

absl::StatusOr<bool> ParseBool(const Raw& raw) {
  static const char* kTrue[] = {"1", "t", "T", "TRUE", "true", "True"};
  static const char* kFalse[] = {"0", "f", "F", "FALSE", "false", "False"};
  for (const char* t : kTrue) {
    if (raw.value == t) return true;
  }
  for (const char* f : kFalse) {
    if (raw.value == f) return false;
  }
  return Invalid(raw, "want true or false");
}

absl::StatusOr<std::string> ParseUrl(const Raw& raw, bool listen) {
  auto url = api::ParseNsmUrl(raw.value);
  if (!url.ok()) return Invalid(raw, url.status().message());
  auto target = listen ? url->GrpcListenAddress() : url->GrpcDialTarget();
  if (!target.ok()) return Invalid(raw, target.status().message());
  return url->ToString();
}

}  // namespace

const std::vector<Variable>& Variables() {
  static const auto* vars = new std::vector<Variable>{
      {"LISTEN_ON", true, "list of URL", "unix:///listen.on.socket",
       "URLs to listen on, comma-separated: unix:///path/to.sock or tcp://host:port (tcp://:5002 "
       "= every address)"},
      {"PROXY_REGISTRY_URL", true, "URL", "",
       "registry proxy (e.g. registry-proxy-dns) for inter-domain name@domain entries; empty: "
       "inter-domain calls fail with FAILED_PRECONDITION"},
      {"EXPIRE_PERIOD", true, "duration", "1m",
       "longest lifetime of an endpoint registration: expiration_time is capped at now + this "
       "(NSM v1.1.1 declared this variable, default 1s, without using it, and hard-coded 1m)"},
      {"LOG_LEVEL", true, "string", "INFO", "panic, fatal, error, warn, info, debug or trace"},
      {"MAX_TOKEN_LIFETIME", true, "duration", "10m", "accepted for compatibility, not used yet"},
      {"OPEN_TELEMETRY_ENDPOINT", true, "string",
       "otel-collector.observability.svc.cluster.local:4317",
       "accepted for compatibility, not used yet"},
      {"METRICS_EXPORT_INTERVAL", true, "duration", "10s",
       "accepted for compatibility, not used yet"},
      {"REGISTRY_SERVER_POLICIES", true, "list of string",
       "etc/nsm/opa/common/.*.rego,etc/nsm/opa/registry/.*.rego,etc/nsm/opa/server/.*.rego",
       "accepted for compatibility, not used yet"},
      {"REGISTRY_CLIENT_POLICIES", true, "list of string",
       "etc/nsm/opa/common/.*.rego,etc/nsm/opa/registry/.*.rego,etc/nsm/opa/client/.*.rego",
       "accepted for compatibility, not used yet"},
      {"PPROF_ENABLED", true, "bool", "false", "accepted for compatibility, not used yet"},
      {"PPROF_LISTEN_ON", true, "string", "localhost:6060",
       "accepted for compatibility, not used yet"},
      {"SPIFFE_ENDPOINT_SOCKET", false, "string", "",
       "SPIFFE Workload API socket; mTLS is not implemented yet: the registry serves plaintext "
       "gRPC and logs a warning saying so"},
      {"TRACER_ENABLED", false, "bool", "true", "accepted for compatibility, not used yet"},
      {"TELEMETRY", false, "bool", "false", "accepted for compatibility, not used yet"},
  };
  return *vars;
}

Getenv ProcessEnvironment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

absl::StatusOr<Config> ParseConfig(const Getenv& getenv) {
  Config c;
  for (const auto& v : Variables()) {
    auto raw = Read(getenv, v);
    if (!raw.ok()) return raw.status();
    const std::string name = v.name;
    const std::string type = v.type;
    if (name == "LISTEN_ON") {
      if (raw->value.empty()) return Invalid(*raw, "no URL to listen on");
      for (absl::string_view item : absl::StrSplit(raw->value, ',')) {
        Raw one{raw->variable, std::string(item), true};
        if (item.empty()) return Invalid(*raw, "empty item in the list");
        auto url = ParseUrl(one, /*listen=*/true);
        if (!url.ok()) return Invalid(*raw, url.status().message());
        c.listen_on.push_back(*url);
      }
    } else if (name == "PROXY_REGISTRY_URL") {
      if (!raw->value.empty()) {
        auto url = ParseUrl(*raw, /*listen=*/false);
        if (!url.ok()) return url.status();
        c.proxy_registry_url = *url;
      }
    } else if (name == "EXPIRE_PERIOD") {
      auto d = ParseDuration(*raw);
      if (!d.ok()) return d.status();
      if (*d <= absl::ZeroDuration()) return Invalid(*raw, "must be longer than 0");
      c.expire_period = *d;
    } else if (name == "LOG_LEVEL") {
      auto level = log::ParseLevel(raw->value);
      if (!level.ok()) return Invalid(*raw, level.status().message());
      c.log_level = *level;
    } else if (name == "SPIFFE_ENDPOINT_SOCKET") {
      c.spiffe_endpoint_socket = raw->value;
    } else if (type == "duration") {
      auto d = ParseDuration(*raw);
      if (!d.ok()) return d.status();
      if (*d < absl::ZeroDuration()) return Invalid(*raw, "must not be negative");
      if (name == "MAX_TOKEN_LIFETIME") c.max_token_lifetime = *d;
    } else if (type == "bool") {
      if (auto b = ParseBool(*raw); !b.ok()) return b.status();
    }
  }
  return c;
}

std::string HelpText() {
  std::string out =
      "registry-memory: the NSM registry (network services and endpoints in memory, watch\n"
      "streams, expiry, inter-domain proxying), serving registry.NetworkServiceRegistry,\n"
      "registry.NetworkServiceEndpointRegistry and grpc.health.v1.Health.\n\n"
      "Usage: registry-memory [--help]\n\n"
      "Configuration comes from the environment. Most variables have two names: NSM_<NAME>\n"
      "(current NSM) and REGISTRY_MEMORY_<NAME> (NSM v1.1.1); if both are set they must agree.\n"
      "The default applies when a variable is unset; set to \"\" it means the empty value.\n"
      "Invalid values stop the start-up with a message naming the variable.\n\n"
      "Environment variables:\n";
  for (const auto& v : Variables()) {
    std::string names =
        v.prefixed ? absl::StrCat(kNewPrefix, v.name, ", ", kOldPrefix, v.name) : v.name;
    std::string def = *v.default_value ? v.default_value : "(empty)";
    absl::StrAppend(&out, "  ", names, "\n      type ", v.type, ", default ", def, "\n      ",
                    v.description, "\n");
  }
  absl::StrAppend(&out,
                  "\nSignals: SIGTERM, SIGINT, SIGHUP and SIGQUIT stop the server cleanly (open "
                  "watch\nstreams end with UNAVAILABLE, unix socket files are removed).\n");
  return out;
}

std::string Describe(const Config& c) {
  return absl::StrCat("listen_on=[", absl::StrJoin(c.listen_on, ","), "] proxy_registry_url=\"",
                      c.proxy_registry_url,
                      "\" expire_period=", absl::FormatDuration(c.expire_period),
                      " log_level=", log::LevelName(c.log_level));
}

}  // namespace nsm::reg::registry_memory
