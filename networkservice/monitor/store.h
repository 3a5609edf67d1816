// monitor store: a hop's connections as its MonitorConnections subscribers see them; publishes
// INITIAL_STATE_TRANSFER, then UPDATE/DELETE filtered per selector (nsmgr.md §4.4, api.md §7.5).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "api/path.h"
#include "connection.pb.h"
#include "core/packed.h"
#include "core/typed_key.h"

namespace nsm::monitor {

using Connection = ::connection::Connection;
using ConnectionEvent = ::connection::ConnectionEvent;
using ConnectionEventType = ::connection::ConnectionEventType;
using MonitorScopeSelector = ::connection::MonitorScopeSelector;

class ConnectionStore;

// One subscriber's view: a bounded queue of events that the store fills and the consumer drains.
// Events wait in their wire form, made from the store's packed connections, so an event costs one
// string however many connections and path segments it carries, and a gRPC stream writes it
// without serializing it (PopWire). Dropping the last reference unsubscribes.
class Subscription : public std::enable_shared_from_this<Subscription> {
 public:
  ~Subscription();
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  // The oldest queued event; nullopt when none is queued.
  std::optional<ConnectionEvent> Pop();
  // The same in its wire form (a serialized ConnectionEvent).
  std::optional<std::string> PopWire();
  // PopWire, with the UPDATEs or DELETEs queued right behind an UPDATE or DELETE of the same type
  // merged into it (their connections appended, in order; a connection that comes twice is there
  // twice and a parser keeps the later one), up to `max_bytes` in all. Order across types is
  // kept, and an INITIAL_STATE_TRANSFER is never merged. Under load a stream then writes fewer,
  // larger messages.
  std::optional<std::string> PopWireMerged(size_t max_bytes);
  // Bounded real-time wait for the next event (in-process consumers and tests); nullopt when the
  // subscription ended with nothing queued, or on timeout.
  std::optional<ConnectionEvent> Recv(absl::Duration timeout);
  // No event will be queued any more (what is queued can still be popped).
  bool ended() const;
  // Why it ended: RESOURCE_EXHAUSTED (fell behind; its queue was dropped), UNAVAILABLE (store shut
  // down), CANCELLED (Cancel). OK while live.
  absl::Status status() const;
  // Unsubscribes; idempotent. No event is queued after it returns.
  void Cancel();
  const MonitorScopeSelector& selector() const { return selector_; }

 private:
  friend class ConnectionStore;
  Subscription(std::weak_ptr<ConnectionStore> store, uint64_t id, MonitorScopeSelector selector,
               size_t max_queued, std::function<void()> wake);
  // Under the store's lock. Return true when the consumer should be woken.
  bool Offer(std::string event);
  bool End(absl::Status status);

  std::weak_ptr<ConnectionStore> store_;
  const uint64_t id_;
  const MonitorScopeSelector selector_;
  const size_t max_queued_;
  const std::function<void()> wake_;
  mutable absl::Mutex mu_;
  std::deque<std::string> queue_ ABSL_GUARDED_BY(mu_);
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
};

struct StoreOptions {
  // Per-subscriber queue bound; a subscriber with this many undelivered events that gets one more
  // is ended with RESOURCE_EXHAUSTED (a slow peer never blocks the hop).
  size_t max_queued_events = 256;
  // Selector semantics: v1.11+ (name, id, token) by default; kNameOnly as api v1.1.1.
  api::SegmentMatch segment_match = api::SegmentMatch::kNameIdAndToken;
};

class ConnectionStore : public std::enable_shared_from_this<ConnectionStore> {
 public:
  static std::shared_ptr<ConnectionStore> Create(StoreOptions options = {});
  ~ConnectionStore();
  ConnectionStore(const ConnectionStore&) = delete;
  ConnectionStore& operator=(const ConnectionStore&) = delete;

  // UPDATE stores (replaces) each connection, DELETE removes it (a DELETE of a connection the
  // store does not hold is dropped); then every subscriber whose selector matches some of the
  // connections gets the event restricted to those. Never blocks.
  // InvalidArgument for INITIAL_STATE_TRANSFER (the store makes those itself), an empty key, or a
  // key that differs from a non-empty connection id.
  absl::Status Publish(const ConnectionEvent& event);
  // As Publish, for connections the store already holds; others are ignored. For downstream
  // monitoring, so a late event never resurrects a closed connection.
  absl::Status PublishIfPresent(const ConnectionEvent& event);
  absl::Status Update(const Connection& conn);
  absl::Status Delete(const Connection& conn);
  // An UPDATE of `conn` (as Publish, or PublishIfPresent with `only_present`) whose packed form
  // `packed` (Packed<Connection>(conn)) the caller has made already: it is stored as it is.
  absl::Status UpdatePacked(const Connection& conn, const Packed<Connection>& packed,
                            bool only_present);

