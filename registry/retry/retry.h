// retry: repeats Register/Unregister/non-watch Find after retryable errors with capped
// exponential backoff and jitter (registry.md §7.4; DESIGN.md §7).
#pragma once

#include <memory>

#include "core/registry.h"
#include "registry/retry/backoff.h"

namespace nsm::reg::retry {

struct Options {
  BackoffOptions backoff = {};
  // Deadline of one attempt (the caller's deadline, if earlier, still applies).
  absl::Duration attempt_timeout = absl::Seconds(15);
};

// Waits between attempts on the context's clock. Watch Finds pass through (heal re-creates them).
// Non-retryable errors and the caller's context ending return at once.
template <class T>
class Client : public RegistryClient<T> {
 public:
  using typename RegistryClient<T>::Item;
  using typename RegistryClient<T>::Query;
  using typename RegistryClient<T>::Stream;
  using typename RegistryClient<T>::Next;

  explicit Client(Options options = {}) : options_(options) {}

  absl::StatusOr<Item> Register(const Context& ctx, Item& item, const Next& next,
                                const CallOptions& opts) override;
  absl::Status Find(const Context& ctx, const Query& query, const Stream& stream, const Next& next,
                    const CallOptions& opts) override;
  absl::Status Unregister(const Context& ctx, Item& item, const Next& next,
                          const CallOptions& opts) override;

 private:
  Options options_;
};

extern template class Client<NSTraits>;
extern template class Client<NSETraits>;
using NSClient = Client<NSTraits>;
using NSEClient = Client<NSETraits>;

inline std::shared_ptr<NSClient> NewNSClient(Options options = {}) {
  return std::make_shared<NSClient>(options);
}
inline std::shared_ptr<NSEClient> NewNSEClient(Options options = {}) {
  return std::make_shared<NSEClient>(options);
}

}  // namespace nsm::reg::retry
