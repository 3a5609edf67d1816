// The registry client chains for NSEs, forwarders and tools, as plain lists: NSE: serialize,
// refresh, [querycache], heal, gRPC; NS: serialize, heal, gRPC (registry.md §1, §3.13-3.15).
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/credentials.h"
#include "core/registry.h"
#include "registry/heal/heal.h"
#include "registry/querycache/querycache.h"
#include "registry/refresh/refresh.h"
#include "registry/transport/channel_pool.h"
#include "registry/transport/client.h"

namespace nsm::reg::chains {

struct ClientChainOptions {
  // The registry (or nsmgr) to talk to: unix:///path or tcp://host:port.
  std::string registry_url;
  // Required: the insecure mode must be chosen explicitly.
  std::shared_ptr<Credentials> credentials = {};
  // Shared with other chains of the process; created when null.
  std::shared_ptr<transport::ChannelPool> channels = {};
  transport::ClientOptions grpc = {};
  refresh::Options refresh = {};
  heal::Options heal = {};
  // Cache of endpoint lookups by name (off by default, as in NSM v1.1.1).
  bool query_cache = false;
  querycache::Options cache = {};
};

// Registrations made through these chains are kept alive (refresh), restored after a registry
// restart (heal), and unregistered by Close().
class RegistryClients {
 public:
  // The chains live until Close() or destruction; `parent` ending also stops refresh and heal.
  static absl::StatusOr<std::unique_ptr<RegistryClients>> Create(const Context& parent,
                                                                 ClientChainOptions options);
  // Close() with a 5 s deadline unless already closed.
  ~RegistryClients();

  NSRegistryClientChain& ns() { return *ns_; }
  NSERegistryClientChain& nse() { return *nse_; }
  const Context& chain_context() const { return chain_ctx_; }
  const refresh::NSEClient& refresher() const { return *refresh_; }

  // Unregisters every endpoint registered through these chains, then stops refresh and heal.
  // Services stay registered: other endpoints may provide them (nsmgr.md §10.1). Returns the
  // first error; later calls do nothing.
  absl::Status Close(const Context& ctx);

 private:
  RegistryClients() = default;

  Context chain_ctx_;
  Context::CancelFunc cancel_;
  bool closed_ = false;
  std::shared_ptr<refresh::NSEClient> refresh_;
  std::shared_ptr<heal::NSClient> ns_heal_;
  std::shared_ptr<heal::NSEClient> nse_heal_;
  std::shared_ptr<NSRegistryClientChain> ns_;
  std::shared_ptr<NSERegistryClientChain> nse_;
};

}  // namespace nsm::reg::chains
