#include "nsmgr/nsmgr.h"

#include "absl/strings/str_cat.h"
#include "api/nsm_url.h"
#include "core/grpc_transport.h"
#include "forwarder_select/server.h"
#include "networkservice/chains/client/client.h"
#include "networkservice/chains/endpoint/server.h"
#include "networkservice/connect/channel_pool.h"
#include "networkservice/connect/client.h"
#include "networkservice/connect/dial.h"
#include "networkservice/connect/server.h"
#include "networkservice/log/log.h"
#include "networkservice/metrics/server.h"
#include "networkservice/monitor/client.h"
#include "networkservice/monitor/grpc_service.h"
#include "networkservice/monitor/server.h"
#include "networkservice/monitor/store.h"
#include "networkservice/restartgrace/server.h"
#include "networkservice/updatepath/common.h"
#include "registry/clientinfo/clientinfo.h"
#include "registry/clienturl/clienturl.h"
#include "registry/connect/connect.h"
#include "registry/expire/expire.h"
#include "registry/findcache/findcache.h"
#include "registry/localbypass/localbypass.h"
#include "registry/log/log.h"
#include "registry/memory/memory.h"
#include "registry/metrics/server.h"
#include "registry/serialize/serialize.h"
#include "registry/transport/channel_pool.h"
#include "registry/transport/grpc_types.h"
#include "registry/transport/service.h"
#include "registry/validate/validate.h"

