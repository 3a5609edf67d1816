#include "reference/nsc/nsc.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "api/path.h"
#include "networkservice/clienturl/client.h"
#include "networkservice/connect/client.h"
#include "networkservice/connect/dial.h"
#include "nlohmann/json.hpp"
#include "registry/retry/backoff.h"

namespace nsm::nsc {

absl::StatusOr<std::shared_ptr<client::Client>> NewClient(const Options& o) {
  if (!o.credentials) {
    return absl::InvalidArgumentError(
        "nsc: no credentials given (MakeInsecureCredentials() for insecure mode)");
  }
  auto url = api::ParseNsmUrl(o.nsmgr_url);
  if (!url.ok()) return url.status();
  std::shared_ptr<const TokenGenerator> tokens =
      o.tokens ? o.tokens
               : NewInsecureTokenGenerator(o.name, o.max_token_lifetime,
                                           o.clock ? o.clock : RealClock());
  auto channels = connect::ChannelPool::Create(o.credentials->ChannelCredentials(),
                                               {.clock = o.clock ? o.clock : RealClock()});
  return client::NewClient(tokens,
                           {.name = o.name,
                            .refresh = o.refresh,
                            .client_url = clienturl::NewClient(*url),
                            .heal = o.heal,
                            .dial = connect::NewDial(channels, {.dial_timeout = o.dial_timeout}),
                            .additional = o.additional,
                            .connect = connect::NewClient(),
                            .pool = o.pool});
}

NetworkServiceRequest MakeRequest(const Options& o, size_t i) {
  const api::NscRequestUrl& u = o.network_services.at(i);
  NetworkServiceRequest r;
  Connection& conn = *r.mutable_connection();
  conn.set_id(absl::StrCat(o.name, "-", i));
  conn.set_network_service(u.network_service);
  auto& labels = *conn.mutable_labels();
  for (const auto& [k, v] : o.labels) labels[k] = v;
  for (const auto& [k, v] : u.labels) labels[k] = v;
  *r.add_mechanism_preferences() = u.ToMechanism();
  return r;
}

absl::StatusOr<Connection> RequestWithRetry(NetworkServiceClient& client, const Context& ctx,
                                            const NetworkServiceRequest& request,
                                            absl::Duration timeout) {
  auto [bounded, cancel] = ctx.WithTimeout(timeout);
  reg::retry::Backoff backoff;
  absl::Status last;
  int attempts = 0;
  while (true) {
    ++attempts;
    NetworkServiceRequest attempt = request;
    auto conn = client.Request(bounded, attempt, ClientNext(), {});
    if (conn.ok()) {
      cancel();
      return conn;
    }
    last = conn.status();
    if (!reg::retry::Retryable(last) || bounded.cancelled()) break;
    if (!reg::retry::WaitFor(bounded, backoff.Next()).ok()) break;
  }
  cancel();
  return absl::Status(last.code(), absl::StrCat(last.message(), " (", attempts, " attempt",
                                                attempts == 1 ? "" : "s", " within ",
                                                absl::FormatDuration(timeout), ")"));
}

std::string ToJson(const Connection& c) {
  nlohmann::json j;
  j["id"] = c.id();
  j["network_service"] = c.network_service();
  j["network_service_endpoint_name"] = c.network_service_endpoint_name();
  j["payload"] = c.payload();
  j["state"] = ::connection::State_Name(c.state());
  j["labels"] = nlohmann::json::object();
  for (const auto& [k, v] : c.labels()) j["labels"][k] = v;
  j["path"] = nlohmann::json::array();
  for (const auto& s : c.path().path_segments()) {
    nlohmann::json seg = {{"name", s.name()}, {"id", s.id()}};
    if (s.has_expires()) seg["expires"] = absl::FormatTime(api::FromProtoTimestamp(s.expires()));
    j["path"].push_back(seg);
  }
  j["path_index"] = c.path().index();
  nlohmann::json m = {{"cls", c.mechanism().cls()},
                      {"type", c.mechanism().type()},
                      {"parameters", nlohmann::json::object()}};
  for (const auto& [k, v] : c.mechanism().parameters()) m["parameters"][k] = v;
  j["mechanism"] = m;
  const auto& ip = c.context().ip_context();
  j["src_ip_addrs"] = std::vector<std::string>(ip.src_ip_addrs().begin(), ip.src_ip_addrs().end());
  j["dst_ip_addrs"] = std::vector<std::string>(ip.dst_ip_addrs().begin(), ip.dst_ip_addrs().end());
  j["src_routes"] = nlohmann::json::array();
  for (const auto& r : ip.src_routes()) j["src_routes"].push_back(r.prefix());
  j["dst_routes"] = nlohmann::json::array();
  for (const auto& r : ip.dst_routes()) j["dst_routes"].push_back(r.prefix());
  return j.dump();
}

std::string ToText(const Connection& c) {
  std::vector<std::string> hops;
  for (const auto& s : c.path().path_segments())
    hops.push_back(absl::StrCat(s.name(), " (", s.id(), ")"));
  std::vector<std::string> params;
  for (const auto& [k, v] : c.mechanism().parameters()) params.push_back(absl::StrCat(k, "=", v));
  std::sort(params.begin(), params.end());
  std::vector<std::string> labels;
  for (const auto& [k, v] : c.labels()) labels.push_back(absl::StrCat(k, "=", v));
  std::sort(labels.begin(), labels.end());
  const auto& ip = c.context().ip_context();
  std::vector<std::string> routes;
  for (const auto& r : ip.src_routes()) routes.push_back(r.prefix());
  return absl::StrCat(
      "connection ", c.id(), ": network service ", c.network_service(), ", endpoint ",
      c.network_service_endpoint_name().empty() ? "(unknown)" : c.network_service_endpoint_name(),
      ", state ", ::connection::State_Name(c.state()), "\n",
      "  path: ", absl::StrJoin(hops, " -> "), "\n", "  mechanism: ", c.mechanism().cls(), "/",
      c.mechanism().type(), params.empty() ? "" : " ", absl::StrJoin(params, " "), "\n",
      "  labels: ", absl::StrJoin(labels, " "), "\n", "  addresses: this side ",
      absl::StrJoin(ip.src_ip_addrs(), ", "), "; endpoint side ",
      absl::StrJoin(ip.dst_ip_addrs(), ", "), "\n", "  routes: ", absl::StrJoin(routes, ", "),
      "\n");
}

}  // namespace nsm::nsc
