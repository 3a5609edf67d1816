// monitor watch: one shared MonitorConnections stream per dialled next hop, routing its events by
// connection id to per-connection filters, with bad news confirmed per connection (nsmgr.md §4.4).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "connection.grpc.pb.h"
#include "core/clock.h"
#include "core/typed_key.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "networkservice/connect/channel_pool.h"
#include "networkservice/monitor/filter.h"
#include "networkservice/monitor/store.h"
#include "networkservice/monitor/wire.h"

namespace nsm::monitor {

// How it works (the choice is explained in healing/README.md "Choices"):
// * Every connection watched over the same dialled channel (connect::ClientConn) by the same hop
//   (own segment name) is a Watch registered on one Channel. The Channel opens one shared stream
//   with selector [{name: own segment name}] (no id: every connection whose path has our segment
//   name, at v1.1.1 and v1.11+ peers alike) when its first Watch registers. When its last Watch
//   is gone the stream lingers (WatchOptions::stream_linger) and the next Watch over the channel
//   reuses it; then it is cancelled. A hop whose connections come and go (a client that closes
//   and requests again) would otherwise open and cancel a stream on both hops for many of its
//   connections (docs/PERFORMANCE.md, thirteenth session). While it lingers the stream holds the
//   channel, so the channel pool's own linger starts after it; a dead next hop ends the stream
//   and so releases the channel. Events are routed by the id of our segment in each
//   connection's path.
// * Good news (UPDATE, INITIAL_STATE_TRANSFER with a state other than DOWN) goes through the
//   Watch's ConnectionFilter into the hop's store at once.
// * Bad news (DELETE, or state DOWN) may be stale: a reselect's Close and the following Request to
//   the same next hop can be answered before the DELETE of that Close arrives on the shared
//   stream. So it is only a hint: the Watch opens a short confirmation stream with selector
//   [{name, id}], whose INITIAL_STATE_TRANSFER is taken after the hint was sent and is
//   authoritative; DOWN is published only when the connection is absent or DOWN there (or the
//   confirmation cannot be had). Bad news arriving during a confirmation asks for another one.
//   Bad news for ids not registered (yet) is remembered briefly per Channel, so a real DOWN that
//   overtakes the Request reply is confirmed when the connection registers.
// * The shared stream ending without our cancel publishes every registered connection DOWN
//   (UNIMPLEMENTED: left unmonitored). A next hop that refuses the shared selector before sending
//   anything (INVALID_ARGUMENT, PERMISSION_DENIED, UNAUTHENTICATED: a peer authorizing per
//   connection) gets one stream per connection from then on (fallback, as before the change).
// Streams are callback reactors (no thread each); every object is reached through weak references;
// a stream's channel reference is dropped on a pool thread.

class WatchSet;
class Channel;

struct WatchOptions {
  // How long a shared stream stays open after its last connection is gone, for the next
  // connection over the same channel. It keeps the channel in use (the channel pool's own linger
  // starts after it). Zero: cancelled with the last connection.
  absl::Duration stream_linger = absl::Seconds(30);
  // The clock of the linger (nullptr: the real clock).
  std::shared_ptr<Clock> clock = nullptr;
};

// Receives what one stream reads.
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  virtual void OnStreamEvent(const void* stream, const EventWire& event) = 0;
  // `got_message`: the stream delivered at least one event before it ended.
  virtual void OnStreamDone(const void* stream, const grpc::Status& status, bool got_message) = 0;
};

