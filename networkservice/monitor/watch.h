// monitor watch: one MonitorConnections stream to the next hop per connection, read by a callback
// reactor; events are mapped to this hop's view and republished (nsmgr.md §4.4, §13.6).
#pragma once

#include <atomic>
#include <memory>

#include "absl/synchronization/mutex.h"
#include "connection.grpc.pb.h"
#include "core/typed_key.h"
#include "grpcpp/grpcpp.h"
#include "networkservice/connect/channel_pool.h"
#include "networkservice/monitor/filter.h"
#include "networkservice/monitor/store.h"

namespace nsm::monitor {

// Counts and cancels the watches of one monitor client.
class WatchSet;

class Watch : public grpc::ClientReadReactor<ConnectionEvent>,
              public std::enable_shared_from_this<Watch> {
 public:
  // Opens the stream with selector [{name, id} of base's current segment]. Events for the
  // connection go to `store` as UPDATEs of connections it holds; when the stream ends without
  // having been cancelled, `base` is published with state DOWN (unless the next hop does not
  // implement MonitorConnection: UNIMPLEMENTED leaves the connection unmonitored).
  static std::shared_ptr<Watch> Start(std::shared_ptr<connect::ClientConn> conn, Connection base,
                                      std::shared_ptr<ConnectionStore> store,
                                      std::shared_ptr<WatchSet> set);
  ~Watch() override;

  // Stops the stream. Synchronous for publication: nothing is published after it returns.
  void Cancel();
  // Whether this watch can keep serving `conn` (a refresh): same channel, same segment, not ended.
  bool Serves(const connect::ClientConn* cc, const Connection& conn) const;
  // The Request result for the connection: becomes the base, and is published (with state DOWN if
  // the stream already broke, so a break between next and publication is never lost).
  void PublishResult(const Connection& conn, bool create);
  bool ended() const;

  void OnReadDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

 private:
  Watch(std::shared_ptr<connect::ClientConn> conn, Connection base,
        std::shared_ptr<ConnectionStore> store, std::shared_ptr<WatchSet> set);

  std::shared_ptr<connect::ClientConn> conn_;
  std::unique_ptr<::connection::MonitorConnection::Stub> stub_;
  std::shared_ptr<ConnectionStore> store_;
  std::shared_ptr<WatchSet> set_;
  grpc::ClientContext context_;
  MonitorScopeSelector selector_;
  ConnectionEvent event_;
  std::shared_ptr<Watch> self_;  // keeps the reactor alive until OnDone

  mutable absl::Mutex mu_;
  ConnectionFilter filter_ ABSL_GUARDED_BY(mu_);
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

class WatchSet {
 public:
  size_t open() const;
  // Cancels every open watch and waits (real time, bounded) until their streams are done.
  bool CancelAll(absl::Duration timeout);

 private:
  friend class Watch;
  void Add(Watch* w);
  void Remove(Watch* w);
  mutable absl::Mutex mu_;
  absl::flat_hash_set<Watch*> watches_ ABSL_GUARDED_BY(mu_);
};

// What a connection's client metadata holds: cancels the watch when dropped, so a watch never
// outlives its connection's metadata.
struct WatchHandle {
  explicit WatchHandle(std::shared_ptr<Watch> w) : watch(std::move(w)) {}
  ~WatchHandle() {
    if (watch) watch->Cancel();
  }
  WatchHandle(const WatchHandle&) = delete;
  WatchHandle& operator=(const WatchHandle&) = delete;
  std::shared_ptr<Watch> watch;
};

inline const TypedKey<WatchHandle> kWatchKey{"monitor.watch"};

}  // namespace nsm::monitor
