#include "networkservice/connect/channel_pool.h"

#include <vector>

#include "absl/algorithm/container.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"

namespace nsm::connect {

ClientConn::ClientConn(std::weak_ptr<ChannelPool> pool, api::NsmUrl url, std::string target,
                       std::shared_ptr<grpc::Channel> channel)
    : pool_(std::move(pool)),
      url_(std::move(url)),
      target_(std::move(target)),
      channel_(std::move(channel)),
      client_(channel_) {}

ClientConn::~ClientConn() = default;

struct ClientConn::ProbeState {
  absl::Notification done;
  ProbeResult result = ProbeResult::kUnknown;  // written before `done` is notified
};

ClientConn::ProbeResult ClientConn::Probe(absl::Time deadline) {
  std::shared_ptr<ProbeState> probe;
  bool mine = false;
  {
    absl::MutexLock lock(&probe_mu_);
    if (probe_ == nullptr || probe_->done.HasBeenNotified()) {
      probe_ = std::make_shared<ProbeState>();  // a finished probe says nothing about now
      mine = true;
    }
    probe = probe_;
  }
  if (!mine) {
    if (!probe->done.WaitForNotificationWithDeadline(deadline)) return ProbeResult::kUnknown;
    return probe->result;
  }
  auto pool = pool_.lock();
  probe->result = pool ? pool->ProbeTarget(target_, deadline) : ProbeResult::kUnknown;
  probe->done.Notify();
  return probe->result;
}

struct ChannelPool::Lease {
  std::weak_ptr<ChannelPool> pool;
  std::shared_ptr<ClientConn> conn;
  ~Lease() {
    if (auto p = pool.lock()) {
      DropOffFiber(p->Released(conn));  // outside the pool's lock
      DropOffFiber(std::move(p));       // at shutdown, maybe the last owner of every channel
    }
    DropOffFiber(std::move(conn));
  }
};

namespace {
bool Healthy(const ClientConn& conn) {
  const grpc_connectivity_state state = conn.channel()->GetState(/*try_to_connect=*/false);
  return state == GRPC_CHANNEL_READY || state == GRPC_CHANNEL_IDLE;
}
}  // namespace

ChannelPool::ChannelPool(std::shared_ptr<grpc::ChannelCredentials> credentials,
                         ChannelOptions options)
    : credentials_(std::move(credentials)), options_(std::move(options)) {
  if (!options_.clock) options_.clock = RealClock();
}

std::shared_ptr<ChannelPool> ChannelPool::Create(
    std::shared_ptr<grpc::ChannelCredentials> credentials, ChannelOptions options) {
  return std::shared_ptr<ChannelPool>(new ChannelPool(std::move(credentials), std::move(options)));
}

absl::StatusOr<std::shared_ptr<ClientConn>> ChannelPool::Acquire(const api::NsmUrl& url) {
  auto target = url.GrpcDialTarget();
  if (!target.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot dial ", url.ToString(), ": ", target.status().message()));
  }
  if (!credentials_) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot dial ", url.ToString(), ": no channel credentials configured"));
  }
  std::shared_ptr<ClientConn> stale;  // a lingering channel that failed meanwhile: closed unlocked
  std::shared_ptr<ClientConn> leased;
  {
    absl::MutexLock lock(&mu_);
    auto& entry = conns_[*target];
    if (entry.conn != nullptr) {
      if (!entry.lease.expired() || Healthy(*entry.conn)) return LeaseLocked(entry);
      stale = std::move(entry.conn);
    }
    auto channel = grpc::CreateCustomChannel(*target, credentials_, Arguments());
    entry.conn.reset(new ClientConn(weak_from_this(), url, *target, std::move(channel)));
    leased = LeaseLocked(entry);
  }
  DropOffFiber(std::move(stale));
  return leased;
}

