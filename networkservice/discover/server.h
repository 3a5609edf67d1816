// discover server: looks the NetworkService and its endpoints up in the registry and puts the
// candidates, or a pinned endpoint's URL, into the context (nsmgr.md §6.1, api.md §8.1).
#pragma once

#include <memory>

#include "core/networkservice.h"
#include "core/registry.h"
#include "networkservice/discover/candidates.h"

namespace nsm::discover {

// Request:
// * a client URL already in the context: pass-through;
// * connection.network_service_endpoint_name set: that endpoint (exact name) is looked up and its
//   URL put into the context; NOT_FOUND when it is not registered;
// * otherwise the NetworkService (exact name, payload when set) and its endpoints are looked up,
//   matched (MatchEndpoints), the connection's payload is overwritten with the service's, and the
//   rest of the chain runs on the request with the Candidates in the context.
// Close always continues: with the pinned endpoint's URL when it can be found, without otherwise.
class Server : public NetworkServiceServer {
 public:
  Server(std::shared_ptr<NSRegistryClient> ns_registry,
         std::shared_ptr<NSERegistryClient> nse_registry);

  absl::StatusOr<Connection> Request(const Context& ctx, NetworkServiceRequest& request,
                                     const ServerNext& next) override;
  absl::Status Close(const Context& ctx, Connection& conn, const ServerNext& next) override;

 private:
  absl::StatusOr<::registry::NetworkServiceEndpoint> FindEndpoint(const Context& ctx,
                                                                  const std::string& name);

  std::shared_ptr<NSRegistryClient> ns_registry_;
  std::shared_ptr<NSERegistryClient> nse_registry_;
};

inline std::shared_ptr<Server> NewServer(std::shared_ptr<NSRegistryClient> ns_registry,
                                         std::shared_ptr<NSERegistryClient> nse_registry) {
  return std::make_shared<Server>(std::move(ns_registry), std::move(nse_registry));
}

// Non-watch Find through a registry client, as a list (deleted notifications skipped).
template <class T>
absl::StatusOr<std::vector<typename T::Item>> FindAll(RegistryClient<T>& client, const Context& ctx,
                                                      const typename T::Query& query);

}  // namespace nsm::discover
