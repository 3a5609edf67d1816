#include "reference/forwarder/forwarder.h"

#include "absl/strings/str_cat.h"
#include "networkservice/chains/client/client.h"
#include "networkservice/connect/client.h"
#include "networkservice/connect/dial.h"
#include "networkservice/connect/server.h"
#include "networkservice/discover/server.h"
#include "networkservice/log/log.h"
#include "networkservice/mechanismtranslation/client.h"
#include "networkservice/metrics/server.h"
#include "networkservice/monitor/client.h"
#include "networkservice/monitor/server.h"
#include "networkservice/roundrobin/server.h"
#include "networkservice/supersede/server.h"
#include "registry/findcache/findcache.h"

namespace nsm::forwarder {

absl::StatusOr<Chain> NewServer(const Options& o) {
  if (!o.credentials && !o.channels) {
    return absl::InvalidArgumentError(
        "forwarder: no credentials given (MakeInsecureCredentials() for insecure mode)");
  }
  if (!o.ns_registry || !o.nse_registry) {
    return absl::InvalidArgumentError(
        "forwarder: discover needs an NS and an NSE registry client (the nsmgr's registry)");
  }
  if (absl::Status s = Validate(o.mechanisms); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("forwarder: ", s.message()));
  }
  std::shared_ptr<const TokenGenerator> tokens =
      o.tokens ? o.tokens
               : NewInsecureTokenGenerator(o.name, o.max_token_lifetime,
                                           o.clock ? o.clock : RealClock());
  auto channels = o.channels
                      ? o.channels
                      : connect::ChannelPool::Create(o.credentials->ChannelCredentials(),
                                                     {.clock = o.clock ? o.clock : RealClock()});
  auto pool = o.pool ? o.pool : DefaultThreadPool();

  std::vector<std::shared_ptr<NetworkServiceClient>> client_elements = {
      monitor::NewClient(nullptr, {.stream_linger = o.monitor_stream_linger, .clock = o.clock}),
      mechanismtranslation::NewClient(),
      std::make_shared<MechanismsClient>(o.mechanisms),
  };
  client_elements.insert(client_elements.end(), o.additional_client.begin(),
                         o.additional_client.end());
  auto nested = client::NewClient(
      tokens, {.name = o.name,
               .dial = connect::NewDial(channels, {.dial_timeout = o.dial_timeout}),
               .additional = std::move(client_elements),
               .connect = connect::NewClient(),
               .pool = pool});
  if (!nested.ok()) return nested.status();

  std::vector<std::shared_ptr<NetworkServiceServer>> elements = {
      logging::NewServer({.component = o.name, .clock = o.clock}),  // a debug line per call
      supersede::NewServer(),  // a healed client connection's new connection replaces the old
      discover::NewServer(o.ns_registry, o.nse_registry),
      roundrobin::NewServer(),
  };
  elements.insert(elements.end(), o.additional.begin(), o.additional.end());
  elements.push_back(NewMechanismsServer(o.mechanisms));
  elements.push_back(connect::NewServer(*nested));

  Chain chain;
  chain.store = monitor::ConnectionStore::Create();
  if (o.metrics) chain.stats = std::make_shared<metrics::NetworkServiceStats>(o.metrics);
  auto server = endpoint::NewServer(
      tokens,
      {.name = o.name,
       .metrics = metrics::NewServer(chain.stats, {.forwarder = metrics::ForwarderLabel::kThisHop}),
       .authorize = o.authorize,
       .monitor = monitor::NewServer(chain.store),
       .additional = std::move(elements),
       .pool = pool,
       // After a restart, a Close of a connection made before it is routed by the connection's
       // endpoint name, so it still reaches the NSE (DESIGN.md §7).
       .close_unknown = true});
  if (!server.ok()) return server.status();
  chain.server = *std::move(server);
  return chain;
}

