#include "networkservice/monitor/watch.h"

#include "api/path.h"
#include "core/executor.h"

namespace nsm::monitor {

Watch::Watch(std::shared_ptr<connect::ClientConn> conn, Connection base,
             std::shared_ptr<ConnectionStore> store, std::shared_ptr<WatchSet> set)
    : conn_(std::move(conn)),
      stub_(::connection::MonitorConnection::NewStub(conn_->channel())),
      store_(std::move(store)),
      set_(std::move(set)),
      filter_(std::move(base)) {}

Watch::~Watch() = default;

std::shared_ptr<Watch> Watch::Start(std::shared_ptr<connect::ClientConn> conn, Connection base,
                                    std::shared_ptr<ConnectionStore> store,
                                    std::shared_ptr<WatchSet> set) {
  std::shared_ptr<Watch> w(
      new Watch(std::move(conn), std::move(base), std::move(store), std::move(set)));
  {
    absl::MutexLock lock(&w->mu_);
    auto* seg = w->selector_.add_path_segments();
    if (const auto* own = api::CurrentSegment(w->filter_.base())) {
      seg->set_name(own->name());
      seg->set_id(own->id());
    } else {
      seg->set_id(w->filter_.base().id());
    }
  }
  w->self_ = w;
  w->set_->Add(w.get());
  w->stub_->async()->MonitorConnections(&w->context_, &w->selector_, w.get());
  w->StartRead(&w->event_);
  w->StartCall();
  return w;
}

void Watch::Cancel() {
  {
    absl::MutexLock lock(&mu_);
    if (cancelled_ || done_) {
      cancelled_ = true;
      return;
    }
    cancelled_ = true;
  }
  context_.TryCancel();
}

bool Watch::Serves(const connect::ClientConn* cc, const Connection& conn) const {
  absl::MutexLock lock(&mu_);
  if (done_ || cancelled_ || cc != conn_.get()) return false;
  const auto* seg = api::CurrentSegment(conn);
  const auto& want = selector_.path_segments(0);
  return seg != nullptr ? seg->name() == want.name() && seg->id() == want.id()
                        : conn.id() == want.id();
}

bool Watch::ended() const {
  absl::MutexLock lock(&mu_);
  return done_;
}

void Watch::PublishResult(const Connection& conn, bool create) {
  absl::MutexLock lock(&mu_);
  filter_.Rebase(conn);
  Connection out = conn;
  if (broken_) out.set_state(::connection::State::DOWN);
  ConnectionEvent e;
  e.set_type(::connection::ConnectionEventType::UPDATE);
  (*e.mutable_connections())[out.id()] = std::move(out);
  (void)(create ? store_->Publish(e) : store_->PublishIfPresent(e));
}

void Watch::OnReadDone(bool ok) {
  if (!ok) return;  // the stream ended: OnDone follows
  {
    absl::MutexLock lock(&mu_);
    if (!cancelled_) {
      std::vector<Connection> changed = filter_.Apply(event_);
      if (!changed.empty()) {
        ConnectionEvent out;
        out.set_type(::connection::ConnectionEventType::UPDATE);
        for (auto& c : changed) (*out.mutable_connections())[c.id()] = std::move(c);
        (void)store_->PublishIfPresent(out);
      }
    }
  }
  StartRead(&event_);
}

void Watch::OnDone(const grpc::Status& status) {
  {
    absl::MutexLock lock(&mu_);
    done_ = true;
    if (!cancelled_ && status.error_code() != grpc::StatusCode::UNIMPLEMENTED) {
      broken_ = true;
      Connection down = filter_.base();
      down.set_state(::connection::State::DOWN);
      filter_.Rebase(down);
      ConnectionEvent e;
      e.set_type(::connection::ConnectionEventType::UPDATE);
      (*e.mutable_connections())[down.id()] = std::move(down);
      (void)store_->PublishIfPresent(e);
    }
  }
  set_->Remove(this);
  // The last reference may own the channel. gRPC 1.51 can double-free when a channel is destroyed
  // on one of its own callback threads, so the reference is dropped on a pool thread instead.
  // Nothing may touch *this after this point.
  DefaultThreadPool()->Post([keep = std::move(self_)] {});
}

size_t WatchSet::open() const {
  absl::MutexLock lock(&mu_);
  return watches_.size();
}

void WatchSet::Add(Watch* w) {
  absl::MutexLock lock(&mu_);
  watches_.insert(w);
}

void WatchSet::Remove(Watch* w) {
  absl::MutexLock lock(&mu_);
  watches_.erase(w);
}

bool WatchSet::CancelAll(absl::Duration timeout) {
  std::vector<std::shared_ptr<Watch>> open;
  {
    absl::MutexLock lock(&mu_);
    for (Watch* w : watches_) {
      if (auto alive = w->weak_from_this().lock()) open.push_back(std::move(alive));
    }
  }
  for (auto& w : open) w->Cancel();
  open.clear();
  absl::MutexLock lock(&mu_);
  auto empty = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return watches_.empty(); };
  return mu_.AwaitWithTimeout(absl::Condition(&empty), timeout);
}

}  // namespace nsm::monitor
