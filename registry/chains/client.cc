#include "registry/chains/client.h"

#include "registry/serialize/serialize.h"

namespace nsm::reg::chains {
namespace {

template <class T>
std::shared_ptr<RegistryClient<T>> AsClient(std::shared_ptr<RegistryServer<T>> server) {
  return std::make_shared<RegistryServerToClient<T>>(std::move(server));
}

}  // namespace

absl::StatusOr<std::unique_ptr<RegistryClients>> RegistryClients::Create(
    const Context& parent, ClientChainOptions options) {
  if (!options.credentials) {
    return absl::InvalidArgumentError("registry client: no credentials given");
  }
  if (!options.channels) {
    options.channels = std::make_shared<transport::ChannelPool>(options.credentials);
  }
  auto channel = options.channels->Get(options.registry_url);
  if (!channel.ok()) return channel.status();

  std::unique_ptr<RegistryClients> c(new RegistryClients());
  auto [ctx, cancel] = parent.WithCancel();
  c->chain_ctx_ = ctx;
  c->cancel_ = cancel;
  c->refresh_ = refresh::NewNSEClient(options.refresh);
  c->nse_heal_ = heal::NewNSEClient(ctx, options.heal);
  c->ns_heal_ = heal::NewNSClient(ctx, options.heal);

  NSERegistryClientChain::Elements nse{
      AsClient<NSETraits>(serialize::NewNSEServer()),
      c->refresh_,
  };
  if (options.query_cache) nse.push_back(querycache::NewNSEClient(ctx, options.cache));
  nse.push_back(c->nse_heal_);
  nse.push_back(std::make_shared<transport::NSERegistryGrpcClient>(*channel, options.registry_url,
                                                                   options.grpc));
  c->nse_ = std::make_shared<NSERegistryClientChain>(std::move(nse));

  c->ns_ = std::make_shared<NSRegistryClientChain>(NSRegistryClientChain::Elements{
      AsClient<NSTraits>(serialize::NewNSServer()),
      c->ns_heal_,
      std::make_shared<transport::NSRegistryGrpcClient>(*channel, options.registry_url,
                                                        options.grpc),
  });

  // Restored registrations go through the whole chain again (serialize, refresh).
  c->nse_heal_->SetHealChain(c->nse_);
  c->ns_heal_->SetHealChain(c->ns_);
  return c;
}

RegistryClients::~RegistryClients() {
  if (closed_) return;
  auto [ctx, cancel] = Context::Background(chain_ctx_.clock_ptr()).WithTimeout(absl::Seconds(5));
  (void)Close(ctx);
  cancel();
}

absl::Status RegistryClients::Close(const Context& ctx) {
  if (closed_) return absl::OkStatus();
  closed_ = true;
  absl::Status first;
  for (auto& nse : nse_heal_->Registrations()) {
    absl::Status s = nse_->Unregister(ctx, nse);
    if (first.ok()) first = s;
  }
  cancel_();
  return first;
}

}  // namespace nsm::reg::chains
