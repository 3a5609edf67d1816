// heal: restores registrations and re-opens watches after the registry restarts or the stream
// breaks, retrying with capped backoff and jitter (registry.md §3.14, fix §7.6).
#pragma once

#include <memory>
#include <vector>

#include "core/executor.h"
#include "core/registry.h"
#include "registry/retry/backoff.h"

namespace nsm::reg::heal {

struct Options {
  retry::BackoffOptions backoff = {};
  // Deadline of one re-registration attempt.
  absl::Duration attempt_timeout = absl::Seconds(15);
  // Where healing runs (it may block on the registry for up to attempt_timeout).
  std::shared_ptr<ThreadPool> pool = DefaultThreadPool();
};

// Register remembers the item (without expiration_time: the registry applies its cap when it is
// restored) and makes sure one monitor stream is open: a watch Find through next for a name
// nobody registers, so it carries no data and only ends when the registry goes away. When it
// ends, after a backoff the monitor is opened again and, once that works, every remembered item
// is registered again through the heal chain (normally the whole client chain, so serialize and
// refresh take part), until success, Unregister, or the chain context ends.
// Find with watch: the stream is re-opened through next (backoff between attempts) whenever it
// ends while the caller still listens; the caller sees a new snapshot then (duplicates possible).
// Unregister forgets the item and always calls next.
template <class T>
class Client : public RegistryClient<T> {
 public:
  using typename RegistryClient<T>::Item;
  using typename RegistryClient<T>::Query;
  using typename RegistryClient<T>::Response;
  using typename RegistryClient<T>::Stream;
  using typename RegistryClient<T>::Next;

  // Healing stops when `chain_ctx` ends; its clock times the backoff.
  explicit Client(Context chain_ctx, Options options = {});
  ~Client() override;

  // Where restored items are registered; unset (or gone): this element's next.
  void SetHealChain(std::weak_ptr<RegistryClient<T>> chain);

  absl::StatusOr<Item> Register(const Context& ctx, Item& item, const Next& next,
                                const CallOptions& opts) override;
  absl::Status Find(const Context& ctx, const Query& query, const Stream& stream, const Next& next,
                    const CallOptions& opts) override;
  absl::Status Unregister(const Context& ctx, Item& item, const Next& next,
                          const CallOptions& opts) override;

  // What would be restored.
  std::vector<Item> Registrations() const;
  bool monitoring() const;

 private:
  struct State;
  class MonitorStream;
  class HealingWatch;
  std::shared_ptr<State> state_;
};

extern template class Client<NSTraits>;
extern template class Client<NSETraits>;
using NSClient = Client<NSTraits>;
using NSEClient = Client<NSETraits>;

inline std::shared_ptr<NSClient> NewNSClient(Context chain_ctx, Options options = {}) {
  return std::make_shared<NSClient>(std::move(chain_ctx), std::move(options));
}
inline std::shared_ptr<NSEClient> NewNSEClient(Context chain_ctx, Options options = {}) {
  return std::make_shared<NSEClient>(std::move(chain_ctx), std::move(options));
}

}  // namespace nsm::reg::heal
