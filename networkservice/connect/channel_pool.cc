#include "networkservice/connect/channel_pool.h"

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

ClientConn::~ClientConn() {
  if (auto pool = pool_.lock()) pool->Forget(target_, this);
}

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
  absl::MutexLock lock(&mu_);
  auto& slot = conns_[*target];
  if (auto existing = slot.lock()) return existing;
  auto channel = grpc::CreateCustomChannel(*target, credentials_, Arguments());
  std::shared_ptr<ClientConn> conn(
      new ClientConn(weak_from_this(), url, *target, std::move(channel)));
  slot = conn;
  return conn;
}

grpc::ChannelArguments ChannelPool::Arguments() const {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
              static_cast<int>(absl::ToInt64Milliseconds(options_.initial_reconnect_backoff)));
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
              static_cast<int>(absl::ToInt64Milliseconds(options_.max_reconnect_backoff)));
  // A channel of its own: dropping the last holder really closes the transport (and a probe's
  // connection attempt is its own, not the shared channel's).
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

void ChannelPool::Forget(const std::string& target, const ClientConn* conn) {
  absl::MutexLock lock(&mu_);
  auto it = conns_.find(target);
  if (it == conns_.end()) return;
  // A newer connection may already sit in the slot (created after this one's count hit zero).
  auto current = it->second.lock();
  if (!current || current.get() == conn) conns_.erase(it);
}

size_t ChannelPool::size() const {
  absl::MutexLock lock(&mu_);
  return conns_.size();
}

}  // namespace nsm::connect
