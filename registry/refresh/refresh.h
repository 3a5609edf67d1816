// refresh: re-registers an endpoint at 2/3 of its remaining lifetime (±10% jitter), keeping
// initial_registration_time, retrying with backoff (registry.md §3.13, fixes §7.4-7.5).
#pragma once

#include <memory>
#include <vector>

#include "absl/time/time.h"
#include "core/registry.h"
#include "registry/retry/backoff.h"

namespace nsm::reg::refresh {

struct Options {
  // Retries after a failed refresh: 200 ms doubling up to 5 s, jittered.
  retry::BackoffOptions backoff = {};
  // Deadline of a refresh that does not ask for a duration (one that does uses that duration).
  absl::Duration attempt_timeout = absl::Seconds(15);
  // The refresh delay is 2/3 of the remaining time scaled by [1 - jitter, 1 + jitter].
  double jitter = 0.1;
};

// Register: requestedDuration = expiration_time - now when the caller sent one. After a
// successful registration whose response carries an expiration, a timer on the context's clock
// re-registers a copy of the request with the response's expiration_time and
// initial_registration_time; the refresh runs on the name's serial queue (serialize must come
// first in the client chain) and sends now + requestedDuration, or no expiration when none was
// requested. A new Register or an Unregister of the name stops the old refresh; timers die with
// the element.
class NSEClient : public NSERegistryClient {
 public:
  explicit NSEClient(Options options = {});
  ~NSEClient() override;

  absl::StatusOr<Item> Register(const Context& ctx, Item& nse, const Next& next,
                                const CallOptions& opts) override;
  absl::Status Find(const Context& ctx, const Query& query, const Stream& stream, const Next& next,
                    const CallOptions& opts) override;
  absl::Status Unregister(const Context& ctx, Item& nse, const Next& next,
                          const CallOptions& opts) override;

  // Endpoints being kept alive (the last registered copy of each).
  std::vector<Item> Registrations() const;
  size_t size() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

inline std::shared_ptr<NSEClient> NewNSEClient(Options options = {}) {
  return std::make_shared<NSEClient>(options);
}

}  // namespace nsm::reg::refresh
