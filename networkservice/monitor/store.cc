#include "networkservice/monitor/store.h"

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"

namespace nsm::monitor {
namespace {

// An event of `type` about `conn`, keyed by its id.
ConnectionEvent Event(connection::ConnectionEventType type, Connection conn) {
  ConnectionEvent e;
  e.set_type(type);
  std::string key = conn.id();
  (*e.mutable_connections())[std::move(key)] = std::move(conn);
  return e;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Subscription

Subscription::Subscription(std::weak_ptr<ConnectionStore> store, uint64_t id,
                           MonitorScopeSelector selector, size_t max_queued,
                           std::function<void()> wake)
    : store_(std::move(store)),
      id_(id),
      selector_(std::move(selector)),
      max_queued_(max_queued),
      wake_(std::move(wake)) {}

Subscription::~Subscription() { Cancel(); }

std::optional<ConnectionEvent> Subscription::Pop() {
  absl::MutexLock lock(&mu_);
  if (queue_.empty()) return std::nullopt;
  ConnectionEvent e = std::move(queue_.front());
  queue_.pop_front();
  return e;
}

std::optional<ConnectionEvent> Subscription::Recv(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return ended_ || !queue_.empty(); };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  if (queue_.empty()) return std::nullopt;
  ConnectionEvent e = std::move(queue_.front());
  queue_.pop_front();
  return e;
}

bool Subscription::ended() const {
  absl::MutexLock lock(&mu_);
  return ended_;
}

absl::Status Subscription::status() const {
  absl::MutexLock lock(&mu_);
  return status_;
}

void Subscription::Cancel() {
  if (auto store = store_.lock()) store->Unsubscribe(this);
  absl::MutexLock lock(&mu_);
  if (ended_) return;
  ended_ = true;
  status_ = absl::CancelledError("monitor subscription cancelled");
}

bool Subscription::Offer(ConnectionEvent event) {
  absl::MutexLock lock(&mu_);
  if (ended_) return false;
  if (queue_.size() >= max_queued_) {
    queue_.clear();
    ended_ = true;
    status_ = absl::ResourceExhaustedError(
        absl::StrCat("monitor subscriber fell behind: ", max_queued_,
                     " events were waiting for delivery when another one arrived"));
    return true;
  }
  queue_.push_back(std::move(event));
  return queue_.size() == 1;
}

bool Subscription::End(absl::Status status) {
  absl::MutexLock lock(&mu_);
  if (ended_) return false;
  ended_ = true;
  status_ = std::move(status);
  return true;
}

// ---------------------------------------------------------------------------------------------
// ConnectionStore

std::shared_ptr<ConnectionStore> ConnectionStore::Create(StoreOptions options) {
  if (options.max_queued_events == 0) options.max_queued_events = 1;
  return std::shared_ptr<ConnectionStore>(new ConnectionStore(options));
}

ConnectionStore::~ConnectionStore() { Shutdown(); }

std::string ConnectionStore::IndexKey(const MonitorScopeSelector& selector) const {
  if (options_.segment_match != api::SegmentMatch::kNameIdAndToken) return "";
  if (selector.path_segments().empty()) return "";
  return selector.path_segments(0).id();
}

size_t ConnectionStore::SegmentKey(absl::string_view segment_id) {
  return absl::Hash<absl::string_view>{}(segment_id);
}

void ConnectionStore::Index(const Connection& conn, Stored& stored) {
  stored.segment_keys.clear();
  for (const auto& seg : conn.path().path_segments()) {
    if (seg.id().empty()) continue;
    const size_t key = SegmentKey(seg.id());
    if (by_segment_id_[key].insert(conn.id()).second) stored.segment_keys.push_back(key);
  }
}

void ConnectionStore::Unindex(const std::string& id, const Stored& stored) {
  for (size_t key : stored.segment_keys) {
    auto it = by_segment_id_.find(key);
    if (it == by_segment_id_.end()) continue;
    it->second.erase(id);
    if (it->second.empty()) by_segment_id_.erase(it);
  }
}

absl::Status ConnectionStore::PublishLocked(ConnectionEvent& event, bool only_present,
                                            std::vector<Touched>& touched,
                                            const Packed<Connection>* packed) {
  using connection::ConnectionEventType;
  if (event.type() != ConnectionEventType::UPDATE && event.type() != ConnectionEventType::DELETE) {
    return absl::InvalidArgumentError(absl::StrCat(
        "monitor: cannot publish an event of type ",
        connection::ConnectionEventType_Name(event.type()),
        ": only UPDATE and DELETE are accepted (the store produces INITIAL_STATE_TRANSFER)"));
  }
  for (const auto& [key, conn] : event.connections()) {
    if (key.empty()) {
      return absl::InvalidArgumentError("monitor: event.connections has an empty key");
    }
    if (!conn.id().empty() && conn.id() != key) {
      return absl::InvalidArgumentError(absl::StrCat(
          "monitor: event.connections[\"", key, "\"].id is \"", conn.id(), "\", expected the key"));
    }
  }
  // Subscribers being destroyed (their Cancel waits for mu_ to unsubscribe) are skipped.
  absl::flat_hash_map<std::shared_ptr<Subscription>, ConnectionEvent> out;
  std::vector<std::shared_ptr<Subscription>> matched;
  for (auto& [key, conn] : *event.mutable_connections()) {
    conn.set_id(key);
    auto stored = connections_.find(key);
    // Unknown connections: PublishIfPresent ignores them; a DELETE of one is no news to anyone.
    if (stored == connections_.end() &&
        (only_present || event.type() == ConnectionEventType::DELETE)) {
      continue;
    }
    if (stored != connections_.end()) Unindex(key, stored->second);
    if (event.type() == ConnectionEventType::UPDATE) {
      Stored& entry = stored != connections_.end() ? stored->second : connections_[key];
      Index(conn, entry);
      entry.packed = packed != nullptr ? *packed : Packed<Connection>(conn);
    } else {
      connections_.erase(stored);
    }
    // A subscriber is registered under one key, so it is reached at most once per connection.
    matched.clear();
    auto consider = [&](const std::weak_ptr<Subscription>& weak) {
      std::shared_ptr<Subscription> sub = weak.lock();
      if (!sub) return;
      if (!api::MatchesMonitorScopeSelector(conn, sub->selector(), options_.segment_match)) return;
      matched.push_back(std::move(sub));
    };
    for (const auto& [ptr, weak] : unindexed_) consider(weak);
    absl::flat_hash_set<std::string> seen;
    for (const auto& seg : conn.path().path_segments()) {
      if (seg.id().empty() || !seen.insert(seg.id()).second) continue;
      auto it = by_first_id_.find(seg.id());
      if (it == by_first_id_.end()) continue;
      for (const auto& [ptr, weak] : it->second) consider(weak);
    }
    // The last subscriber takes the connection itself, the others a copy.
    for (size_t i = 0; i < matched.size(); ++i) {
      auto& e = out[matched[i]];
      e.set_type(event.type());
      Connection& slot = (*e.mutable_connections())[key];
      if (i + 1 < matched.size()) {
        slot = conn;
      } else {
        slot = std::move(conn);
      }
    }
  }
  for (auto& [sub, e] : out) {
    bool wake = sub->Offer(std::move(e));
    if (wake && sub->ended()) UnsubscribeLocked(sub.get());  // fell behind: no more events for it
    touched.push_back({sub, wake});
  }
  return absl::OkStatus();
}

void ConnectionStore::Wake(const std::vector<Touched>& touched) {
  for (const auto& [sub, wake] : touched) {
    if (wake && sub->wake_) sub->wake_();
  }
}

absl::Status ConnectionStore::Publish(ConnectionEvent event) {
  std::vector<Touched> touched;
  absl::Status s;
  {
    absl::MutexLock lock(&mu_);
    s = PublishLocked(event, /*only_present=*/false, touched);
  }
  Wake(touched);
  return s;
}

absl::Status ConnectionStore::PublishIfPresent(ConnectionEvent event) {
  std::vector<Touched> touched;
  absl::Status s;
  {
    absl::MutexLock lock(&mu_);
    s = PublishLocked(event, /*only_present=*/true, touched);
  }
  Wake(touched);
  return s;
}

absl::Status ConnectionStore::Update(const Connection& conn) {
  return Publish(Event(connection::ConnectionEventType::UPDATE, conn));
}

absl::Status ConnectionStore::UpdatePacked(Connection conn, const Packed<Connection>& packed,
                                           bool only_present) {
  // An empty id is an empty key, which PublishLocked refuses before it looks at `packed`.
  ConnectionEvent e = Event(connection::ConnectionEventType::UPDATE, std::move(conn));
  std::vector<Touched> touched;
  absl::Status s;
  {
    absl::MutexLock lock(&mu_);
    s = PublishLocked(e, only_present, touched, &packed);
  }
  Wake(touched);
  return s;
}

absl::Status ConnectionStore::Delete(const Connection& conn) {
  return Publish(Event(connection::ConnectionEventType::DELETE, conn));
}

std::optional<Connection> ConnectionStore::Get(const std::string& id) const {
  absl::MutexLock lock(&mu_);
  auto it = connections_.find(id);
  if (it == connections_.end()) return std::nullopt;
  return it->second.packed.Unpack();
}

size_t ConnectionStore::size() const {
  absl::MutexLock lock(&mu_);
  return connections_.size();
}

std::shared_ptr<Subscription> ConnectionStore::Subscribe(const MonitorScopeSelector& selector,
                                                         std::function<void()> wake,
                                                         size_t max_queued) {
  if (max_queued == 0) max_queued = options_.max_queued_events;
  std::shared_ptr<Subscription> sub;
  {
    absl::MutexLock lock(&mu_);
    sub.reset(
        new Subscription(weak_from_this(), next_id_++, selector, max_queued, std::move(wake)));
    if (shut_down_) {
      sub->End(shutdown_status_);
    } else {
      ConnectionEvent initial;
      initial.set_type(connection::ConnectionEventType::INITIAL_STATE_TRANSFER);
      auto add = [&](const Connection& conn) {
        if (api::MatchesMonitorScopeSelector(conn, selector, options_.segment_match)) {
          (*initial.mutable_connections())[conn.id()] = conn;
        }
      };
      const std::string key = IndexKey(selector);
      if (key.empty()) {
        for (const auto& [id, stored] : connections_) add(stored.packed.Unpack());
      } else if (auto it = by_segment_id_.find(SegmentKey(key)); it != by_segment_id_.end()) {
        for (const auto& id : it->second) add(connections_.at(id).packed.Unpack());
      }
      sub->Offer(std::move(initial));
      (key.empty() ? unindexed_ : by_first_id_[key]).emplace(sub.get(), sub);
      ++subscribers_;
    }
  }
  return sub;
}

void ConnectionStore::UnsubscribeLocked(Subscription* sub) {
  bool removed = unindexed_.erase(sub) > 0;
  if (!removed) {
    const std::string key = IndexKey(sub->selector());
    if (auto it = by_first_id_.find(key); it != by_first_id_.end()) {
      removed = it->second.erase(sub) > 0;
      if (it->second.empty()) by_first_id_.erase(it);
    }
  }
  if (removed) --subscribers_;
}

void ConnectionStore::Unsubscribe(Subscription* sub) {
  absl::MutexLock lock(&mu_);
  UnsubscribeLocked(sub);
}

size_t ConnectionStore::subscribers() const {
  absl::MutexLock lock(&mu_);
  return subscribers_;
}

void ConnectionStore::Shutdown(absl::Status status) {
  if (status.ok()) status = absl::UnavailableError("monitor connection server is shutting down");
  std::vector<Touched> touched;
  {
    absl::MutexLock lock(&mu_);
    if (shut_down_) return;
    shut_down_ = true;
    shutdown_status_ = status;
    auto end = [&](const std::weak_ptr<Subscription>& weak) {
      std::shared_ptr<Subscription> sub = weak.lock();
      if (!sub) return;  // being destroyed
      bool wake = sub->End(status);
      touched.push_back({std::move(sub), wake});
    };
    for (const auto& [ptr, weak] : unindexed_) end(weak);
    for (const auto& [id, subs] : by_first_id_) {
      for (const auto& [ptr, weak] : subs) end(weak);
    }
    unindexed_.clear();
    by_first_id_.clear();
    subscribers_ = 0;
  }
  Wake(touched);
}

}  // namespace nsm::monitor
