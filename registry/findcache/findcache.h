// findcache: answers repeated non-watch Finds from result sets kept fresh by one watch per
// distinct query, so the nsmgr does not ask the domain registry on every Request (issue #7).
#pragma once

#include <memory>

#include "absl/time/time.h"
#include "core/clock.h"
#include "core/registry.h"

namespace nsm::reg::findcache {

struct Options {
  // An entry nobody asked for this long is dropped with its watch.
  absl::Duration idle_timeout = absl::Minutes(1);
  // An entry is rebuilt from a fresh Find after this long, which bounds how long a result can
  // stay wrong if the watch missed a change (an item deleted between the Find and the watch).
  absl::Duration max_age = absl::Minutes(1);
  // At most this many distinct queries are cached; further ones pass through.
  size_t max_entries = 1024;
  // A non-positive idle_timeout or max_age, or max_entries 0, turns caching off: every Find
  // passes through and no timer runs.
};

// Place it right before the element that goes to the remote registry (connect). Watch Finds pass
// through. A non-watch Find with a live entry for the same query is answered from the entry (NSEs
// whose expiration_time passed are left out); a miss goes to next, sends the results to the caller
// once next is done and stores them (unless a removal was heard of meanwhile), then opens a watch
// with the same query through next that applies updates and deletions to the entry. The watch
// keeps the values of the context of the Find that created the entry (the registry URL of
// clienturl): place this element after clienturl, and before anything that depends on the caller.
// The entry is dropped when the watch ends or is opened again below (FindStream::Reopened: what
// was deleted during the break was never sent), after `idle_timeout` without a hit, or after
// `max_age`.
// Register and Unregister pass through and, when they succeed, are applied at once to the entries
// whose query matches the item, so a caller finds what it registered through this element without
// waiting for the watch.
template <class T>
class Server : public RegistryServer<T> {
 public:
  using typename RegistryServer<T>::Item;
  using typename RegistryServer<T>::Query;
  using typename RegistryServer<T>::Response;
  using typename RegistryServer<T>::Stream;
  using typename RegistryServer<T>::Next;

  explicit Server(std::shared_ptr<Clock> clock, Options options = {});
  // Cancels every watch.
  ~Server() override;

  absl::StatusOr<Item> Register(const Context& ctx, Item& item, const Next& next) override;
  absl::Status Find(const Context& ctx, const Query& query, const Stream& stream,
                    const Next& next) override;
  absl::Status Unregister(const Context& ctx, Item& item, const Next& next) override;

  // Cached queries, and Finds answered from the cache so far (tests, benchmarks).
  size_t size() const;
  uint64_t hits() const;

 private:
  struct State;
  class EntryWatch;
  std::shared_ptr<State> state_;
};

using NSServer = Server<NSTraits>;
using NSEServer = Server<NSETraits>;

inline std::shared_ptr<NSServer> NewNSServer(std::shared_ptr<Clock> clock, Options options = {}) {
  return std::make_shared<NSServer>(std::move(clock), options);
}
inline std::shared_ptr<NSEServer> NewNSEServer(std::shared_ptr<Clock> clock, Options options = {}) {
  return std::make_shared<NSEServer>(std::move(clock), options);
}

}  // namespace nsm::reg::findcache
