#include "networkservice/monitor/store.h"

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"

namespace nsm::monitor {
namespace {

using google::protobuf::internal::WireFormatLite;
using google::protobuf::io::CodedOutputStream;

void AppendVarint(std::string& out, uint32_t value) {
  uint8_t buf[5];
  const uint8_t* end = CodedOutputStream::WriteVarint32ToArray(value, buf);
  out.append(reinterpret_cast<const char*>(buf), end - buf);
}

// A ConnectionEvent in its wire form (api.md §7.5: type = 1, connections = 2, a map whose entries
// have key = 1 and value = 2) is its type, then one entry per connection: the packed connection
// goes in as it is. INITIAL_STATE_TRANSFER is 0, which proto3 does not write.
std::string EventHeader(ConnectionEventType type) {
  std::string out;
  if (type != 0) {
    AppendVarint(out, WireFormatLite::MakeTag(1, WireFormatLite::WIRETYPE_VARINT));
    AppendVarint(out, static_cast<uint32_t>(type));
  }
  return out;
}

void AppendConnection(std::string& out, absl::string_view key, absl::string_view packed) {
  constexpr uint32_t kKey = WireFormatLite::MakeTag(1, WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
  constexpr uint32_t kValue = WireFormatLite::MakeTag(2, WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
  constexpr uint32_t kEntry = kValue;  // connections = 2
  const auto key_size = static_cast<uint32_t>(key.size());
  const auto value_size = static_cast<uint32_t>(packed.size());
  const uint32_t entry = 1 + CodedOutputStream::VarintSize32(key_size) + key_size + 1 +
                         CodedOutputStream::VarintSize32(value_size) + value_size;
  out.reserve(out.size() + 1 + CodedOutputStream::VarintSize32(entry) + entry);
  AppendVarint(out, kEntry);
  AppendVarint(out, entry);
  AppendVarint(out, kKey);
  AppendVarint(out, key_size);
  out.append(key.data(), key.size());
  AppendVarint(out, kValue);
  AppendVarint(out, value_size);
  out.append(packed.data(), packed.size());
}

// The type of an event the store made: EventHeader wrote it first, one byte each for the tag and
// the value (INITIAL_STATE_TRANSFER, 0, writes no header).
ConnectionEventType TypeOf(absl::string_view wire) {
  constexpr char kTypeTag = WireFormatLite::MakeTag(1, WireFormatLite::WIRETYPE_VARINT);
  if (wire.size() < 2 || wire[0] != kTypeTag) return ::connection::INITIAL_STATE_TRANSFER;
  return static_cast<ConnectionEventType>(wire[1]);
}

std::optional<ConnectionEvent> Parse(const std::string& wire) {
  ConnectionEvent e;
  (void)e.ParseFromString(wire);  // made by the store: always parses
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
  auto wire = PopWire();
  if (!wire) return std::nullopt;
  return Parse(*wire);
}

std::optional<std::string> Subscription::PopWire() {
  absl::MutexLock lock(&mu_);
  if (queue_.empty()) return std::nullopt;
  std::string e = std::move(queue_.front());
  queue_.pop_front();
  return e;
}

std::optional<std::string> Subscription::PopWireMerged(size_t max_bytes) {
  absl::MutexLock lock(&mu_);
  if (queue_.empty()) return std::nullopt;
  std::string e = std::move(queue_.front());
  queue_.pop_front();
  const ConnectionEventType type = TypeOf(e);
  if (type != ::connection::UPDATE && type != ::connection::DELETE) return e;
  const size_t header = EventHeader(type).size();
  while (!queue_.empty() && TypeOf(queue_.front()) == type &&
         e.size() + queue_.front().size() - header <= max_bytes) {
    e.append(queue_.front(), header);  // its connections, without its own type
    queue_.pop_front();
  }
  return e;
}

std::optional<ConnectionEvent> Subscription::Recv(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return ended_ || !queue_.empty(); };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  if (queue_.empty()) return std::nullopt;
  std::string e = std::move(queue_.front());
  queue_.pop_front();
  return Parse(e);
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

bool Subscription::Offer(std::string event) {
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

absl::Status ConnectionStore::PublishLocked(const ConnectionEvent& event, bool only_present,
                                            std::vector<Touched>& touched) {
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
  Outgoing out;
  for (const auto& [key, conn] : event.connections()) {
    PublishOneLocked(event.type(), key, conn, nullptr, only_present, out);
  }
  OfferLocked(out, touched);
  return absl::OkStatus();
}

void ConnectionStore::PublishOneLocked(ConnectionEventType type, const std::string& key,
                                       const Connection& conn, const Packed<Connection>* packed,
                                       bool only_present, Outgoing& out) {
  if (conn.id().empty()) {  // an event may leave a connection's id to its key
    Connection keyed = conn;
    keyed.set_id(key);
    PublishOneLocked(type, key, keyed, nullptr, only_present, out);
    return;
  }
  auto stored = connections_.find(key);
  // Unknown connections: PublishIfPresent ignores them; a DELETE of one is no news to anyone.
  if (stored == connections_.end() && (only_present || type == ConnectionEventType::DELETE)) {
    return;
  }
  if (stored != connections_.end()) Unindex(key, stored->second);
  if (type == ConnectionEventType::UPDATE) {
    Stored& entry = stored != connections_.end() ? stored->second : connections_[key];
    Index(conn, entry);
    entry.packed = packed != nullptr ? *packed : Packed<Connection>(conn);
    packed = &entry.packed;  // not moved before the subscribers' events are made below
  } else {
    connections_.erase(stored);
  }
  // A subscriber is registered under one key, so it is reached at most once per connection.
  absl::InlinedVector<std::shared_ptr<Subscription>, 4> matched;
  auto consider = [&](const std::weak_ptr<Subscription>& weak) {
    std::shared_ptr<Subscription> sub = weak.lock();
    if (!sub) return;  // being destroyed: its Cancel waits for mu_ to unsubscribe
    if (!api::MatchesMonitorScopeSelector(conn, sub->selector(), options_.segment_match)) return;
    matched.push_back(std::move(sub));
  };
  for (const auto& [ptr, weak] : unindexed_) consider(weak);
  absl::InlinedVector<absl::string_view, 8> seen;
  for (const auto& seg : conn.path().path_segments()) {
    if (seg.id().empty() || std::find(seen.begin(), seen.end(), seg.id()) != seen.end()) continue;
    seen.push_back(seg.id());
    auto it = by_first_id_.find(seg.id());
    if (it == by_first_id_.end()) continue;
    for (const auto& [ptr, weak] : it->second) consider(weak);
  }
  if (matched.empty()) return;
  std::optional<Packed<Connection>> deleted;
  if (packed == nullptr) packed = &deleted.emplace(conn);
  for (auto& sub : matched) {
    auto [it, added] = out.try_emplace(std::move(sub));
    if (added) it->second = EventHeader(type);
    AppendConnection(it->second, key, packed->wire());
  }
}

void ConnectionStore::OfferLocked(Outgoing& out, std::vector<Touched>& touched) {
  for (auto& [sub, e] : out) {
    bool wake = sub->Offer(std::move(e));
    if (wake && sub->ended()) UnsubscribeLocked(sub.get());  // fell behind: no more events for it
    touched.push_back({sub, wake});
  }
}

void ConnectionStore::Wake(const std::vector<Touched>& touched) {
  for (const auto& [sub, wake] : touched) {
    if (wake && sub->wake_) sub->wake_();
  }
}

absl::Status ConnectionStore::Publish(const ConnectionEvent& event) {
  std::vector<Touched> touched;
  absl::Status s;
  {
    absl::MutexLock lock(&mu_);
    s = PublishLocked(event, /*only_present=*/false, touched);
  }
  Wake(touched);
  return s;
}

absl::Status ConnectionStore::PublishIfPresent(const ConnectionEvent& event) {
  std::vector<Touched> touched;
  absl::Status s;
  {
    absl::MutexLock lock(&mu_);
    s = PublishLocked(event, /*only_present=*/true, touched);
  }
  Wake(touched);
  return s;
}

absl::Status ConnectionStore::PublishOne(ConnectionEventType type, const Connection& conn,
                                         const Packed<Connection>* packed, bool only_present) {
  if (conn.id().empty()) {
    return absl::InvalidArgumentError("monitor: event.connections has an empty key");
  }
  std::vector<Touched> touched;
  {
    absl::MutexLock lock(&mu_);
    Outgoing out;
    PublishOneLocked(type, conn.id(), conn, packed, only_present, out);
    OfferLocked(out, touched);
  }
  Wake(touched);
  return absl::OkStatus();
}

absl::Status ConnectionStore::Update(const Connection& conn) {
  return PublishOne(ConnectionEventType::UPDATE, conn, nullptr, /*only_present=*/false);
}

absl::Status ConnectionStore::UpdatePacked(const Connection& conn, const Packed<Connection>& packed,
                                           bool only_present) {
  return PublishOne(ConnectionEventType::UPDATE, conn, &packed, only_present);
}

absl::Status ConnectionStore::Delete(const Connection& conn) {
  return PublishOne(ConnectionEventType::DELETE, conn, nullptr, /*only_present=*/false);
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
      std::string initial = EventHeader(ConnectionEventType::INITIAL_STATE_TRANSFER);
      const bool all = selector.path_segments().empty() && selector.network_services().empty();
      auto add = [&](const std::string& id, const Stored& stored) {
        if (all || api::MatchesMonitorScopeSelector(stored.packed.Unpack(), selector,
                                                    options_.segment_match)) {
          AppendConnection(initial, id, stored.packed.wire());
        }
      };
      const std::string key = IndexKey(selector);
      if (key.empty()) {
        for (const auto& [id, stored] : connections_) add(id, stored);
      } else if (auto it = by_segment_id_.find(SegmentKey(key)); it != by_segment_id_.end()) {
        for (const auto& id : it->second) add(id, connections_.at(id));
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