  std::optional<Connection> Get(const std::string& id) const;
  size_t size() const;

  // Queues one INITIAL_STATE_TRANSFER with every stored connection matching `selector` (possibly
  // none), then matching UPDATE/DELETE events. `wake` runs on the publishing thread, outside the
  // store's lock, whenever the subscription got an event or ended; it must be short and never
  // block. max_queued 0 means StoreOptions::max_queued_events. After Shutdown the subscription is
  // born ended (UNAVAILABLE).
  std::shared_ptr<Subscription> Subscribe(const MonitorScopeSelector& selector,
                                          std::function<void()> wake = nullptr,
                                          size_t max_queued = 0);
  size_t subscribers() const;
  // The default bound of a subscriber's queue (StoreOptions::max_queued_events).
  size_t max_queued_events() const { return options_.max_queued_events; }

  // Ends every subscription with `status` (UNAVAILABLE when OK is given) and refuses new ones: the
  // end of the hop's chain context.
  void Shutdown(absl::Status status = absl::OkStatus());

 private:
  friend class Subscription;
  explicit ConnectionStore(StoreOptions options) : options_(options) {}
  // A subscription reached under mu_, held until mu_ is released (dropping the last reference
  // destroys it, and its Cancel takes mu_); woken then when `wake` is set.
  struct Touched {
    std::shared_ptr<Subscription> sub;
    bool wake;
  };
  // A stored connection, and the keys of its path's segment ids in by_segment_id_ (so that it can
  // be unindexed without unpacking it).
  struct Stored {
    Packed<Connection> packed;
    absl::InlinedVector<size_t, 4> segment_keys;
  };
  static size_t SegmentKey(absl::string_view segment_id);
  // Each subscriber's event of one Publish, in its wire form.
  using Outgoing = absl::flat_hash_map<std::shared_ptr<Subscription>, std::string>;
  absl::Status PublishLocked(const ConnectionEvent& event, bool only_present,
                             std::vector<Touched>& touched) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Stores or removes `conn` (already checked: id empty or `key`) and adds it to the event of
  // each subscriber it matches. `packed`: its packed form, when the caller has it.
  void PublishOneLocked(ConnectionEventType type, const std::string& key, const Connection& conn,
                        const Packed<Connection>* packed, bool only_present, Outgoing& out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Queues each subscriber's event and wakes none yet (see Touched).
  void OfferLocked(Outgoing& out, std::vector<Touched>& touched) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // One connection's UPDATE or DELETE, as Update/UpdatePacked/Delete make it.
  absl::Status PublishOne(ConnectionEventType type, const Connection& conn,
                          const Packed<Connection>* packed, bool only_present);
  void Index(const Connection& conn, Stored& stored) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Unindex(const std::string& id, const Stored& stored) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The id a subscriber is indexed under ("" = checked against every connection).
  std::string IndexKey(const MonitorScopeSelector& selector) const;
  void Unsubscribe(Subscription* sub);
  void UnsubscribeLocked(Subscription* sub) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static void Wake(const std::vector<Touched>& touched);

  const StoreOptions options_;
  mutable absl::Mutex mu_;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status shutdown_status_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  // Packed: one per connection this hop holds (a sixth of the parsed form's memory).
  absl::flat_hash_map<std::string, Stored> connections_ ABSL_GUARDED_BY(mu_);
  // SegmentKey(path segment id) -> ids of stored connections whose path has a segment with that
  // id. A key may stand for more than one segment id: what it finds is checked again.
  absl::flat_hash_map<size_t, absl::flat_hash_set<std::string>> by_segment_id_ ABSL_GUARDED_BY(mu_);
  // Subscribers by the id of their first selector segment, and those without one. A Subscription
  // unregisters itself before it is destroyed, except while the store itself is being destroyed
  // (its weak reference to the store no longer locks): so the store reaches a subscriber only
  // through a weak reference that it locks first.
  using Subscribers = absl::flat_hash_map<Subscription*, std::weak_ptr<Subscription>>;
  absl::flat_hash_map<std::string, Subscribers> by_first_id_ ABSL_GUARDED_BY(mu_);
  Subscribers unindexed_ ABSL_GUARDED_BY(mu_);
  size_t subscribers_ ABSL_GUARDED_BY(mu_) = 0;
};

// The hop's store, set in the context by the monitor server so the monitor client of the same hop
// republishes the next hop's events there.
inline const TypedKey<ConnectionStore> kStoreKey{"monitor.store"};

}  // namespace nsm::monitor
