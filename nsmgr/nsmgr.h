// The NSMgr: its NetworkService server chain (endpoint chain + forwarder selection + connect to the
// forwarder), MonitorConnection, and its NS/NSE registry chains, as plain lists (nsmgr.md §2-3,
// §10).
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/clock.h"
#include "core/credentials.h"
#include "core/executor.h"
#include "core/grpc_server.h"
#include "core/networkservice.h"
#include "core/registry.h"
#include "core/token.h"
#include "forwarder_select/policy.h"
#include "networkservice/clientinfo/server.h"
#include "networkservice/excludedprefixes/server.h"
#include "networkservice/monitor/watch.h"
#include "networkservice/restartgrace/server.h"

namespace prometheus {
class Registry;
}  // namespace prometheus

namespace nsm::nsmgr {

struct Options {
  // The hop's name (its path segment name); default "nsmgr-<uuid>".
  std::string name = {};
  // The URL other nodes reach this nsmgr at: local endpoints are published upstream with it
  // (localbypass). Empty for a node-local nsmgr without a domain registry.
  std::string url = {};
  // The domain registry; empty: NetworkServices are kept in memory here, endpoints stay local.
  std::string registry_url = {};
  // Required (insecure mode is chosen explicitly): dialling forwarders and the registry.
  std::shared_ptr<Credentials> credentials = {};
  // Required: signs this hop's path segment and the token headers of its calls.
  std::shared_ptr<const TokenGenerator> tokens = {};
  // Dial timeout towards forwarders and remote nsmgrs (NSM_DIAL_TIMEOUT), apart from the request
  // deadline.
  absl::Duration dial_timeout = absl::Milliseconds(100);
  // How long the monitor stream to a forwarder stays open after its last connection, for the
  // next one (monitor::WatchOptions::stream_linger).
  absl::Duration monitor_stream_linger = monitor::WatchOptions{}.stream_linger;
  // The service forwarders register for (NSM_FORWARDER_NETWORK_SERVICE_NAME).
  std::string forwarder_service_name = "forwarder";
  // Order among qualifying forwarders; null = registration order (as NSM).
  std::shared_ptr<forwarder_select::Policy> forwarder_policy = {};
  // For this long after the start, a refresh, heal or Close of an established connection waits
  // until the forwarder and local endpoint named in its path have registered again (an nsmgr
  // restart keeps live data paths, DESIGN.md §7; networkservice/restartgrace explains the
  // default). Zero: off (NSM_RESTART_GRACE).
  absl::Duration restart_grace = restartgrace::kDefaultWindow;
  // Cap of local endpoint registrations (nsmgr.md §3.3: 1 minute).
  absl::Duration nse_expiry_cap = absl::Minutes(1);
  // S5; null = allow all.
  std::shared_ptr<NetworkServiceServer> authorize = {};
  // Node/pod/cluster labels (NODE_NAME, POD_NAME, CLUSTER_NAME).
  clientinfo::EnvLookup env = clientinfo::ProcessEnv;
  excludedprefixes::Options excluded_prefixes = {};
  // Where chains and timer events run; default the process pool.
  std::shared_ptr<ThreadPool> pool = {};
  // Incoming NetworkService calls run on fibers that park while they wait for the next hop
  // (AdmissionOptions::fibers); false: each holds a worker of `pool` until it ends.
  bool fibers = true;
  // Where the calls of the served registry services (NS and NSE) run; default a pool of their own,
  // so that Registers blocked in serialize never starve `pool`.
  std::shared_ptr<ThreadPool> registry_pool = {};
  // The clock of incoming calls' contexts (a FakeClock in tests).
  std::shared_ptr<Clock> clock = RealClock();
  // Where the chains count (docs/metrics.md); null: no metrics.
  std::shared_ptr<prometheus::Registry> metrics = {};
};

// Every part of one nsmgr. Serve it with Services() on a GrpcServer (nsmgr/serve.h does that).
class Nsmgr {
 public:
  static absl::StatusOr<std::unique_ptr<Nsmgr>> Create(Options options);
  ~Nsmgr();

  const std::string& name() const { return name_; }

  // The chains, for in-process use and tests.
  const std::shared_ptr<NetworkServiceServer>& network_service() const;
  const std::shared_ptr<NSRegistryServer>& ns_registry() const;
  const std::shared_ptr<NSERegistryServer>& nse_registry() const;
  // Connections the server chain holds; local endpoint and forwarder registrations.
  size_t connections() const;
  size_t local_endpoints() const;
  // Forwarders and remote nsmgrs whose channel a connection or monitor stream holds.
  size_t channels_in_use() const;
  // The restart grace element: whether its window is open, who waited.
  const restartgrace::Server& restart_grace() const;

  // The gRPC services (NetworkService, MonitorConnection, both registries) and their health names.
  std::vector<grpc::Service*> Services();
  static std::vector<std::string> HealthServices();
  // Ends open MonitorConnections and Find streams (call before the gRPC server stops).
  void FinishStreams();

 private:
  Nsmgr() = default;
  struct Parts;
  std::string name_;
  std::unique_ptr<Parts> parts_;
};

// An nsmgr served over gRPC on NSM URLs (unix and tcp), with health.
class Server {
 public:
  // InvalidArgument for bad options or URLs, Unavailable when a listener cannot be opened.
  static absl::StatusOr<std::unique_ptr<Server>> Start(Options options,
                                                       std::vector<std::string> listen_on);
  ~Server();

  Nsmgr& nsmgr() { return *nsmgr_; }
  // The URLs listened on (tcp port 0 replaced by the chosen port).
  const std::vector<std::string>& urls() const { return server_->urls(); }
  // Health NOT_SERVING, streams end with UNAVAILABLE, calls in flight get `grace`. Idempotent.
  void Shutdown(absl::Duration grace = absl::Seconds(5));

 private:
  Server() = default;
  std::unique_ptr<Nsmgr> nsmgr_;
  std::unique_ptr<GrpcServer> server_;  // destroyed first: stops calls into nsmgr_
};

}  // namespace nsm::nsmgr
