#include "networkservice/discover/server.h"

#include <algorithm>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "api/nsm_url.h"
#include "networkservice/clienturl/clienturl.h"

namespace nsm::discover {

template <class T>
absl::StatusOr<std::vector<typename T::Item>> FindAll(RegistryClient<T>& client, const Context& ctx,
                                                      const typename T::Query& query) {
  auto stream = BufferedFindStream<typename T::Response>::Create(ctx);
  absl::Status s = client.Find(ctx, query, stream, RegistryClientNext<T>(), CallOptions{});
  stream->Finish(s);
  if (!s.ok()) return s;
  std::vector<typename T::Item> items;
  for (auto& response : stream->Drain()) {
    if (response.deleted()) continue;
    if constexpr (std::is_same_v<T, NSTraits>) {
      items.push_back(std::move(*response.mutable_network_service()));
    } else {
      items.push_back(std::move(*response.mutable_network_service_endpoint()));
    }
  }
  return items;
}

template absl::StatusOr<std::vector<NSTraits::Item>> FindAll<NSTraits>(RegistryClient<NSTraits>&,
                                                                       const Context&,
                                                                       const NSTraits::Query&);
template absl::StatusOr<std::vector<NSETraits::Item>> FindAll<NSETraits>(RegistryClient<NSETraits>&,
                                                                         const Context&,
                                                                         const NSETraits::Query&);

Server::Server(std::shared_ptr<NSRegistryClient> ns_registry,
               std::shared_ptr<NSERegistryClient> nse_registry)
    : ns_registry_(std::move(ns_registry)), nse_registry_(std::move(nse_registry)) {}

absl::StatusOr<::registry::NetworkServiceEndpoint> Server::FindEndpoint(const Context& ctx,
                                                                        const std::string& name) {
  ::registry::NetworkServiceEndpointQuery query;
  query.mutable_network_service_endpoint()->set_name(name);
  auto found = FindAll<NSETraits>(*nse_registry_, ctx, query);
  if (!found.ok()) {
    return Annotated(found.status(),
                     absl::StrCat("discover: find network service endpoint ", name));
  }
  for (auto& nse : *found) {
    if (nse.name() == name) return std::move(nse);
  }
  return absl::NotFoundError(absl::StrCat("network service endpoint ", name, " not found"));
}

absl::StatusOr<Connection> Server::Request(const Context& ctx, NetworkServiceRequest& request,
                                           const ServerNext& next) {
  if (clienturl::FromContext(ctx)) return next.Request(ctx, request);
  Connection* conn = request.mutable_connection();

  if (const std::string& pinned = conn->network_service_endpoint_name(); !pinned.empty()) {
    auto nse = FindEndpoint(ctx, pinned);
    // No longer registered: gone as far as this hop can tell, so a heal reselects the endpoint.
    if (!nse.ok() && nse.status().code() == absl::StatusCode::kNotFound) {
      return MarkReportedUnreachable(nse.status(), pinned);
    }
    if (!nse.ok()) return nse.status();
    auto url = api::ParseNsmUrl(nse->url());
    if (!url.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "network service endpoint ", pinned, " has an unusable url: ", url.status().message()));
    }
    return next.Request(clienturl::WithClientUrl(ctx, *std::move(url), pinned), request);
  }

  const std::string& service = conn->network_service();
  if (service.empty()) {
    return absl::InvalidArgumentError(
        "discover: connection.network_service is empty and no "
        "connection.network_service_endpoint_name is pinned");
  }
  ::registry::NetworkServiceQuery ns_query;
  ns_query.mutable_network_service()->set_name(service);
  ns_query.mutable_network_service()->set_payload(conn->payload());
  auto services = FindAll<NSTraits>(*ns_registry_, ctx, ns_query);
  if (!services.ok()) {
    return Annotated(services.status(), absl::StrCat("discover: find network service ", service));
  }
  auto ns = std::find_if(services->begin(), services->end(),
                         [&](const auto& s) { return s.name() == service; });
  if (ns == services->end()) {
    return absl::NotFoundError(absl::StrCat("network service ", service, " is not found"));
  }

  ::registry::NetworkServiceEndpointQuery nse_query;
  nse_query.mutable_network_service_endpoint()->add_network_service_names(service);
  auto nses = FindAll<NSETraits>(*nse_registry_, ctx, nse_query);
  if (!nses.ok()) {
    return Annotated(nses.status(),
                     absl::StrCat("discover: find endpoints of network service ", service));
  }
  // The registry may match names loosely; keep the endpoints that really provide the service.
  std::erase_if(*nses, [&](const auto& nse) {
    const auto& names = nse.network_service_names();
    return std::find(names.begin(), names.end(), service) == names.end();
  });
  MatchResult match = MatchEndpoints(conn->labels(), *ns, *std::move(nses), ctx.clock().Now());
  if (match.endpoints.empty()) {
    return absl::NotFoundError(
        absl::StrCat("network service endpoint candidates not found for network service ", service,
                     ": ", match.why_none));
  }

  conn->set_payload(ns->payload());
  auto candidates = std::make_shared<Candidates>();
  candidates->network_service = std::move(*ns);
  candidates->endpoints = std::move(match.endpoints);
  return next.Request(ctx.WithValue(kCandidatesKey, std::move(candidates)), request);
}

absl::Status Server::Close(const Context& ctx, Connection& conn, const ServerNext& next) {
  if (clienturl::FromContext(ctx)) return next.Close(ctx, conn);
  const std::string& name = conn.network_service_endpoint_name();
  if (name.empty()) return next.Close(ctx, conn);
  // Best effort: a registry failure or a vanished endpoint must not keep the rest of the chain
  // from releasing its state (chain-model.md §3.3 rule 5).
  auto nse = FindEndpoint(ctx, name);
  if (!nse.ok()) return next.Close(ctx, conn);
  auto url = api::ParseNsmUrl(nse->url());
  if (!url.ok()) return next.Close(ctx, conn);
  return next.Close(clienturl::WithClientUrl(ctx, *std::move(url), name), conn);
}

}  // namespace nsm::discover
