// A gRPC server for a pair of registry chains: both registry services plus grpc.health.v1 with the
// statuses of api.md §9, listening on NSM URLs (unix:// and tcp://, binaries.md §0.3, §2.2).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/credentials.h"
#include "core/grpc_server.h"
#include "core/registry.h"
#include "grpcpp/grpcpp.h"
#include "registry/transport/service.h"

namespace nsm::reg::transport {

struct ServerOptions {
  // NSM URLs to listen on. unix: an existing file at the path is removed and the parent directory
  // created first. tcp: port 0 picks a free port (see RegistryGrpcServer::urls()).
  std::vector<std::string> listen_on = {};
  // Required: the insecure mode must be chosen explicitly (MakeInsecureCredentials()).
  std::shared_ptr<Credentials> credentials = {};
  // For both services; `registered` is per service, below.
  ServiceOptions service = {};
  // ServiceOptions::registered of each service.
  std::function<bool(const std::string& name)> ns_registered = nullptr;
  std::function<bool(const std::string& name)> nse_registered = nullptr;
};

class RegistryGrpcServer {
 public:
  // InvalidArgument for a bad URL, Unavailable when a listener cannot be opened.
  static absl::StatusOr<std::unique_ptr<RegistryGrpcServer>> Start(
      std::shared_ptr<NSRegistryServer> ns, std::shared_ptr<NSERegistryServer> nse,
      ServerOptions options);
  // Shutdown(grace = 0).
  ~RegistryGrpcServer();

  // The URLs listened on, with tcp port 0 replaced by the chosen port.
  const std::vector<std::string>& urls() const { return server_->urls(); }
  NSRegistryGrpcService& ns_service() { return *ns_service_; }
  NSERegistryGrpcService& nse_service() { return *nse_service_; }

  // Health goes NOT_SERVING, open Find streams end with UNAVAILABLE, unary calls in flight get up
  // to `grace` to finish, then the listeners close and unix socket files are removed. Idempotent.
  void Shutdown(absl::Duration grace = absl::Seconds(5));

 private:
  RegistryGrpcServer() = default;

  std::unique_ptr<NSRegistryGrpcService> ns_service_;
  std::unique_ptr<NSERegistryGrpcService> nse_service_;
  std::unique_ptr<GrpcServer> server_;
};

}  // namespace nsm::reg::transport
