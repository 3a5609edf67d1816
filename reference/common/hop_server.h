// Serves one hop (forwarder or NSE) over gRPC: NetworkService (its chain), MonitorConnection (its
// connection store) and grpc.health.v1, on NSM URLs (binaries.md §0.3, §1.3; nsmgr.md §2).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/clock.h"
#include "core/credentials.h"
#include "core/executor.h"
#include "core/grpc_server.h"
#include "core/grpc_transport.h"
#include "core/networkservice.h"
#include "networkservice/monitor/grpc_service.h"
#include "networkservice/monitor/store.h"

namespace nsm::reference {

struct HopServerOptions {
  // unix:///path or tcp://host:port (port 0 picks one, see HopServer::urls()).
  std::vector<std::string> listen_on = {};
  // Required: the insecure mode is chosen by name (MakeInsecureCredentials()).
  std::shared_ptr<Credentials> credentials = {};
  // Runs the chain for each call; default the process pool.
  std::shared_ptr<ThreadPool> pool = {};
  // The chain's clock (a FakeClock in tests).
  std::shared_ptr<Clock> clock = RealClock();
  // monitor::ServiceOptions::on_streams_changed (the nsm_monitor_streams gauge); null: none.
  std::function<void(int delta)> on_monitor_streams_changed = nullptr;
  // Priorities and limits of the calls waiting for a worker (core/admission.h).
  AdmissionOptions admission = {};
};

class HopServer {
 public:
  // `store` may be null (no MonitorConnection service then). InvalidArgument for bad URLs or
  // missing credentials, Unavailable when a listener cannot be opened.
  static absl::StatusOr<std::unique_ptr<HopServer>> Start(
      std::shared_ptr<NetworkServiceServer> chain, std::shared_ptr<monitor::ConnectionStore> store,
      HopServerOptions options);
  // Shutdown(0).
  ~HopServer();

  // The URLs listened on, tcp port 0 replaced by the chosen port.
  const std::vector<std::string>& urls() const { return server_->urls(); }

  // Health NOT_SERVING, MonitorConnection streams end (UNAVAILABLE), calls in flight get `grace`,
  // listeners close and socket files are removed. Idempotent.
  void Shutdown(absl::Duration grace = absl::Seconds(5));

 private:
  HopServer() = default;
  std::shared_ptr<monitor::ConnectionStore> store_;
  std::unique_ptr<NetworkServiceGrpcServer> network_service_;
  std::unique_ptr<monitor::GrpcService> monitor_;
  std::unique_ptr<GrpcServer> server_;
};

}  // namespace nsm::reference
