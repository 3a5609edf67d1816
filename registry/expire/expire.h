// expire: caps an endpoint's expiration at now + max lifetime and unregisters it when its own
// timer fires at the effective (response) expiration (registry.md §3.5, §5).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/registry.h"

namespace nsm::reg::expire {

// Register: expiration = min(requested, now + max_lifetime) on the context's clock; a requested
// expiration not after now is INVALID_ARGUMENT. The name's timer is paused while next runs and
// restored if next fails; on success a new timer fires at the response's expiration_time. The
// timer callback queues the unregistration on the name's serial executor (from serialize, which
// must precede expire), so it is ordered with Register/Unregister of the same name.
// Unregister of a name without a timer succeeds without calling next (registry.md §6).
class NSEServer : public NSERegistryServer {
 public:
  // `on_expired` (optional) gets the result of every unregistration its timers make (the
  // nsm_registry_expirations_total counter, registry/metrics).
  explicit NSEServer(absl::Duration max_lifetime,
                     std::function<void(const absl::Status&)> on_expired = nullptr);
  ~NSEServer() override;

  absl::StatusOr<Item> Register(const Context& ctx, Item& nse, const Next& next) override;
  absl::Status Find(const Context& ctx, const Query& query, const Stream& stream,
                    const Next& next) override;
  absl::Status Unregister(const Context& ctx, Item& nse, const Next& next) override;

  // Registrations with a live timer.
  size_t size() const;
  absl::Duration max_lifetime() const { return max_lifetime_; }

 private:
  struct State;
  absl::Duration max_lifetime_;
  std::shared_ptr<State> state_;
};

inline std::shared_ptr<NSEServer> NewNSEServer(
    absl::Duration max_lifetime, std::function<void(const absl::Status&)> on_expired = nullptr) {
  return std::make_shared<NSEServer>(max_lifetime, std::move(on_expired));
}

}  // namespace nsm::reg::expire
