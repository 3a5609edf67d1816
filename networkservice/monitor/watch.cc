#include "networkservice/monitor/watch.h"

#include "api/path.h"
#include "core/executor.h"

namespace nsm::monitor {
namespace {

using ::connection::ConnectionEventType;

bool IsBadNews(ConnectionEventType type, const ConnectionWire& x) {
  return type == ConnectionEventType::DELETE || x.state == ::connection::State::DOWN;
}

constexpr char kMethod[] = "/connection.MonitorConnection/MonitorConnections";

// Codes of a next hop that will not serve the shared selector (authorizing per connection).
bool RefusesSharing(const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::UNAUTHENTICATED:
      return true;
    default:
      return false;
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// MonitorStream

MonitorStream::MonitorStream(std::shared_ptr<connect::ClientConn> conn,
                             MonitorScopeSelector selector, std::weak_ptr<StreamSink> sink,
                             std::shared_ptr<WatchSet> set)
    : conn_(std::move(conn)),
      stub_(conn_->channel()),
      sink_(std::move(sink)),
      set_(std::move(set)) {
  grpc::Slice slice(selector.SerializeAsString());
  request_ = grpc::ByteBuffer(&slice, 1);
}

MonitorStream::~MonitorStream() = default;

std::shared_ptr<MonitorStream> MonitorStream::Start(std::shared_ptr<connect::ClientConn> conn,
                                                    MonitorScopeSelector selector,
                                                    std::weak_ptr<StreamSink> sink,
                                                    std::shared_ptr<WatchSet> set) {
  std::shared_ptr<MonitorStream> s(
      new MonitorStream(std::move(conn), std::move(selector), std::move(sink), set));
  if (!set->Add(s.get(), s)) return nullptr;
  s->self_ = s;
  s->stub_.PrepareBidiStreamingCall(&s->context_, kMethod, grpc::StubOptions(), s.get());
  s->StartWriteLast(&s->request_, grpc::WriteOptions());
  s->StartRead(&s->read_);
  s->StartCall();
  return s;
}

void MonitorStream::Cancel() {
  {
    absl::MutexLock lock(&mu_);
    if (cancelled_ || done_) {
      cancelled_ = true;
      return;
    }
    cancelled_ = true;
  }
  context_.TryCancel();  // before the call started, gRPC cancels it when it starts
}

void MonitorStream::OnReadDone(bool ok) {
  if (!ok) return;  // the stream ended: OnDone follows
  {
    absl::MutexLock lock(&mu_);
    if (cancelled_) return;
  }
  std::string bytes;
  std::vector<grpc::Slice> slices;
  bool read = true;
  if (read_.Valid()) {  // an empty event (zero bytes) may come without a buffer
    read = read_.Dump(&slices).ok();
    bytes.reserve(read_.Length());
    for (const auto& slice : slices) {
      bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
  }
  read_.Clear();
  EventWire event;
  if (!read || !event.Read(std::move(bytes))) {
    bad_event_ = grpc::Status(grpc::StatusCode::INTERNAL,
                              "monitor: an event from the next hop does not parse");
    context_.TryCancel();
    return;
  }
  got_message_ = true;
  if (auto sink = sink_.lock()) sink->OnStreamEvent(this, event);
  {
    absl::MutexLock lock(&mu_);
    if (cancelled_) return;
  }
  StartRead(&read_);
}

void MonitorStream::OnDone(const grpc::Status& status) {
  bool notify;
  {
    absl::MutexLock lock(&mu_);
    done_ = true;
    notify = !cancelled_;
  }
  if (notify) {
    if (auto sink = sink_.lock()) {
      sink->OnStreamDone(this, bad_event_.ok() ? status : bad_event_, got_message_);
    }
  }
  set_->Remove(this);
  // The last reference may own the channel. gRPC 1.51 can double-free when a channel is destroyed
  // on one of its own callback threads, so the reference is dropped on a pool thread instead.
  // Nothing may touch *this after this point.
  DefaultThreadPool()->Post([keep = std::move(self_)] {});
}

// ---------------------------------------------------------------------------------------------
// Watch

Watch::Watch(std::shared_ptr<connect::ClientConn> conn, const Connection& base,
             std::shared_ptr<ConnectionStore> store, std::shared_ptr<WatchSet> set)
    : conn_(std::move(conn)), store_(std::move(store)), set_(std::move(set)), filter_(base) {}

Watch::~Watch() { Cancel(); }

std::shared_ptr<Watch> Watch::Start(std::shared_ptr<connect::ClientConn> conn,
                                    const Connection& base, std::shared_ptr<ConnectionStore> store,
                                    std::shared_ptr<WatchSet> set) {
  const auto* own = api::CurrentSegment(base);
  const std::string name = own != nullptr ? own->name() : "";
  MonitorScopeSelector selector;
  auto* seg = selector.add_path_segments();
  seg->set_name(name);
  seg->set_id(own != nullptr ? own->id() : base.id());
  std::shared_ptr<Watch> w(new Watch(conn, base, std::move(store), set));
  {
    absl::MutexLock lock(&w->mu_);
    w->selector_ = std::move(selector);
  }
  if (name.empty() || w->segment_id().empty()) {
    w->StartDedicated();  // nothing to route a shared stream's events by
  } else {
    set->Register(conn, name, w);
  }
  return w;
}

void Watch::Cancel() {
  std::shared_ptr<MonitorStream> confirm, dedicated;
  std::shared_ptr<Channel> channel;
  {
    absl::MutexLock lock(&mu_);
    if (cancelled_) return;
    cancelled_ = true;
    confirm = std::move(confirm_);
    dedicated = std::move(dedicated_);
    channel = channel_.lock();
  }
  if (confirm) confirm->Cancel();
  if (dedicated) dedicated->Cancel();
  if (channel) channel->Remove(this);
}

bool Watch::Serves(const connect::ClientConn* cc, const Connection& conn) const {
  absl::MutexLock lock(&mu_);
  if (ended_ || cancelled_ || cc != conn_.get()) return false;
  const auto* seg = api::CurrentSegment(conn);
  const auto& want = selector_.path_segments(0);
  return seg != nullptr ? seg->name() == want.name() && seg->id() == want.id()
                        : conn.id() == want.id();
}

bool Watch::ended() const {
  absl::MutexLock lock(&mu_);
  return ended_;
}

void Watch::Replied() {
  absl::MutexLock lock(&mu_);
  down_ = false;
}

void Watch::PublishResult(const Connection& conn, bool create) {
  absl::MutexLock lock(&mu_);
  if (broken_ || down_) {
    Connection out = conn;
    out.set_state(::connection::State::DOWN);
    // broken: the base stays the reply, the store hears DOWN
    if (!down_) filter_.Rebase(conn);
    const Packed<Connection> packed(out);
    if (down_) filter_.Rebase(out, packed);
    (void)store_->UpdatePacked(out, packed, /*only_present=*/!create);
    return;
  }
  // The base and the published connection are the same: packed once for both.
  Packed<Connection> packed(conn);
  (void)store_->UpdatePacked(conn, packed, /*only_present=*/!create);
  filter_.Rebase(conn, std::move(packed));
}

void Watch::PublishLocked(ConnectionFilter::Mapped changed) {
  down_ = filter_.base_state() == ::connection::State::DOWN;
  (void)store_->UpdatePacked(changed.conn, changed.packed, /*only_present=*/true);
}

void Watch::ApplyLocked(const ConnectionEvent& event) {
  for (const auto& [key, x] : event.connections()) {
    if (!filter_.IsOurs(x)) continue;
    if (auto changed = filter_.Map(event.type(), x)) PublishLocked(*std::move(changed));
  }
}

void Watch::PublishDownLocked() {
  if (filter_.base_state() == ::connection::State::DOWN) return;
  Connection down = filter_.base();
  down.set_state(::connection::State::DOWN);
  Packed<Connection> packed(down);
  down_ = true;
  (void)store_->UpdatePacked(down, packed, /*only_present=*/true);
  filter_.Rebase(down, std::move(packed));
}

void Watch::StartConfirmLocked() {
  recheck_ = false;
  confirm_ = MonitorStream::Start(conn_, selector_, weak_from_this(), set_);
}

void Watch::StartDedicatedLocked() {
  if (confirm_) std::exchange(confirm_, nullptr)->Cancel();
  recheck_ = false;
  dedicated_ = MonitorStream::Start(conn_, selector_, weak_from_this(), set_);
}

void Watch::OnShared(ConnectionEventType type, const ConnectionWire& x) {
  absl::MutexLock lock(&mu_);
  if (cancelled_ || ended_ || dedicated_) return;
  if (!filter_.IsOurs(x)) return;
  if (!IsBadNews(type, x)) {
    if (auto changed = filter_.Map(type, x)) PublishLocked(*std::move(changed));
    return;
  }
  if (filter_.base_state() == ::connection::State::DOWN) return;  // said already
  if (confirm_) {
    recheck_ = true;  // the confirmation under way may predate this event
    return;
  }
  StartConfirmLocked();
}

void Watch::Confirm() {
  absl::MutexLock lock(&mu_);
  if (cancelled_ || ended_ || dedicated_) return;
  if (confirm_) {
    recheck_ = true;
    return;
  }
  StartConfirmLocked();
}

void Watch::StartDedicated() {
  absl::MutexLock lock(&mu_);
  if (cancelled_ || ended_ || dedicated_) return;
  StartDedicatedLocked();
}

void Watch::OnSharedEnded(bool unimplemented) {
  absl::MutexLock lock(&mu_);
  if (cancelled_ || ended_ || dedicated_) return;
  ended_ = true;
  if (confirm_) std::exchange(confirm_, nullptr)->Cancel();
  if (unimplemented) return;  // the next hop does not monitor: nothing to report
  broken_ = true;
  PublishDownLocked();
}

void Watch::OnStreamEvent(const void* stream, const EventWire& wire) {
  absl::MutexLock lock(&mu_);
  if (cancelled_ || ended_) return;
  const bool dedicated = dedicated_ && stream == dedicated_.get();
  if (!dedicated && (!confirm_ || stream != confirm_.get())) return;
  // Streams of one connection, seldom used: their events are parsed whole, and one that does not
  // parse (a string that is not UTF-8, a malformed field below the connection's path) ends the
  // stream as a broken one would: the confirmation cannot be had, or the connection is no longer
  // monitored; either way DOWN.
  std::optional<ConnectionEvent> parsed = wire.Unpack();
  if (!parsed) {
    if (dedicated) {
      std::exchange(dedicated_, nullptr)->Cancel();
      ended_ = true;
      broken_ = true;
    } else {
      std::exchange(confirm_, nullptr)->Cancel();
    }
    PublishDownLocked();
    return;
  }
  const ConnectionEvent& event = *parsed;
  if (dedicated) {
    ApplyLocked(event);
    return;
  }
  // The confirmation's INITIAL_STATE_TRANSFER: the next hop's state after the hint was sent.
  std::exchange(confirm_, nullptr)->Cancel();
  const Connection* x = filter_.Ours(event);
  if (x == nullptr) {
    PublishDownLocked();  // gone at the next hop
  } else if (x->state() == ::connection::State::DOWN) {
    ApplyLocked(event);
    PublishDownLocked();  // in case the mapped connection equalled the base
  } else if (recheck_) {
    StartConfirmLocked();  // more bad news came while this confirmation was under way
  }
  // Otherwise the hint was stale (a Close before a new Request): the connection lives on.
}

void Watch::OnStreamDone(const void* stream, const grpc::Status& status, bool got_message) {
  absl::MutexLock lock(&mu_);
  if (cancelled_ || ended_) return;
  if (confirm_ && stream == confirm_.get()) {
    confirm_ = nullptr;
    if (!got_message) PublishDownLocked();  // no confirmation to be had: assume the worst
    return;
  }
  if (dedicated_ && stream == dedicated_.get()) {
    dedicated_ = nullptr;
    ended_ = true;
    if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED) return;
    broken_ = true;
    PublishDownLocked();
  }
}

// ---------------------------------------------------------------------------------------------
// Channel

bool Channel::Add(const std::shared_ptr<Watch>& w, bool& confirm, bool& dedicated) {
  absl::MutexLock lock(&mu_);
  if (closing_) return false;
  const std::string& id = w->segment_id();
  watches_[id] = {w.get(), w};
  confirm = recent_bad_set_.erase(id) > 0;
  if (fallback_) {
    dedicated = true;
    return true;
  }
  if (!shared_) {
    if (auto set = set_.lock()) {
      MonitorScopeSelector selector;
      selector.add_path_segments()->set_name(name_);
      shared_ = MonitorStream::Start(conn_, std::move(selector), weak_from_this(), std::move(set));
    }
  }
  return true;
}

void Channel::Remove(const Watch* w) {
  std::shared_ptr<MonitorStream> shared;
  {
    absl::MutexLock lock(&mu_);
    auto it = watches_.find(w->segment_id());
    if (it == watches_.end() || it->second.first != w) return;
    watches_.erase(it);
    if (!watches_.empty() || closing_) return;
    if (shared_ && !fallback_ && linger_ > absl::ZeroDuration()) {
      idle_since_ = clock_->Now();
      if (!linger_timer_) ArmLingerLocked(linger_);  // else the armed one re-arms if need be
      return;
    }
    closing_ = true;
    shared = std::move(shared_);
  }
  Close(std::move(shared));
}

void Channel::ArmLingerLocked(absl::Duration after) {
  // The clock's callback must not block: the check runs on a pool thread.
  linger_timer_ = clock_->AfterFunc(after, [weak = weak_from_this()] {
    DefaultThreadPool()->Post([weak] {
      if (auto self = weak.lock()) self->LingerOver();
    });
  });
}

void Channel::LingerOver() {
  std::shared_ptr<MonitorStream> shared;
  {
    absl::MutexLock lock(&mu_);
    linger_timer_ = nullptr;  // fired
    if (closing_ || !watches_.empty()) return;
    const absl::Duration left = linger_ - clock_->Since(idle_since_);
    if (left > absl::ZeroDuration()) {  // used again since the timer was armed
      ArmLingerLocked(left);
      return;
    }
    closing_ = true;
    shared = std::move(shared_);
  }
  Close(std::move(shared));
}

void Channel::Shutdown() {
  std::shared_ptr<MonitorStream> shared;
  std::unique_ptr<Timer> timer;
  {
    absl::MutexLock lock(&mu_);
    closing_ = true;
    shared = std::move(shared_);
    timer = std::move(linger_timer_);
  }
  if (timer) timer->Stop();
  if (shared) shared->Cancel();
}

void Channel::Close(std::shared_ptr<MonitorStream> shared) {
  if (shared) shared->Cancel();
  if (auto set = set_.lock()) set->Forget(this);
}

void Channel::OnStreamEvent(const void* stream, const EventWire& event) {
  // The event outlives the calls below: each watch gets its connection by reference.
  absl::InlinedVector<std::pair<std::shared_ptr<Watch>, const ConnectionWire*>, 2> routed;
  {
    absl::MutexLock lock(&mu_);
    if (stream != shared_.get()) return;
    for (const auto& [key, x] : event.connections()) {
      bool found = false;
      for (const auto& seg : x.segments) {
        if (seg.name != name_ || seg.id.empty()) continue;
        auto it = watches_.find(seg.id);
        if (it == watches_.end()) {
          if (!IsBadNews(event.type(), x) || recent_bad_set_.contains(seg.id)) continue;
          // Maybe a connection whose Request reply has not been seen yet: remembered briefly.
          recent_bad_.emplace_back(seg.id);
          recent_bad_set_.emplace(seg.id);
          if (recent_bad_.size() > kRecentBadNews) {
            recent_bad_set_.erase(recent_bad_.front());
            recent_bad_.pop_front();
          }
          continue;
        }
        auto w = it->second.second.lock();
        if (!w || found) continue;
        found = true;
        routed.emplace_back(std::move(w), &x);
      }
    }
  }
  for (auto& [w, x] : routed) w->OnShared(event.type(), *x);
}

void Channel::OnStreamDone(const void* stream, const grpc::Status& status, bool got_message) {
  std::vector<std::shared_ptr<Watch>> watches;
  const bool refused = !got_message && RefusesSharing(status);
  {
    absl::MutexLock lock(&mu_);
    if (stream != shared_.get()) return;
    shared_ = nullptr;
    for (const auto& [id, entry] : watches_) {
      if (auto w = entry.second.lock()) watches.push_back(std::move(w));
    }
    if (refused) {
      fallback_ = true;
    } else {
      watches_.clear();
      closing_ = true;
    }
  }
  if (refused) {
    for (auto& w : watches) w->StartDedicated();
    return;
  }
  const bool unimplemented = status.error_code() == grpc::StatusCode::UNIMPLEMENTED;
  for (auto& w : watches) w->OnSharedEnded(unimplemented);
  if (auto set = set_.lock()) set->Forget(this);
}

// ---------------------------------------------------------------------------------------------
// WatchSet

WatchSet::WatchSet(WatchOptions options) : options_(std::move(options)) {}

size_t WatchSet::open() const {
  absl::MutexLock lock(&streams_mu_);
  return streams_.size();
}

uint64_t WatchSet::started() const {
  absl::MutexLock lock(&streams_mu_);
  return started_;
}

size_t WatchSet::channels() const {
  absl::MutexLock lock(&channels_mu_);
  return channels_.size();
}

bool WatchSet::Add(MonitorStream* s, std::weak_ptr<MonitorStream> weak) {
  absl::MutexLock lock(&streams_mu_);
  if (closed_) return false;
  streams_.emplace(s, std::move(weak));
  ++started_;
  return true;
}

void WatchSet::Remove(MonitorStream* s) {
  absl::MutexLock lock(&streams_mu_);
  streams_.erase(s);
}

void WatchSet::Register(const std::shared_ptr<connect::ClientConn>& conn, const std::string& name,
                        const std::shared_ptr<Watch>& w) {
  bool confirm = false;
  bool dedicated = false;
  std::shared_ptr<Channel> channel;
  {
    absl::MutexLock lock(&channels_mu_);
    auto& slot = channels_[{conn.get(), name}];
    if (!slot || !slot->Add(w, confirm, dedicated)) {
      slot = std::make_shared<Channel>(conn, name, weak_from_this(),
                                       options_.clock ? options_.clock : RealClock(),
                                       options_.stream_linger);
      slot->Add(w, confirm, dedicated);
    }
    channel = slot;
  }
  {
    absl::MutexLock lock(&w->mu_);
    w->channel_ = channel;
  }
  if (dedicated) w->StartDedicated();
  if (confirm) w->Confirm();
}

void WatchSet::Forget(const Channel* c) {
  std::shared_ptr<Channel> gone;  // destroyed outside the lock
  absl::MutexLock lock(&channels_mu_);
  auto it = channels_.find(std::make_pair(c->conn(), c->name()));
  if (it == channels_.end() || it->second.get() != c) return;
  gone = std::move(it->second);
  channels_.erase(it);
}

bool WatchSet::CancelAll(absl::Duration timeout) {
  std::vector<std::shared_ptr<MonitorStream>> open;
  {
    absl::MutexLock lock(&streams_mu_);
    closed_ = true;  // first: a channel made from now on starts no stream
    for (const auto& [ptr, weak] : streams_) {
      if (auto alive = weak.lock()) open.push_back(std::move(alive));
    }
  }
  absl::flat_hash_map<std::pair<const connect::ClientConn*, std::string>, std::shared_ptr<Channel>>
      channels;
  {
    absl::MutexLock lock(&channels_mu_);
    channels.swap(channels_);
  }
  for (auto& [key, channel] : channels) channel->Shutdown();
  channels.clear();
  for (auto& s : open) s->Cancel();
  open.clear();
  absl::MutexLock lock(&streams_mu_);
  auto empty = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(streams_mu_) { return streams_.empty(); };
  return streams_mu_.AwaitWithTimeout(absl::Condition(&empty), timeout);
}

}  // namespace nsm::monitor