// One MonitorConnections stream to a next hop, read by a callback reactor. Events are read raw and
// handed on as views (EventWire): most of a next hop's events change nothing here, and are
// recognized as such without being parsed. The call is made through the generic stub as a
// bidirectional one that writes its only request and half-closes, which on the wire is the
// server-streaming call itself. An event whose structure (type, entries, each connection's path)
// does not parse ends the stream (INTERNAL); what a view does not read is checked where the
// connection is parsed (ConnectionFilter::Map, and the confirmation and fallback streams, which
// parse their events whole).
class MonitorStream : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>,
                      public std::enable_shared_from_this<MonitorStream> {
 public:
  // Null when the set has been closed (the monitor client is going away).
  static std::shared_ptr<MonitorStream> Start(std::shared_ptr<connect::ClientConn> conn,
                                              MonitorScopeSelector selector,
                                              std::weak_ptr<StreamSink> sink,
                                              std::shared_ptr<WatchSet> set);
  ~MonitorStream() override;
  // Stops the stream; the sink hears nothing more from it.
  void Cancel();

  void OnReadDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

 private:
  MonitorStream(std::shared_ptr<connect::ClientConn> conn, MonitorScopeSelector selector,
                std::weak_ptr<StreamSink> sink, std::shared_ptr<WatchSet> set);

  std::shared_ptr<connect::ClientConn> conn_;
  grpc::GenericStub stub_;
  std::weak_ptr<StreamSink> sink_;
  std::shared_ptr<WatchSet> set_;
  grpc::ClientContext context_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer read_;
  // Reactor callbacks are serialized: these need no lock.
  bool got_message_ = false;
  grpc::Status bad_event_;  // not OK: an event did not parse, and the stream was cancelled
  std::shared_ptr<MonitorStream> self_;  // keeps the reactor alive until OnDone

  absl::Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

// One connection watched at the next hop.
class Watch : public StreamSink, public std::enable_shared_from_this<Watch> {
 public:
  // Registers `base` (this hop's view of a connection just returned by the next hop) on the
  // shared stream of (conn, own segment name), opening it if needed. Changes go to `store` as
  // UPDATEs of connections it holds.
  static std::shared_ptr<Watch> Start(std::shared_ptr<connect::ClientConn> conn,
                                      const Connection& base,
                                      std::shared_ptr<ConnectionStore> store,
                                      std::shared_ptr<WatchSet> set);
  ~Watch() override;

  // Unregisters. Synchronous for publication: nothing is published after it returns.
  void Cancel();
  // Whether this watch can keep serving `conn` (a refresh): same channel, same segment, not ended.
  bool Serves(const connect::ClientConn* cc, const Connection& conn) const;
  // A refresh through the next hop succeeded (called before PublishResult): what was learned
  // before it is superseded by its reply.
  void Replied();
  // The Request result for the connection: becomes the base, and is published (with state DOWN if
  // the stream already broke or the next hop's DOWN was learned since the reply, so a DOWN between
  // next and publication — when the store may not hold the connection yet — is never lost).
  void PublishResult(const Connection& conn, bool create);
  bool ended() const;

  // From the Channel: a connection `x` of the shared stream's event of `type` that has our
  // segment's id; the shared stream ended (UNIMPLEMENTED: unmonitored, otherwise DOWN); the next
  // hop refused the shared selector.
  void OnShared(::connection::ConnectionEventType type, const ConnectionWire& x);
  void OnSharedEnded(bool unimplemented);
  // From the Channel at registration: bad news about this id arrived before we registered.
  void Confirm();
  // A stream of its own (no segment to share a stream by, or the next hop refused sharing).
  void StartDedicated();

  void OnStreamEvent(const void* stream, const EventWire& event) override;
  void OnStreamDone(const void* stream, const grpc::Status& status, bool got_message) override;

  const std::string& segment_id() const { return selector_.path_segments(0).id(); }

 private:
  friend class WatchSet;
  Watch(std::shared_ptr<connect::ClientConn> conn, const Connection& base,
        std::shared_ptr<ConnectionStore> store, std::shared_ptr<WatchSet> set);
  void StartConfirmLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void StartDedicatedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Publishes what `event` changes in this connection (ConnectionFilter::Apply, one by one).
  void ApplyLocked(const ConnectionEvent& event) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PublishLocked(ConnectionFilter::Mapped changed) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Publishes the base with state DOWN (no-op when it is DOWN already).
  void PublishDownLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::shared_ptr<connect::ClientConn> conn_;
  const std::shared_ptr<ConnectionStore> store_;
  const std::shared_ptr<WatchSet> set_;
  MonitorScopeSelector selector_;  // [{own name, own id}]; set before the watch is shared

  mutable absl::Mutex mu_;
  std::weak_ptr<Channel> channel_ ABSL_GUARDED_BY(mu_);
  ConnectionFilter filter_ ABSL_GUARDED_BY(mu_);
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;   // no longer monitored (stream ended)
  bool broken_ ABSL_GUARDED_BY(mu_) = false;  // ended by a break: published DOWN
  bool down_ ABSL_GUARDED_BY(mu_) = false;    // the next hop's DOWN, learned since the reply
  std::shared_ptr<MonitorStream> confirm_ ABSL_GUARDED_BY(mu_);
  bool recheck_ ABSL_GUARDED_BY(mu_) = false;  // bad news during the confirmation
  std::shared_ptr<MonitorStream> dedicated_ ABSL_GUARDED_BY(mu_);  // fallback stream
};

// The watches of one hop over one dialled channel, and their shared stream.
class Channel : public StreamSink, public std::enable_shared_from_this<Channel> {
 public:
  Channel(std::shared_ptr<connect::ClientConn> conn, std::string name, std::weak_ptr<WatchSet> set,
          std::shared_ptr<Clock> clock, absl::Duration linger)
      : conn_(std::move(conn)),
        name_(std::move(name)),
        set_(std::move(set)),
        clock_(std::move(clock)),
        linger_(linger) {}

  // Under the set's channel lock. False when the channel is already closing (use a new one).
  // Sets `confirm` when bad news about the watch's id came before it registered, `dedicated` when
  // the next hop refused the shared selector (the watch needs a stream of its own).
  bool Add(const std::shared_ptr<Watch>& w, bool& confirm, bool& dedicated);
  // Unregisters `w` if it is still the watch of its id; after the last one the shared stream
  // lingers, then closes.
  void Remove(const Watch* w);

  void OnStreamEvent(const void* stream, const EventWire& event) override;
  void OnStreamDone(const void* stream, const grpc::Status& status, bool got_message) override;

  const connect::ClientConn* conn() const { return conn_.get(); }
  const std::string& name() const { return name_; }
  // The set is closing: cancels the shared stream and its linger at once. The stream refers to
  // the set, which holds the channel, so a lingering one would otherwise keep all three alive.
  void Shutdown();

 private:
  // Bad news for unregistered ids kept per channel (the most recent ones).
  static constexpr size_t kRecentBadNews = 256;
  void ArmLingerLocked(absl::Duration after) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The linger timer fired (on a pool thread): closes the channel if it has been idle long enough.
  void LingerOver();
  // Cancels the shared stream and leaves the set (the channel is closing_).
  void Close(std::shared_ptr<MonitorStream> shared);

  const std::shared_ptr<connect::ClientConn> conn_;
  const std::string name_;
  const std::weak_ptr<WatchSet> set_;  // the set holds the channel
  const std::shared_ptr<Clock> clock_;
  const absl::Duration linger_;

  absl::Mutex mu_;
  // By the id of our segment; the raw pointer only identifies (Remove of a replaced watch).
  absl::flat_hash_map<std::string, std::pair<const Watch*, std::weak_ptr<Watch>>> watches_
      ABSL_GUARDED_BY(mu_);
  std::shared_ptr<MonitorStream> shared_ ABSL_GUARDED_BY(mu_);
  bool fallback_ ABSL_GUARDED_BY(mu_) = false;  // the next hop refused the shared selector
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time idle_since_ ABSL_GUARDED_BY(mu_);  // when the last watch left (watches_ empty)
  std::unique_ptr<Timer> linger_timer_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> recent_bad_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::string> recent_bad_set_ ABSL_GUARDED_BY(mu_);
};

// The channels and streams of one monitor client.
class WatchSet : public std::enable_shared_from_this<WatchSet> {
 public:
  explicit WatchSet(WatchOptions options = {});
  // Streams open to next hops (shared, confirmation and fallback streams).
  size_t open() const;
  // Streams started since the set was made.
  uint64_t started() const;
  // Channels with at least one watch or a lingering shared stream.
  size_t channels() const;
  // Cancels every open stream, ends the channels (and their lingers), refuses new streams, and
  // waits (real time, bounded) until the streams are done.
  bool CancelAll(absl::Duration timeout);

 private:
  friend class MonitorStream;
  friend class Watch;
  friend class Channel;
  bool Add(MonitorStream* s, std::weak_ptr<MonitorStream> weak);
  void Remove(MonitorStream* s);
  // Registers `w` on the channel for (conn, name), created when needed.
  void Register(const std::shared_ptr<connect::ClientConn>& conn, const std::string& name,
                const std::shared_ptr<Watch>& w);
  void Forget(const Channel* c);

  const WatchOptions options_;
  mutable absl::Mutex streams_mu_;
  bool closed_ ABSL_GUARDED_BY(streams_mu_) = false;
  uint64_t started_ ABSL_GUARDED_BY(streams_mu_) = 0;
  absl::flat_hash_map<MonitorStream*, std::weak_ptr<MonitorStream>> streams_
      ABSL_GUARDED_BY(streams_mu_);

  // Lock order: channels_mu_, then a Channel's mu_, then streams_mu_.
  mutable absl::Mutex channels_mu_;
  absl::flat_hash_map<std::pair<const connect::ClientConn*, std::string>, std::shared_ptr<Channel>>
      channels_ ABSL_GUARDED_BY(channels_mu_);
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
