// memory: the NS/NSE store with exact Find and watch streams (snapshot, then every change in
// store order; deleted=true for NSE and NS) (registry.md §3.6, §4, fixes §7.1-7.2).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "core/executor.h"
#include "core/registry.h"
#include "registry/matchutils/match.h"

namespace nsm::reg::memory {

struct Options {
  match::Options match = {};
  // Where watcher clean-up after a cancelled stream runs (never on the cancelling thread, which may
  // hold a stream lock).
  std::shared_ptr<ThreadPool> pool = DefaultThreadPool();
};

// Register calls next first and stores the response under its name (last writer wins); Unregister
// removes the entry and tells watchers, then calls next. Find sends the matches in registration
// order, then calls next (watch: next first, then snapshot and updates; returns at once). Events
// are sent to watchers under the store lock, so each watcher sees the store's order; streams
// must not block in Send (FindStream contract). A watcher whose Send fails is dropped.
template <class T>
class Server : public RegistryServer<T> {
 public:
  using typename RegistryServer<T>::Item;
  using typename RegistryServer<T>::Query;
  using typename RegistryServer<T>::Response;
  using typename RegistryServer<T>::Stream;
  using typename RegistryServer<T>::Next;

  explicit Server(Options options = {});
  // Finishes the streams of the remaining watchers with UNAVAILABLE.
  ~Server() override;

  absl::StatusOr<Item> Register(const Context& ctx, Item& item, const Next& next) override;
  absl::Status Find(const Context& ctx, const Query& query, const Stream& stream,
                    const Next& next) override;
  absl::Status Unregister(const Context& ctx, Item& item, const Next& next) override;

  size_t size() const;
  size_t watchers() const;
  std::optional<Item> Get(const std::string& name) const;
  // Whether an item of this name is stored, without waiting for the store's lock: true also when
  // the lock is busy (for callers on gRPC's threads, such as the transport's admission, which
  // take a busy store's answer as "stored").
  bool MaybeContains(const std::string& name) const;
  // Every stored item, in registration order.
  std::vector<Item> List() const;

 private:
  struct Watcher;
  struct State;
  std::shared_ptr<State> state_;
};

extern template class Server<NSTraits>;
extern template class Server<NSETraits>;
using NSServer = Server<NSTraits>;
using NSEServer = Server<NSETraits>;

inline std::shared_ptr<NSServer> NewNSServer(Options options = {}) {
  return std::make_shared<NSServer>(std::move(options));
}
inline std::shared_ptr<NSEServer> NewNSEServer(Options options = {}) {
  return std::make_shared<NSEServer>(std::move(options));
}

}  // namespace nsm::reg::memory