namespace nsm::nsmgr {

struct Nsmgr::Parts {
  std::shared_ptr<monitor::ConnectionStore> monitor_store;
  std::shared_ptr<endpoint::Endpoint> endpoint;
  std::shared_ptr<NetworkServiceServer> network_service;
  std::shared_ptr<reg::memory::NSEServer> nse_store;
  std::shared_ptr<restartgrace::Server> restart_grace;
  std::shared_ptr<connect::ChannelPool> channels;
  std::shared_ptr<NSRegistryServer> ns_registry;
  std::shared_ptr<NSERegistryServer> nse_registry;
  std::unique_ptr<NetworkServiceGrpcServer> network_service_grpc;
  std::unique_ptr<monitor::GrpcService> monitor_grpc;
  std::unique_ptr<reg::transport::NSRegistryGrpcService> ns_grpc;
  std::unique_ptr<reg::transport::NSERegistryGrpcService> nse_grpc;
};

absl::StatusOr<std::unique_ptr<Nsmgr>> Nsmgr::Create(Options o) {
  if (!o.credentials) {
    return absl::InvalidArgumentError(
        "nsmgr: credentials are required (MakeInsecureCredentials for insecure mode)");
  }
  if (!o.tokens) {
    return absl::InvalidArgumentError(
        "nsmgr: a token generator is required (NewInsecureTokenGenerator for insecure mode)");
  }
  if (!o.url.empty()) {
    if (auto u = api::ParseNsmUrl(o.url); !u.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("nsmgr: url: ", u.status().message()));
    }
  }
  if (!o.registry_url.empty()) {
    if (auto u = api::ParseNsmUrl(o.registry_url); !u.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("nsmgr: registry url: ", u.status().message()));
    }
    if (o.url.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("nsmgr: with a registry (", o.registry_url,
                       ") the nsmgr needs a public URL: local endpoints are published with it"));
    }
  }
  if (o.forwarder_service_name.empty()) {
    return absl::InvalidArgumentError("nsmgr: the forwarder service name is empty");
  }
  if (!o.pool) o.pool = DefaultThreadPool();
  if (!o.registry_pool) o.registry_pool = NewChainPool();

  std::unique_ptr<Nsmgr> m(new Nsmgr());
  m->name_ = o.name.empty() ? "nsmgr-" + updatepath::NewUuid() : o.name;
  m->parts_ = std::make_unique<Parts>();
  Parts& p = *m->parts_;
  auto registry_channels = std::make_shared<reg::transport::ChannelPool>(o.credentials);
  const bool upstream = !o.registry_url.empty();

  // Registry chains (nsmgr.md §3.3, §10).
  auto reg_stats = o.metrics ? std::make_shared<reg::metrics::RegistryStats>(o.metrics) : nullptr;
  p.nse_store = reg::memory::NewNSEServer();
  auto ns_store = upstream ? nullptr : reg::memory::NewNSServer();
  p.ns_registry = std::make_shared<NSRegistryServerChain>(NSRegistryServerChain::Elements{
      reg::logging::NewNSServer({.component = m->name_ + "/ns", .clock = o.clock}),
      reg::validate::NewNSServer(),
      reg::serialize::NewNSServer(),
      ns_store,
      upstream ? reg::clienturl::NewNSServer(o.registry_url) : nullptr,
      upstream ? reg::findcache::NewNSServer(o.clock) : nullptr,
      upstream
          ? reg::connect::NewNSServer(reg::connect::GrpcClientFactory<NSTraits>(registry_channels))
          : nullptr,
  });
  p.nse_registry = std::make_shared<NSERegistryServerChain>(NSERegistryServerChain::Elements{
      reg::logging::NewNSEServer({.component = m->name_ + "/nse", .clock = o.clock}),
      reg::validate::NewNSEServer(),
      reg::clientinfo::NewNSEServer(o.env),
      reg::serialize::NewNSEServer(),
      reg::expire::NewNSEServer(o.nse_expiry_cap,
                                reg_stats ? reg_stats->ExpirationsHook() : nullptr),
      p.nse_store,
      o.url.empty() ? nullptr : reg::localbypass::NewNSEServer(o.url, {.local_store_first = true}),
      upstream ? reg::clienturl::NewNSEServer(o.registry_url) : nullptr,
      upstream ? reg::findcache::NewNSEServer(o.clock) : nullptr,
      upstream ? reg::connect::NewNSEServer(
                     reg::connect::GrpcClientFactory<NSETraits>(registry_channels))
               : nullptr,
  });

  // The client chain inside connect, towards the forwarder (nsmgr.md §3.2): no refresh, no heal
  // (the NSC owns both), the forwarder's events relayed into this hop's monitor store.
  auto channels =
      connect::ChannelPool::Create(o.credentials->ChannelCredentials(), {.clock = o.clock});
  p.channels = channels;
  auto client = client::NewClient(
      o.tokens, {.name = m->name_,
                 .dial = connect::NewDial(channels, {.dial_timeout = o.dial_timeout}),
                 .additional = {monitor::NewClient(
                     nullptr, {.stream_linger = o.monitor_stream_linger, .clock = o.clock})},
                 .connect = connect::NewClient(),
                 .pool = o.pool});
  if (!client.ok()) return client.status();

  // The server chain (nsmgr.md §3.1).
  auto stats = o.metrics ? std::make_shared<metrics::NetworkServiceStats>(o.metrics) : nullptr;
  p.monitor_store = monitor::ConnectionStore::Create();
  p.restart_grace =
      restartgrace::NewServer(p.nse_store, {.window = o.restart_grace, .clock = o.clock});
  auto endpoint =
      endpoint::NewServer(
          o.tokens,
          {.name = m->name_,
           .metrics = metrics::NewServer(stats, {.forwarder = metrics::ForwarderLabel::kNextHop}),
           .authorize = o.authorize,
           .monitor = monitor::NewServer(p.monitor_store),  // S8
           .additional =
               {
                   clientinfo::NewServer(o.env),  // S10
                   p.restart_grace,  // after a restart: wait for the path's hops to register
                   forwarder_select::NewServer(  // S11
                       std::make_shared<RegistryServerToClient<NSTraits>>(p.ns_registry),
                       std::make_shared<RegistryServerToClient<NSETraits>>(p.nse_store),
                       {.forwarder_service_name = o.forwarder_service_name,
                        .policy = o.forwarder_policy}),
                   std::make_shared<excludedprefixes::Server>(o.excluded_prefixes),  // S12
                   connect::NewServer(*std::move(client)),                           // S14
               },
           .pool = o.pool,
           // A Close after a restart is routed by its path to the forwarder (DESIGN.md §7).
           .close_unknown = true});
  if (!endpoint.ok()) return endpoint.status();
  p.endpoint = *std::move(endpoint);
  // A debug line per Request/Close around the whole chain (issue #8).
  p.network_service = std::make_shared<ServerChain>(ServerChain::Elements{
      logging::NewServer({.component = m->name_, .clock = o.clock}), p.endpoint});

  AdmissionOptions admission{.name = m->name_, .fibers = o.fibers};
  if (stats) stats->HookAdmission(admission);
  p.network_service_grpc =
      std::make_unique<NetworkServiceGrpcServer>(p.network_service, o.pool, o.clock, admission);
  p.monitor_grpc = std::make_unique<monitor::GrpcService>(
      p.monitor_store,
      monitor::ServiceOptions{.on_streams_changed = stats ? stats->MonitorStreamsHook() : nullptr});
  // Under overload Unregisters go first, then renewals of local endpoints (DESIGN.md §7).
  reg::transport::ServiceOptions service_options{
      .pool = o.registry_pool, .clock = o.clock, .admission = {.name = m->name_}};
  if (reg_stats) {
    service_options.hook_admission = [reg_stats](const std::string& which, AdmissionOptions& a) {
      reg_stats->HookAdmission(which, a);
    };
  }
  if (ns_store) {
    service_options.registered = [ns_store](const std::string& name) {
      return ns_store->MaybeContains(name);
    };
  }
  // Served over gRPC behind the registry metrics element, so that only callers' calls are counted,
  // not the lookups of this nsmgr's own forwarder selection.
  p.ns_grpc = std::make_unique<reg::transport::NSRegistryGrpcService>(
      std::make_shared<NSRegistryServerChain>(
          NSRegistryServerChain::Elements{reg::metrics::NewNSServer(reg_stats), p.ns_registry}),
      service_options);
  service_options.registered = [store = p.nse_store](const std::string& name) {
    return store->MaybeContains(name);
  };
  p.nse_grpc = std::make_unique<reg::transport::NSERegistryGrpcService>(
      std::make_shared<NSERegistryServerChain>(
          NSERegistryServerChain::Elements{reg::metrics::NewNSEServer(reg_stats), p.nse_registry}),
      service_options);
  return m;
}

