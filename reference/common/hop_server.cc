#include "reference/common/hop_server.h"

#include "connection.grpc.pb.h"
#include "networkservice.grpc.pb.h"

namespace nsm::reference {

absl::StatusOr<std::unique_ptr<HopServer>> HopServer::Start(
    std::shared_ptr<NetworkServiceServer> chain, std::shared_ptr<monitor::ConnectionStore> store,
    HopServerOptions options) {
  if (!chain) return absl::InvalidArgumentError("hop server: no chain to serve");
  std::unique_ptr<HopServer> hop(new HopServer());
  hop->store_ = store;
  hop->network_service_ = std::make_unique<NetworkServiceGrpcServer>(
      std::move(chain), options.pool ? options.pool : DefaultThreadPool(),
      options.clock ? options.clock : RealClock(), std::move(options.admission));
  std::vector<grpc::Service*> services{hop->network_service_.get()};
  std::vector<std::string> health{::networkservice::NetworkService::service_full_name()};
  if (store) {
    hop->monitor_ = std::make_unique<monitor::GrpcService>(
        store, monitor::ServiceOptions{.on_streams_changed = options.on_monitor_streams_changed});
    services.push_back(hop->monitor_.get());
    health.push_back(::connection::MonitorConnection::service_full_name());
  }
  auto server = GrpcServer::Start(std::move(services),
                                  {.listen_on = std::move(options.listen_on),
                                   .credentials = std::move(options.credentials),
                                   .health_services = std::move(health),
                                   .on_shutdown = [store] {
                                     if (store)
                                       store->Shutdown(absl::UnavailableError("server stopping"));
                                   }});
  if (!server.ok()) return server.status();
  hop->server_ = *std::move(server);
  return hop;
}

HopServer::~HopServer() { Shutdown(absl::ZeroDuration()); }

void HopServer::Shutdown(absl::Duration grace) {
  if (server_) server_->Shutdown(grace);
}

}  // namespace nsm::reference