std::shared_ptr<ClientConn> ChannelPool::LeaseLocked(Entry& entry) {
  auto lease = entry.lease.lock();
  if (lease == nullptr) {
    lease = std::make_shared<Lease>();
    lease->pool = weak_from_this();
    lease->conn = entry.conn;
    entry.lease = lease;
    entry.idle = false;
  }
  // Every holder shares the lease's count and sees the one ClientConn.
  return std::shared_ptr<ClientConn>(lease, lease->conn.get());
}

std::shared_ptr<ClientConn> ChannelPool::Released(const std::shared_ptr<ClientConn>& conn) {
  absl::MutexLock lock(&mu_);
  auto it = conns_.find(conn->target());
  // Replaced meanwhile, or leased again between the last holder's drop and this call.
  if (it == conns_.end() || it->second.conn != conn || !it->second.lease.expired()) return nullptr;
  if (options_.idle_linger <= absl::ZeroDuration() || !Healthy(*conn)) {
    auto closing = std::move(it->second.conn);
    conns_.erase(it);
    return closing;
  }
  it->second.idle = true;
  it->second.idle_since = options_.clock->Now();
  ArmSweepLocked();
  return nullptr;
}

void ChannelPool::ArmSweepLocked() {
  absl::Time next = absl::InfiniteFuture();
  for (const auto& [target, entry] : conns_) {
    if (entry.idle) next = std::min(next, entry.idle_since + options_.idle_linger);
  }
  if (next == sweep_at_) return;
  sweep_at_ = next;
  if (next == absl::InfiniteFuture()) {
    sweep_.reset();
    return;
  }
  sweep_ = options_.clock->At(next, [weak = weak_from_this()] {
    if (auto pool = weak.lock()) pool->Sweep();
  });
}

void ChannelPool::Sweep() {
  std::vector<std::shared_ptr<ClientConn>> closing;
  absl::MutexLock lock(&mu_);
  const absl::Time now = options_.clock->Now();
  absl::erase_if(conns_, [&](auto& kv) {
    Entry& entry = kv.second;
    if (!entry.idle || now < entry.idle_since + options_.idle_linger) return false;
    closing.push_back(std::move(entry.conn));
    return true;
  });
  sweep_.reset();  // spent (or a newer one: re-armed below either way)
  sweep_at_ = absl::InfiniteFuture();
  ArmSweepLocked();
  // `closing` is declared before the lock: the channels close after it is released.
}

grpc::ChannelArguments ChannelPool::Arguments() const {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
              static_cast<int>(absl::ToInt64Milliseconds(options_.initial_reconnect_backoff)));
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
              static_cast<int>(absl::ToInt64Milliseconds(options_.max_reconnect_backoff)));
  // A channel of its own: closing it really closes the transport (and a probe's connection attempt
  // is its own, not the shared channel's).
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  if (options_.customize) options_.customize(args);
  return args;
}

ClientConn::ProbeResult ChannelPool::ProbeTarget(const std::string& target,
                                                 absl::Time deadline) const {
  auto channel = grpc::CreateCustomChannel(target, credentials_, Arguments());
  grpc_connectivity_state state = channel->GetState(/*try_to_connect=*/true);
  // A new channel reaches TRANSIENT_FAILURE only through a failed attempt: no sticky state yet.
  while (state != GRPC_CHANNEL_READY) {
    if (state == GRPC_CHANNEL_TRANSIENT_FAILURE || state == GRPC_CHANNEL_SHUTDOWN) {
      return ClientConn::ProbeResult::kFailed;
    }
    if (!channel->WaitForStateChange(state, absl::ToChronoTime(deadline))) {
      return ClientConn::ProbeResult::kUnknown;
    }
    state = channel->GetState(/*try_to_connect=*/true);
  }
  return ClientConn::ProbeResult::kConnected;
}

size_t ChannelPool::size() const {
  absl::MutexLock lock(&mu_);
  return conns_.size();
}

size_t ChannelPool::in_use() const {
  absl::MutexLock lock(&mu_);
  return absl::c_count_if(conns_, [](const auto& kv) { return !kv.second.idle; });
}

}  // namespace nsm::connect
