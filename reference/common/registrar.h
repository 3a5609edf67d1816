// A hop's registrations with its nsmgr: endpoints kept alive by refresh and restored by heal,
// unregistered on Close; network services registered (healed) but never unregistered, since
// other endpoints may provide them (nsmgr.md §10.1, §10.3; registry.md §3.13-3.14).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/credentials.h"
#include "core/registry.h"
#include "registry/chains/client.h"
#include "registry/retry/backoff.h"

namespace nsm::reference {

using NSE = ::registry::NetworkServiceEndpoint;
using NS = ::registry::NetworkService;

class Registrar {
 public:
  // Chains towards `url` (unix:///path or tcp://host:port). They live until Close(), destruction
  // or the end of `parent`.
  static absl::StatusOr<std::unique_ptr<Registrar>> Create(
      const Context& parent, const std::string& url, std::shared_ptr<Credentials> credentials);
  // Close() with a 5 s deadline.
  ~Registrar();

  // Find-only views of the client chains, for discover; they keep the chains alive.
  std::shared_ptr<NSRegistryClient> ns_client();
  std::shared_ptr<NSERegistryClient> nse_client();

  // One attempt each. The returned entry is what the registry stored (name, expiration, URL).
  absl::StatusOr<NSE> RegisterEndpoint(const Context& ctx, NSE nse);
  absl::StatusOr<NS> RegisterService(const Context& ctx, NS ns);
  // The service registered under exactly `name`, nullopt when there is none.
  absl::StatusOr<std::optional<NS>> FindService(const Context& ctx, const std::string& name);

  // Unregisters every endpoint registered here; services stay. Later calls do nothing.
  absl::Status Close(const Context& ctx);

  const std::string& url() const { return url_; }

 private:
  Registrar() = default;

  std::string url_;
  Context ctx_;
  Context::CancelFunc cancel_;
  std::shared_ptr<reg::chains::RegistryClients> clients_;
};

// Calls `attempt` until it succeeds, fails with a non-retryable error, or `ctx` ends (its error
// is returned then), waiting with capped exponential backoff and jitter between attempts. Each
// failure is logged once per attempt as a warning naming `what`.
absl::Status RetryUntilDone(const Context& ctx, const std::string& what,
                            const std::function<absl::Status(const Context&)>& attempt,
                            reg::retry::BackoffOptions backoff = {});

}  // namespace nsm::reference
