#include "reference/forwarder/config.h"

#include <cctype>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/callback_threads.h"
#include "core/malloc_tuning.h"
#include "core/metrics/metrics.h"

namespace nsm::forwarder {

const std::vector<reference::Variable>& Variables() {
  static const auto* vars = new std::vector<reference::Variable>{
      {"NSM_NAME", "string", "forwarder",
       "name of this forwarder: its path segment name and registered endpoint name"},
      {"NSM_LISTEN_ON", "URL", "unix:///listen.on.socket",
       "URL to serve NetworkService, MonitorConnection and health on, and to register: "
       "unix:///path or tcp://host:port"},
      {"NSM_CONNECT_TO", "URL", "unix:///connect.to.socket",
       "the nsmgr: where this forwarder registers and looks network service endpoints up"},
      {"NSM_NSNAME",
       "string",
       "forwarder",
       "network service this forwarder registers under (the nsmgr's "
       "NSM_FORWARDER_NETWORK_SERVICE_NAME)",
       {"NSM_FORWARDER_NETWORK_SERVICE_NAME"}},
      {"NSM_LABELS", "map", "p2p:true",
       "labels of the registration, key:value pairs separated by commas (key=value also "
       "accepted); setting it replaces the default p2p:true, as in cmd-forwarder-vpp"},
      {"NSM_DIAL_TIMEOUT", "duration", "750ms",
       "how long to wait for the next hop's connection (cmd-forwarder-vpp v1.1.1 had 50ms)"},
      {"NSM_MAX_TOKEN_LIFETIME", "duration", "10m", "lifetime of the path tokens this hop issues"},
      {"NSM_FIBERS", "bool", "true",
       "run each NetworkService call on a fiber that parks while it waits for the next hop; "
       "false: each call holds a worker thread until it ends (not in cmd-forwarder-vpp)"},
      {"NSM_TUNNEL_IP", "IP", "",
       "this node's tunnel end; empty: no remote (VXLAN, WireGuard) mechanism is accepted or "
       "offered"},
      {"NSM_VXLAN_PORT", "uint16", "4789",
       "VXLAN UDP port announced as src_port/dst_port (0 = 4789)"},
      {"NSM_WIREGUARD_PUBLIC_KEY", "string", "",
       "base64 WireGuard public key to announce; empty: WireGuard is off (needs NSM_TUNNEL_IP)"},
      {"NSM_WIREGUARD_PORT", "uint16", "51820", "WireGuard UDP port announced"},
      {"NSM_VLAN_IDS", "range", "",
       "VLAN ids this forwarder hands out for remote VLAN, e.g. 100-199; empty: VLAN is off"},
      {"NSM_LOCAL_MECHANISMS", "list of string", "KERNEL,MEMIF",
       "LOCAL mechanism types accepted from the nsmgr and offered to local endpoints"},
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
  c.listen_on = env.Url("NSM_LISTEN_ON", /*listen=*/true, /*optional=*/false);
  o.nsmgr_url = env.Url("NSM_CONNECT_TO", /*listen=*/false, /*optional=*/false);
  o.service_name = env.String("NSM_NSNAME");
  if (env.status().ok() && o.service_name.empty()) {
    env.Fail("NSM_NSNAME", "the service name must not be empty");
  }
  o.labels = env.Labels("NSM_LABELS");
  o.dial_timeout = env.Duration("NSM_DIAL_TIMEOUT");
  o.fibers = env.Bool("NSM_FIBERS");
  o.max_token_lifetime = env.Duration("NSM_MAX_TOKEN_LIFETIME");
  if (env.status().ok() && o.max_token_lifetime <= absl::ZeroDuration()) {
    env.Fail("NSM_MAX_TOKEN_LIFETIME", "must be longer than 0");
  }

  MechanismOptions& m = o.mechanisms;
  m.tunnel_ip = env.Ip("NSM_TUNNEL_IP", /*optional=*/true);
  m.vxlan_port = static_cast<uint16_t>(env.Uint("NSM_VXLAN_PORT", 0, 65535));
  if (m.vxlan_port == 0) m.vxlan_port = 4789;
  m.wireguard.public_key = env.String("NSM_WIREGUARD_PUBLIC_KEY");
  m.wireguard.enabled = !m.wireguard.public_key.empty();
  m.wireguard.port = static_cast<uint16_t>(env.Uint("NSM_WIREGUARD_PORT", 1, 65535));
  if (env.status().ok() && m.wireguard.enabled) {
    if (m.tunnel_ip.empty()) {
      env.Fail("NSM_WIREGUARD_PUBLIC_KEY", "WireGuard needs NSM_TUNNEL_IP");
    } else if (!Validate(m).ok()) {
      env.Fail("NSM_WIREGUARD_PUBLIC_KEY", "not base64 of a 32-byte key");
    }
  }
  const std::string vlan = env.String("NSM_VLAN_IDS");
  if (env.status().ok() && !vlan.empty()) {
    std::vector<std::string> parts = absl::StrSplit(vlan, '-');
    uint32_t first = 0, last = 0;
    if (parts.size() == 1) parts.push_back(parts[0]);
    if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &first) ||
        !absl::SimpleAtoi(parts[1], &last) || first < 1 || last > 4094 || first > last) {
      env.Fail("NSM_VLAN_IDS", "want a range such as 100-199 within 1-4094");
    } else {
      m.vlan = {.enabled = true,
                .first_id = static_cast<uint16_t>(first),
                .last_id = static_cast<uint16_t>(last)};
    }
  }
  m.local = env.List("NSM_LOCAL_MECHANISMS");
  for (auto& type : m.local) {
    for (char& ch : type) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  }
  if (env.status().ok()) {
    MechanismOptions local_only;
    local_only.local = m.local;
    if (absl::Status s = Validate(local_only); !s.ok())
      env.Fail("NSM_LOCAL_MECHANISMS", s.message());
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
  if (absl::Status s = Validate(m); !s.ok()) return absl::InvalidArgumentError(s.message());
  return c;
}

std::string HelpText() {
  return reference::HelpText(
      "forwarder: the NSM reference forwarder, control plane only (no data plane). It finds the\n"
      "endpoint of each request in its nsmgr's registry, accepts the caller's LOCAL mechanism,\n"
      "and connects to the next hop: a local endpoint with KERNEL/MEMIF, or another node's nsmgr\n"
      "with VXLAN (WireGuard, VLAN when configured), announcing its tunnel parameters. It serves\n"
      "networkservice.NetworkService, connection.MonitorConnection and grpc.health.v1, and\n"
      "registers with its nsmgr as an endpoint of NSM_NSNAME.\n\n"
      "Usage: forwarder [--help]\n",
      Variables(),
      absl::StrCat(
          "\nSignals: SIGTERM, SIGINT, SIGHUP and SIGQUIT unregister the forwarder and stop it.\n",
          log::kLevelSignalsHelp));
}

std::string Describe(const Config& c) {
  const Options& o = c.options;
  std::vector<std::string> labels;
  for (const auto& [k, v] : o.labels) labels.push_back(absl::StrCat(k, ":", v));
  return absl::StrCat(
      "name=", o.name, " listen_on=", c.listen_on, " connect_to=", o.nsmgr_url,
      " nsname=", o.service_name, " labels=[", absl::StrJoin(labels, ","), "]",
      " dial_timeout=", absl::FormatDuration(o.dial_timeout),
      " max_token_lifetime=", absl::FormatDuration(o.max_token_lifetime),
      " fibers=", o.fibers ? "true" : "false",
      " tunnel_ip=", o.mechanisms.tunnel_ip.empty() ? "(none)" : o.mechanisms.tunnel_ip,
      " vxlan_port=", o.mechanisms.vxlan_port,
      " wireguard=", o.mechanisms.wireguard.enabled ? "on" : "off", " vlan=",
      o.mechanisms.vlan.enabled
          ? absl::StrCat(o.mechanisms.vlan.first_id, "-", o.mechanisms.vlan.last_id)
          : "off",
      " local_mechanisms=[", absl::StrJoin(o.mechanisms.local, ","), "]",
      " log_level=", log::LevelName(c.log_level), " log_format=", log::FormatName(c.log_format),
      " metrics_listen_on=\"", c.metrics_listen_on, "\"");
}

}  // namespace nsm::forwarder