Nsmgr::~Nsmgr() {
  if (parts_) FinishStreams();
}

const std::shared_ptr<NetworkServiceServer>& Nsmgr::network_service() const {
  return parts_->network_service;
}
const std::shared_ptr<NSRegistryServer>& Nsmgr::ns_registry() const { return parts_->ns_registry; }
const std::shared_ptr<NSERegistryServer>& Nsmgr::nse_registry() const {
  return parts_->nse_registry;
}
size_t Nsmgr::connections() const { return parts_->endpoint->connections(); }
size_t Nsmgr::local_endpoints() const { return parts_->nse_store->size(); }
size_t Nsmgr::channels_in_use() const { return parts_->channels->in_use(); }
const restartgrace::Server& Nsmgr::restart_grace() const { return *parts_->restart_grace; }

std::vector<grpc::Service*> Nsmgr::Services() {
  return {parts_->network_service_grpc.get(), parts_->monitor_grpc.get(), parts_->ns_grpc.get(),
          parts_->nse_grpc.get()};
}

std::vector<std::string> Nsmgr::HealthServices() {
  return {"networkservice.NetworkService", "connection.MonitorConnection",
          reg::transport::Grpc<NSTraits>::kServiceName,
          reg::transport::Grpc<NSETraits>::kServiceName};
}

void Nsmgr::FinishStreams() {
  const absl::Status bye = absl::UnavailableError("nsmgr is shutting down");
  parts_->monitor_store->Shutdown(bye);
  parts_->ns_grpc->FinishStreams(bye);
  parts_->nse_grpc->FinishStreams(bye);
}

}  // namespace nsm::nsmgr

namespace nsm::nsmgr {

absl::StatusOr<std::unique_ptr<Server>> Server::Start(Options options,
                                                      std::vector<std::string> listen_on) {
  auto credentials = options.credentials;
  auto nsmgr = Nsmgr::Create(std::move(options));
  if (!nsmgr.ok()) return nsmgr.status();
  std::unique_ptr<Server> server(new Server());
  server->nsmgr_ = *std::move(nsmgr);
  Nsmgr* m = server->nsmgr_.get();
  auto grpc_server = GrpcServer::Start(m->Services(), {.listen_on = std::move(listen_on),
                                                       .credentials = credentials,
                                                       .health_services = Nsmgr::HealthServices(),
                                                       .on_shutdown = [m] { m->FinishStreams(); }});
  if (!grpc_server.ok()) return grpc_server.status();
  server->server_ = *std::move(grpc_server);
  return server;
}

Server::~Server() { Shutdown(absl::ZeroDuration()); }

void Server::Shutdown(absl::Duration grace) {
  if (server_) server_->Shutdown(grace);
}

}  // namespace nsm::nsmgr
