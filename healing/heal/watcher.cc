#include "healing/heal/watcher.h"

#include <atomic>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "api/path.h"
#include "connection.grpc.pb.h"
#include "core/executor.h"
#include "core/grpc_transport.h"
#include "grpcpp/grpcpp.h"
#include "networkservice/connect/channel_pool.h"
#include "networkservice/metadata/metadata.h"
#include "networkservice/monitor/filter.h"

namespace nsm::healing::heal {
namespace {

using ::connection::ConnectionEvent;
using ::connection::MonitorScopeSelector;

using Counter = std::atomic<size_t>;

MonitorScopeSelector SelectorFor(const Connection& conn) {
  MonitorScopeSelector selector;
  auto* seg = selector.add_path_segments();
  if (const auto* own = api::CurrentSegment(conn)) {
    seg->set_name(own->name());
    seg->set_id(own->id());
  } else {
    seg->set_id(conn.id());
  }
  return selector;
}

bool SameSegment(const MonitorScopeSelector& selector, const Connection& conn) {
  const auto& want = selector.path_segments(0);
  const auto* seg = api::CurrentSegment(conn);
  return seg != nullptr ? seg->name() == want.name() && seg->id() == want.id()
                        : conn.id() == want.id();
}

// The next hop's event as heal events for this hop's connection (only changes are reported). The
// first event of a stream (the initial state) without the connection says that the next hop does
// not hold it (it restarted after it answered, before the watch began): heal as for a DELETE, or
// the connection would stay unwatched until its refresh.
std::vector<WatchEvent> Classify(const ConnectionEvent& event, monitor::ConnectionFilter& filter) {
  std::vector<WatchEvent> out;
  if (event.type() == ::connection::ConnectionEventType::INITIAL_STATE_TRANSFER &&
      filter.Ours(event) == nullptr) {
    WatchEvent gone;
    gone.kind = WatchEvent::Kind::kDeleted;
    gone.conn = filter.base();
    gone.status = absl::UnavailableError(
        "the next hop does not hold the connection (not in its monitor stream's initial state)");
    out.push_back(std::move(gone));
    return out;
  }
  for (Connection& c : filter.Apply(event)) {
    WatchEvent w;
    if (event.type() == ::connection::ConnectionEventType::DELETE) {
      w.kind = WatchEvent::Kind::kDeleted;
    } else {
      switch (c.state()) {
        case ::connection::State::DOWN:
          w.kind = WatchEvent::Kind::kDown;
          break;
        case ::connection::State::REFRESH_REQUESTED:
          w.kind = WatchEvent::Kind::kRefreshRequested;
          break;
        default:  // UP, or our own RESELECT_REQUESTED echoed back
          w.kind = WatchEvent::Kind::kUp;
          break;
      }
    }
    w.conn = std::move(c);
    out.push_back(std::move(w));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// gRPC: one MonitorConnections stream per connection, read by a callback reactor.

class GrpcWatch : public Watch,
                  public grpc::ClientReadReactor<ConnectionEvent>,
                  public std::enable_shared_from_this<GrpcWatch> {
 public:
  static std::shared_ptr<GrpcWatch> Start(std::shared_ptr<connect::ClientConn> cc, Connection base,
                                          WatchSink sink, std::shared_ptr<Counter> open) {
    std::shared_ptr<GrpcWatch> w(
        new GrpcWatch(std::move(cc), std::move(base), std::move(sink), std::move(open)));
    w->self_ = w;
    w->open_->fetch_add(1);
    w->stub_->async()->MonitorConnections(&w->context_, &w->selector_, w.get());
    w->StartRead(&w->event_);
    w->StartCall();
    return w;
  }

  void Cancel() override {
    {
      absl::MutexLock lock(&mu_);
      if (cancelled_) return;
      cancelled_ = true;
      sink_ = nullptr;
      if (done_) return;
    }
    context_.TryCancel();
  }

  bool active() const override {
    absl::MutexLock lock(&mu_);
    return !cancelled_ && !done_;
  }

  bool Rebase(const Context& ctx, const Connection& conn) override {
    auto md = metadata::FromContext(ctx);
    auto cc = md ? md->client.Load(connect::kClientConnKey) : nullptr;
    absl::MutexLock lock(&mu_);
    if (cancelled_ || done_ || cc.get() != cc_.get() || !SameSegment(selector_, conn)) return false;
    filter_.Rebase(conn);
    return true;
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // the stream ended: OnDone follows
    {
      absl::MutexLock lock(&mu_);
      if (!cancelled_) {
        for (const WatchEvent& e : Classify(event_, filter_)) sink_(e);
      }
    }
    StartRead(&event_);
  }

  void OnDone(const grpc::Status& status) override {
    {
      absl::MutexLock lock(&mu_);
      done_ = true;
      if (!cancelled_ && status.error_code() != grpc::StatusCode::UNIMPLEMENTED) {
        WatchEvent lost;
        lost.kind = WatchEvent::Kind::kLost;
        lost.conn = filter_.base();
        lost.status = FromGrpcStatus(status);
        if (lost.status.ok()) lost.status = absl::UnavailableError("monitor stream ended");
        sink_(lost);
      }
      sink_ = nullptr;
    }
    open_->fetch_sub(1);
    // The last reference may own the channel; gRPC 1.51 must not destroy a channel on one of its
    // own callback threads, so it is dropped on a pool thread. Nothing touches *this after this.
    DefaultThreadPool()->Post([keep = std::move(self_)] {});
  }

 private:
  GrpcWatch(std::shared_ptr<connect::ClientConn> cc, Connection base, WatchSink sink,
            std::shared_ptr<Counter> open)
      : cc_(std::move(cc)),
        stub_(::connection::MonitorConnection::NewStub(cc_->channel())),
        open_(std::move(open)),
        selector_(SelectorFor(base)),
        filter_(std::move(base)),
        sink_(std::move(sink)) {}

  std::shared_ptr<connect::ClientConn> cc_;
  std::unique_ptr<::connection::MonitorConnection::Stub> stub_;
  std::shared_ptr<Counter> open_;
  grpc::ClientContext context_;
  const MonitorScopeSelector selector_;
  ConnectionEvent event_;
  std::shared_ptr<GrpcWatch> self_;  // keeps the reactor alive until OnDone

  mutable absl::Mutex mu_;
  monitor::ConnectionFilter filter_ ABSL_GUARDED_BY(mu_);
  WatchSink sink_ ABSL_GUARDED_BY(mu_);
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

class GrpcWatcher : public Watcher {
 public:
  std::shared_ptr<Watch> Start(const Context& ctx, const Connection& conn,
                               WatchSink sink) override {
    auto md = metadata::FromContext(ctx);
    auto cc = md ? md->client.Load(connect::kClientConnKey) : nullptr;
    if (cc == nullptr) return nullptr;  // not dialled here (in-process next hop, or no dial)
    return GrpcWatch::Start(std::move(cc), conn, std::move(sink), open_);
  }
  size_t open() const override { return open_->load(); }

 private:
  std::shared_ptr<Counter> open_ = std::make_shared<Counter>(0);
};

// ---------------------------------------------------------------------------------------------
// In-process: a subscription to the next hop's store, drained on the publisher's thread.

class StoreWatch : public Watch, public std::enable_shared_from_this<StoreWatch> {
 public:
  static std::shared_ptr<StoreWatch> Start(const std::shared_ptr<monitor::ConnectionStore>& store,
                                           Connection base, WatchSink sink,
                                           std::shared_ptr<Counter> open) {
    std::shared_ptr<StoreWatch> w(new StoreWatch(std::move(base), std::move(sink), open));
    open->fetch_add(1);
    auto sub = store->Subscribe(w->selector_, [weak = std::weak_ptr<StoreWatch>(w)] {
      if (auto self = weak.lock()) self->Drain();
    });
    {
      absl::MutexLock lock(&w->mu_);
      w->sub_ = std::move(sub);
    }
    w->Drain();  // the initial state transfer was queued without a wake-up
    return w;
  }

  void Cancel() override {
    std::shared_ptr<monitor::Subscription> sub;
    bool was_open;
    {
      absl::MutexLock lock(&mu_);
      if (cancelled_) return;
      cancelled_ = true;
      was_open = !ended_;
      sub = std::move(sub_);
      sink_ = nullptr;
    }
    if (sub) sub->Cancel();
    if (was_open) open_->fetch_sub(1);
  }

  bool active() const override {
    absl::MutexLock lock(&mu_);
    return !cancelled_ && !ended_;
  }

  bool Rebase(const Context&, const Connection& conn) override {
    absl::MutexLock lock(&mu_);
    if (cancelled_ || ended_ || !SameSegment(selector_, conn)) return false;
    filter_.Rebase(conn);
    return true;
  }

  ~StoreWatch() override { Cancel(); }

 private:
  StoreWatch(Connection base, WatchSink sink, std::shared_ptr<Counter> open)
      : open_(std::move(open)),
        selector_(SelectorFor(base)),
        filter_(std::move(base)),
        sink_(std::move(sink)) {}

  void Drain() {
    absl::MutexLock lock(&mu_);
    if (cancelled_ || ended_ || sub_ == nullptr) return;
    while (auto event = sub_->Pop()) {
      for (const WatchEvent& e : Classify(*event, filter_)) sink_(e);
    }
    if (sub_->ended()) {
      ended_ = true;
      WatchEvent lost;
      lost.kind = WatchEvent::Kind::kLost;
      lost.conn = filter_.base();
      lost.status = sub_->status();
      if (lost.status.ok()) lost.status = absl::UnavailableError("monitor subscription ended");
      sink_(lost);
      open_->fetch_sub(1);
    }
  }

  std::shared_ptr<Counter> open_;
  const MonitorScopeSelector selector_;
  mutable absl::Mutex mu_;
  std::shared_ptr<monitor::Subscription> sub_ ABSL_GUARDED_BY(mu_);
  monitor::ConnectionFilter filter_ ABSL_GUARDED_BY(mu_);
  WatchSink sink_ ABSL_GUARDED_BY(mu_);
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
};

class StoreWatcher : public Watcher {
 public:
  explicit StoreWatcher(std::shared_ptr<monitor::ConnectionStore> store)
      : store_(std::move(store)) {}
  std::shared_ptr<Watch> Start(const Context&, const Connection& conn, WatchSink sink) override {
    return StoreWatch::Start(store_, conn, std::move(sink), open_);
  }
  size_t open() const override { return open_->load(); }

 private:
  std::shared_ptr<monitor::ConnectionStore> store_;
  std::shared_ptr<Counter> open_ = std::make_shared<Counter>(0);
};

}  // namespace

std::shared_ptr<Watcher> NewGrpcWatcher() { return std::make_shared<GrpcWatcher>(); }

std::shared_ptr<Watcher> NewStoreWatcher(std::shared_ptr<monitor::ConnectionStore> store) {
  return std::make_shared<StoreWatcher>(std::move(store));
}

}  // namespace nsm::healing::heal
