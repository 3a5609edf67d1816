// A gRPC server listening on NSM URLs (unix:// and tcp://) for any set of services, with
// grpc.health.v1 statuses and a clean shutdown (binaries.md §0.3, §1.2-1.3, §2.2; api.md §9).
#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/credentials.h"

namespace nsm {

struct GrpcServerOptions {
  // NSM URLs to listen on. unix: the parent directory is created and a stale socket file removed.
  // tcp: port 0 picks a free port (see GrpcServer::urls()).
  std::vector<std::string> listen_on = {};
  // Required: the insecure mode must be chosen explicitly (MakeInsecureCredentials()).
  std::shared_ptr<Credentials> credentials = {};
  // Service names reported SERVING by grpc.health.v1 (the overall "" status always is).
  std::vector<std::string> health_services = {};
  // Called first by Shutdown, after health went NOT_SERVING: end long-lived streams here
  // (callback-API streams are not ended by grpc::Server::Shutdown on their own).
  std::function<void()> on_shutdown = {};
};

class GrpcServer {
 public:
  // `services` are borrowed and must outlive the server. InvalidArgument for a bad URL or missing
  // credentials, Unavailable when a listener cannot be opened (address in use, no permission).
  static absl::StatusOr<std::unique_ptr<GrpcServer>> Start(std::vector<grpc::Service*> services,
                                                           GrpcServerOptions options);
  // Shutdown(grace = 0).
  ~GrpcServer();

  // The URLs listened on, in the order given, with tcp port 0 replaced by the chosen port.
  const std::vector<std::string>& urls() const { return urls_; }
  grpc::Server& server() { return *server_; }

  // Health NOT_SERVING, on_shutdown, unary calls in flight get up to `grace`, listeners close and
  // unix socket files are removed. Idempotent.
  void Shutdown(absl::Duration grace = absl::Seconds(5));

 private:
  GrpcServer() = default;

  GrpcServerOptions options_;
  std::unique_ptr<grpc::Server> server_;
  std::vector<std::string> urls_;
  std::vector<std::string> socket_files_;
  bool shut_down_ = false;
};

// grpc.health.v1.Health/Check of `service` ("" = the whole server) over `channel`, bounded by
// `timeout`: "SERVING", "NOT_SERVING", ... or the call's error (NOT_FOUND for an unknown service).
absl::StatusOr<std::string> CheckHealth(const std::shared_ptr<grpc::Channel>& channel,
                                        const std::string& service,
                                        absl::Duration timeout = absl::Seconds(5));

}  // namespace nsm
