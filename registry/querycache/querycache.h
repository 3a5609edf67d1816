// querycache: answers repeated endpoint lookups by name from a cache kept fresh by one watch
// per entry; entries expire after a time without use (registry.md §3.15).
#pragma once

#include <memory>

#include "absl/time/time.h"
#include "core/registry.h"

namespace nsm::reg::querycache {

struct Options {
  // Entry lifetime after the last hit (sliding), and the sweep period.
  absl::Duration expire_timeout = absl::Minutes(1);
};

// Watch Finds pass through. A non-watch Find whose query (in text form) has a live entry is
// answered with the cached endpoint, extending the entry; otherwise the query goes to next and
// every result creates (if absent) an entry keyed by the query {name: result.name}, with a watch
// through next that replaces the cached endpoint on updates and drops the entry on deletion or
// when the watch ends. Hits therefore come from queries by exact name. A sweep every
// expire_timeout (timer on the chain context's clock) removes expired entries and their watches.
class NSEClient : public NSERegistryClient {
 public:
  explicit NSEClient(Context chain_ctx, Options options = {});
  ~NSEClient() override;

  absl::StatusOr<Item> Register(const Context& ctx, Item& nse, const Next& next,
                                const CallOptions& opts) override;
  absl::Status Find(const Context& ctx, const Query& query, const Stream& stream, const Next& next,
                    const CallOptions& opts) override;
  absl::Status Unregister(const Context& ctx, Item& nse, const Next& next,
                          const CallOptions& opts) override;

  size_t size() const;

 private:
  struct State;
  class EntryWatch;
  std::shared_ptr<State> state_;
};

inline std::shared_ptr<NSEClient> NewNSEClient(Context chain_ctx, Options options = {}) {
  return std::make_shared<NSEClient>(std::move(chain_ctx), options);
}

}  // namespace nsm::reg::querycache
