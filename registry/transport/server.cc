#include "registry/transport/server.h"

namespace nsm::reg::transport {

absl::StatusOr<std::unique_ptr<RegistryGrpcServer>> RegistryGrpcServer::Start(
    std::shared_ptr<NSRegistryServer> ns, std::shared_ptr<NSERegistryServer> nse,
    ServerOptions options) {
  std::unique_ptr<RegistryGrpcServer> server(new RegistryGrpcServer());
  if (!options.service.pool) {
    options.service.pool = NewChainPool();
  }
  ServiceOptions ns_options = options.service;
  ns_options.registered = std::move(options.ns_registered);
  ServiceOptions nse_options = options.service;
  nse_options.registered = std::move(options.nse_registered);
  server->ns_service_ = std::make_unique<NSRegistryGrpcService>(std::move(ns), ns_options);
  server->nse_service_ = std::make_unique<NSERegistryGrpcService>(std::move(nse), nse_options);
  RegistryGrpcServer* self = server.get();
  auto grpc_server = GrpcServer::Start(
      {server->ns_service_.get(), server->nse_service_.get()},
      {.listen_on = std::move(options.listen_on),
       .credentials = std::move(options.credentials),
       .health_services = {Grpc<NSTraits>::kServiceName, Grpc<NSETraits>::kServiceName},
       .on_shutdown = [self] {
         const absl::Status bye = absl::UnavailableError("registry server is shutting down");
         self->ns_service_->FinishStreams(bye);
         self->nse_service_->FinishStreams(bye);
       }});
  if (!grpc_server.ok()) return grpc_server.status();
  server->server_ = *std::move(grpc_server);
  return server;
}

RegistryGrpcServer::~RegistryGrpcServer() { Shutdown(absl::ZeroDuration()); }

void RegistryGrpcServer::Shutdown(absl::Duration grace) {
  if (server_) server_->Shutdown(grace);
}

}  // namespace nsm::reg::transport