absl::StatusOr<std::unique_ptr<Forwarder>> Forwarder::Create(const Context& ctx, Options options) {
  std::unique_ptr<Forwarder> f(new Forwarder());
  if (!options.nsmgr_url.empty()) {
    if (!options.credentials) {
      return absl::InvalidArgumentError(
          "forwarder: no credentials given (MakeInsecureCredentials() for insecure mode)");
    }
    auto registrar = reference::Registrar::Create(ctx, options.nsmgr_url, options.credentials);
    if (!registrar.ok()) return registrar.status();
    f->registrar_ = *std::move(registrar);
    // discover looks up the network service and its endpoints on every Request and the endpoint
    // on every Close: answered from findcache (kept fresh by one watch per query), not by a Find
    // stream to the nsmgr each time (issue #7: three streams per round trip in both processes).
    auto clock = options.clock ? options.clock : RealClock();
    if (!options.ns_registry) {
      options.ns_registry = std::make_shared<RegistryServerToClient<NSTraits>>(
          std::make_shared<NSRegistryServerChain>(NSRegistryServerChain::Elements{
              reg::findcache::NewNSServer(clock),
              std::make_shared<RegistryClientToServer<NSTraits>>(f->registrar_->ns_client())}));
    }
    if (!options.nse_registry) {
      options.nse_registry = std::make_shared<RegistryServerToClient<NSETraits>>(
          std::make_shared<NSERegistryServerChain>(NSERegistryServerChain::Elements{
              reg::findcache::NewNSEServer(clock),
              std::make_shared<RegistryClientToServer<NSETraits>>(f->registrar_->nse_client())}));
    }
  }
  auto chain = NewServer(options);
  if (!chain.ok()) return chain.status();
  f->chain_ = *std::move(chain);
  f->options_ = std::move(options);
  return f;
}

Forwarder::~Forwarder() {
  auto [ctx, cancel] = Context::Background(options_.clock ? options_.clock : RealClock())
                           .WithTimeout(absl::Seconds(5));
  (void)Stop(ctx, absl::ZeroDuration());
  cancel();
}

absl::Status Forwarder::Serve(std::vector<std::string> listen_on) {
  if (hop_server_) return absl::FailedPreconditionError("forwarder: already serving");
  AdmissionOptions admission{.name = options_.name, .fibers = options_.fibers};
  if (chain_.stats) chain_.stats->HookAdmission(admission);
  auto server = reference::HopServer::Start(
      chain_.server, chain_.store,
      {.listen_on = std::move(listen_on),
       .credentials = options_.credentials,
       .pool = options_.pool,
       .clock = options_.clock,
       .on_monitor_streams_changed = chain_.stats ? chain_.stats->MonitorStreamsHook() : nullptr,
       .admission = std::move(admission)});
  if (!server.ok()) return server.status();
  hop_server_ = *std::move(server);
  return absl::OkStatus();
}

std::vector<std::string> Forwarder::urls() const {
  return hop_server_ ? hop_server_->urls() : std::vector<std::string>{};
}

reference::NSE Forwarder::Registration(const std::string& url) const {
  reference::NSE nse;
  nse.set_name(options_.name);
  nse.add_network_service_names(options_.service_name);
  auto& labels = *(*nse.mutable_network_service_labels())[options_.service_name].mutable_labels();
  for (const auto& [k, v] : options_.labels) labels[k] = v;
  if (!url.empty()) {
    nse.set_url(url);
  } else if (auto served = urls(); !served.empty()) {
    nse.set_url(served.front());
  }
  return nse;
}

absl::StatusOr<reference::NSE> Forwarder::Register(const Context& ctx, const std::string& url) {
  if (!registrar_) {
    return absl::FailedPreconditionError("forwarder: no nsmgr URL to register with");
  }
  reference::NSE nse = Registration(url);
  if (nse.url().empty()) {
    return absl::FailedPreconditionError("forwarder: no URL to register (not serving yet)");
  }
  return registrar_->RegisterEndpoint(ctx, std::move(nse));
}

absl::Status Forwarder::Stop(const Context& ctx, absl::Duration grace) {
  if (stopped_) return absl::OkStatus();
  stopped_ = true;
  absl::Status s = registrar_ ? registrar_->Close(ctx) : absl::OkStatus();
  if (hop_server_) hop_server_->Shutdown(grace);
  return s;
}

}  // namespace nsm::forwarder
