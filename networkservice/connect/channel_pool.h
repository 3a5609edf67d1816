// Channel pool: one shared gRPC channel per next-hop target, reference-counted, kept a while after
// its last user so the next connection to the same hop reuses it (nsmgr.md §4.9, DESIGN.md §7).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "api/nsm_url.h"
#include "core/clock.h"
#include "core/grpc_transport.h"
#include "core/typed_key.h"
#include "grpcpp/grpcpp.h"

namespace nsm::connect {

class ChannelPool;

// A dialled next hop: the channel and the NetworkService client over it. Shared by every NSM
// connection to the same target; the pool keeps it `ChannelOptions::idle_linger` after the last
// holder lets go, then closes it.
class ClientConn {
 public:
  ~ClientConn();
  ClientConn(const ClientConn&) = delete;
  ClientConn& operator=(const ClientConn&) = delete;

  const api::NsmUrl& url() const { return url_; }  // the URL it was first dialled for
  const std::string& target() const { return target_; }
  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }
  NetworkServiceGrpcClient& network_service() { return client_; }

  // Whether a fresh connection to the target succeeds now, tried on a short-lived channel of its
  // own. A failed shared channel stays in TRANSIENT_FAILURE while gRPC tries again, so its state
  // cannot tell a refused retry from one still under way; a fresh channel's can (CONNECTING, then
  // READY or TRANSIENT_FAILURE). Concurrent callers share one probe. kUnknown: no answer by
  // `deadline` (a peer that neither accepts nor refuses), or the pool is gone.
  enum class ProbeResult { kConnected, kFailed, kUnknown };
  ProbeResult Probe(absl::Time deadline);

 private:
  friend class ChannelPool;
  struct ProbeState;
  ClientConn(std::weak_ptr<ChannelPool> pool, api::NsmUrl url, std::string target,
             std::shared_ptr<grpc::Channel> channel);

  std::weak_ptr<ChannelPool> pool_;
  api::NsmUrl url_;
  std::string target_;
  std::shared_ptr<grpc::Channel> channel_;
  NetworkServiceGrpcClient client_;
  absl::Mutex probe_mu_;
  std::shared_ptr<ProbeState> probe_ ABSL_GUARDED_BY(probe_mu_);  // the latest probe
};

// Dial sets this in the context for the rest of the chain and keeps it in the connection's client
// metadata, so refresh and Close reuse the same channel.
inline const TypedKey<ClientConn> kClientConnKey{"connect.clientconn"};

inline std::shared_ptr<ClientConn> ClientConnFromContext(const Context& ctx) {
  return ctx.Value(kClientConnKey);
}

struct ChannelOptions {
  // gRPC reconnect backoff (jittered by gRPC): first retry after `initial_reconnect_backoff`,
  // growing to at most `max_reconnect_backoff`.
  absl::Duration initial_reconnect_backoff = absl::Milliseconds(200);
  absl::Duration max_reconnect_backoff = absl::Seconds(5);
  // Extra channel arguments (keepalive, message sizes, ...).
  std::function<void(grpc::ChannelArguments&)> customize = {};
  // How long a healthy channel (READY or IDLE) stays open after its last holder let go, so a client
  // that closes and requests again, or a hop whose connections come and go, does not set up a new
  // transport (socket, HTTP/2 handshake, the peer's accept) each time. A channel that is failing
  // or connecting when released closes at once, so the next dial starts fresh. Zero: close at once.
  absl::Duration idle_linger = absl::Seconds(60);
  // The clock of the linger (nullptr: the real clock).
  std::shared_ptr<Clock> clock = {};
};

class ChannelPool : public std::enable_shared_from_this<ChannelPool> {
 public:
  // `credentials` is required: choose grpc::InsecureChannelCredentials() explicitly for plaintext.
  static std::shared_ptr<ChannelPool> Create(std::shared_ptr<grpc::ChannelCredentials> credentials,
                                             ChannelOptions options = {});

  // The shared connection for `url`'s target: the one in use or lingering, else a new one (also
  // when the lingering one has failed since). InvalidArgument for URLs that cannot be dialled
  // (inode://, tcp without host); FailedPrecondition without credentials.
  absl::StatusOr<std::shared_ptr<ClientConn>> Acquire(const api::NsmUrl& url);

  // Targets with an open channel, in use or lingering.
  size_t size() const;
  // Targets whose channel someone holds.
  size_t in_use() const;

 private:
  friend class ClientConn;
  // What Acquire hands out shares one Lease per channel in use: its end starts the linger.
  struct Lease;
  struct Entry {
    std::shared_ptr<ClientConn> conn;
    std::weak_ptr<Lease> lease;
    bool idle = false;  // lingering since `idle_since`: released and not leased again
    absl::Time idle_since;
  };
  grpc::ChannelArguments Arguments() const;
  // One connection attempt on a new channel of its own (ClientConn::Probe).
  ClientConn::ProbeResult ProbeTarget(const std::string& target, absl::Time deadline) const;
  ChannelPool(std::shared_ptr<grpc::ChannelCredentials> credentials, ChannelOptions options);
  std::shared_ptr<ClientConn> LeaseLocked(Entry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The last holder of `conn` let go: linger, or close at once (returned, to drop unlocked).
  std::shared_ptr<ClientConn> Released(const std::shared_ptr<ClientConn>& conn);
  // Closes the channels whose linger is over and arms the timer for the next one.
  void Sweep();
  void ArmSweepLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::shared_ptr<grpc::ChannelCredentials> credentials_;
  ChannelOptions options_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> conns_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<Timer> sweep_ ABSL_GUARDED_BY(mu_);
  absl::Time sweep_at_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
};

}  // namespace nsm::connect
